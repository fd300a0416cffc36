""".ci/resolve-packages: the package lists of .ci/packages.d as each distribution names them.

`apt-get install libapache2-mod-php8.2-` fails where that package does not exist (Ubuntu
24.04 ships PHP 8.3), and Ubuntu 24.04 renamed libssl3 to libssl3t64. The lists now say
`libapache2-mod-php*-` and `libssl3|libssl3t64`, and .ci/run resolves them with apt-cache.
Ubuntu cannot run here: the name sets below stand for each distribution's `apt-cache
pkgnames` (the Ubuntu one from the noble archive's names as known when this was written:
libssl3t64, libapache2-mod-php8.3; the rest as in Debian).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RESOLVE = ROOT / ".ci" / "resolve-packages"
COMMON = [
    "apache2", "pebble", "certbot", "openssh-server", "openssl", "ufw", "iptables", "iproute2",
    "curl", "ca-certificates", "procps", "util-linux", "php-cli", "docker.io", "python3-venv",
    "mariadb-server", "mariadb-client", "php-fpm", "php-mysql", "php", "wordpress",
    "wordpress-theme-twentytwentyone", "restic", "systemd", "logrotate", "ssh-audit", "passwd",
    "strace", "libapache2-mod-php", "libapache2-mod-php-dummy-lookalike-not",
    # the e2e test box (.ci/packages.d/e2e-box.txt): same names on both
    "containerd", "runc", "debootstrap", "openssh-client", "python3"]
NAMES = {
    "debian12": [*COMMON, "libssl3", "libapache2-mod-php8.2", "php8.2-fpm"],
    "ubuntu2404": [*COMMON, "libssl3t64", "libapache2-mod-php8.3", "php8.3-fpm"],
}


def words() -> str:
    """What .ci/run feeds the resolver: every word of .ci/packages.d/*.txt."""
    found: set[str] = set()
    for path in sorted((ROOT / ".ci" / "packages.d").glob("*.txt")):
        for line in path.read_text().splitlines():
            found.update(line.split("#", 1)[0].split())
    return "\n".join(sorted(found)) + "\n"


def resolve(names: list[str], tmp_path: Path, stdin: str) -> subprocess.CompletedProcess[str]:
    fake = tmp_path / "apt-cache"
    fake.write_text("#!/bin/sh\n[ \"$1\" = pkgnames ] || exit 2\nprintf '%s\\n' "
                    + " ".join(f"'{n}'" for n in names) + "\n")
    fake.chmod(0o755)
    return subprocess.run(["bash", str(RESOLVE)], input=stdin, capture_output=True, text=True,
                          env={**os.environ, "APT_CACHE": str(fake)}, timeout=30, check=False)


@pytest.mark.parametrize("distro", sorted(NAMES))
def test_every_list_resolves_on_debian_12_and_ubuntu_24_04(distro: str, tmp_path: Path) -> None:
    done = resolve(NAMES[distro], tmp_path, words())
    assert done.returncode == 0, done.stderr
    args = done.stdout.split()
    php = "8.2" if distro == "debian12" else "8.3"
    assert f"libapache2-mod-php{php}-" in args and "libapache2-mod-php-" in args
    assert ("libssl3" if distro == "debian12" else "libssl3t64") in args
    other = "8.3" if distro == "debian12" else "8.2"
    assert f"libapache2-mod-php{other}-" not in args  # the bug: a name apt does not know
    assert not any(a.startswith("php") and a.endswith("-") for a in args)  # prefix match only
    assert "libapache2-mod-php-dummy-lookalike-not-" in args  # every name with the prefix
    installs = [a for a in args if not a.endswith("-")]
    assert set(installs) <= set(NAMES[distro]) and "apache2" in installs


def test_a_package_this_distribution_lacks_is_named(tmp_path: Path) -> None:
    done = resolve(NAMES["ubuntu2404"], tmp_path, "apache2\nlibssl3\nnot-a-pkg|nor-this\nx-\n")
    assert done.returncode == 1
    assert "no package of this name here: libssl3 not-a-pkg|nor-this" in done.stderr


def test_run_resolves_before_installing() -> None:
    text = (ROOT / ".ci" / "run").read_text()
    assert ".ci/resolve-packages" in text
    assert text.index(".ci/resolve-packages") < text.index("apt-get install -y")
    assert "php8" not in words()  # no versioned PHP package name in the lists


def test_the_real_apt_cache_resolves_the_lists_here() -> None:
    if subprocess.run(["sh", "-c", "command -v apt-cache"], capture_output=True).returncode:
        pytest.skip("no apt-cache: not a Debian/Ubuntu machine")
    done = subprocess.run(["bash", str(RESOLVE)], input=words(), capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr
