"""The stand-in images for tests: build and load them, and reach a site replayed on a daemon.

`build_images()` runs build.sh (cached outside the checkout), `load_images()` runs load.sh
against a daemon; `sh`, `docker`, `wp`, `http` act on the site the `site` fixture
(conftest.py) made, the way an operator or the balancer does on a box.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from components.render.wordpress import tools

IMAGES = Path(__file__).resolve().parent
NETNS = f"wpf-test-img{os.getpid()}"  # the daemon's network namespace (published ports)
SSH_PORT = 22226  # not the other sshd tests' ports: they may run in one session
ADMIN_PASSWORD = "stand-in admin pw 1"  # noqa: S105 - a throwaway test site's
SMTP_PASSWORD = "stand-in smtp pw 'x\"=2"  # noqa: S105 - the same site's wpfleet:smtpPassword


def secret_values(site: dict[str, Any]) -> dict[str, str]:
    """`DIR/NAME` -> value: what the program sends `site-secrets-blog` (mocks' passwords)."""
    stdin = site["graph"].get("site-secrets-blog").inputs["stdin"]
    return dict(line.split("=", 1) for line in stdin.splitlines())


def missing_tools() -> str:
    """'' when the images can be built here, else one line naming what to install."""
    need = {"debootstrap": "debootstrap", "dockerd": "docker.io", "docker": "docker.io",
            "dpkg": "dpkg", "chroot": "coreutils"}
    absent = sorted({pkg for tool, pkg in need.items() if shutil.which(tool) is None})
    return f"stand-in images need: apt-get install {' '.join(absent)}" if absent else ""


def build_images(*tag_args: str, timeout: float = 3600) -> tuple[Path | None, str]:
    """(the cache directory build.sh printed last, "") or (None, its line naming what is
    missing: exit 3); builds the images when they are not cached."""
    done = subprocess.run([str(IMAGES / "build.sh"), *tag_args], capture_output=True, text=True,
                          timeout=timeout, check=False)
    last = (done.stdout.strip().splitlines() or [""])[-1]
    if done.returncode == 3:
        return None, last
    assert done.returncode == 0, f"images/build.sh failed:\n{done.stderr[-3000:]}"
    return Path(last), ""


def load_images(cache_dir: Path, sock: Path) -> str:
    done = subprocess.run([str(IMAGES / "load.sh"), str(cache_dir)], capture_output=True,
                          text=True, timeout=600, check=False,
                          env={**os.environ, "DOCKER_HOST": f"unix://{sock}"})
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def storage_driver() -> str:
    """overlay2 where /tmp is a plain disk file system (a container starts in a fraction of a
    second; vfs copies its 200-300 MB image each time), else vfs."""
    mounts = [line.split() for line in Path("/proc/mounts").read_text().splitlines()]
    fstype = max((m for m in mounts if "/tmp/".startswith(m[1].rstrip("/") + "/")),
                 key=lambda m: len(m[1]))[2]
    return "overlay2" if fstype in ("ext4", "xfs", "btrfs") else "vfs"


def sh(site: dict[str, Any], script: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", script], input=stdin, env=site["env"], capture_output=True,
                          text=True, timeout=600)


def docker(site: dict[str, Any], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], input=stdin, env=site["env"], capture_output=True,
                          text=True, timeout=300)


def wp(site: dict[str, Any], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """`wpfleet-wp blog ARGS...`: the rendered wrapper, as an operator runs it on the box."""
    return subprocess.run([str(site["root"] / tools.WP_BIN.lstrip("/")), "blog", *args], input=stdin,
                          env=site["env"], capture_output=True, text=True, timeout=300)


def http(site: dict[str, Any], port: int, path: str, *headers: str) -> tuple[int, str]:
    """GET from inside the daemon's network namespace, where the published ports listen."""
    argv = ["nsenter", f"--net=/run/netns/{NETNS}", "curl", "-sS", "-o", "-", "-w", "\n%{http_code}"]
    for h in headers:
        argv += ["-H", h]
    done = subprocess.run([*argv, f"http://127.0.0.1:{port}{path}"], capture_output=True,
                          text=True, timeout=60, check=True)
    body, _, code = done.stdout.rpartition("\n")
    return int(code), body
