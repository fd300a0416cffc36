"""The rendered `wordpress-<site>` script, run for real by bash under strace against a stand-in
`docker` that records argv and stdin, runs wp-cli's answers, and executes `docker exec` (the
version check in php-cli, the core copy with tar) on directories standing in for the image's
/usr/src/wordpress and the docroot volume.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from components.config import parse
from components.render.wordpress.install import VERSION_PHP, install_command

PASSWORD = " Adm1n PW \"q\" 'x' $HOME `id` \\ never-on-argv-7f3c "  # configured ones may
DEBIAN_VERSION_PHP = Path("/usr/share/wordpress/wp-includes/version.php")
STACK = parse({
    "box": {"host": "local"}, "acme": {"email": "ops@example.org"},
    "sites": [{"name": "blog", "domain": "blog.example.org", "port": 8082,
               "title": "Tom's \"blog\" $HOME `id`", "adminUser": "editor-in-chief"}]})

FAKE_DOCKER = r"""#!/bin/bash
printf '%s\n' "$*" >> "$FAKE/argv.log"
case "$1" in
  inspect)
    [ "${@: -1}" = wpfleet-blog-wp-0 ] || exit 1
    case "$*" in
      *State.Running*) echo true ;;
      *--format*) printf '%s\n' WORDPRESS_DB_HOST=db:3306 WORDPRESS_DB_PASSWORD=dbpw ;;
    esac ;;
  exec)
    shift
    while [ "${1#-}" != "$1" ]; do case "$1" in -u) shift 2 ;; *) shift ;; esac; done
    shift  # the container
    args=()  # container paths -> the test's directories; then run it here, for real
    for a in "$@"; do
      a=${a//\/usr\/src\/wordpress/$FAKE/image}; a=${a//\/var\/www\/html/$FAKE/html}; args+=("$a")
    done
    exec "${args[@]}" ;;
  run)
    case "$*" in
      *" wp core is-installed") cat > "$FAKE/stdin.is-installed"; [ -e "$FAKE/installed" ] ;;
      *" wp core install "*)
        # wp-cli's prompt: readline() when PHP has it, else one line from STDIN (both tried)
        tee "$FAKE/stdin.install" | php ${PHP_NO_READLINE:+-d disable_functions=readline} -r '
          $pw = function_exists("readline") ? readline("admin_password: ")
                                            : stream_get_line(STDIN, 1024, "\n");
          file_put_contents(getenv("FAKE") . "/php-read", $pw);'
        touch "$FAKE/installed"; echo "Success: WordPress installed successfully." ;;
      *" wp core update-db") cat > "$FAKE/stdin.update-db"
        echo "Success: WordPress database already at latest db version 58975." ;;
      *) echo "unexpected: $*" >&2; exit 9 ;;
    esac ;;
  *) echo "unexpected: $*" >&2; exit 9 ;;
esac
"""


def version_php(version: str) -> str:
    # Debian's real file when present (its own version swapped in), else a minimal one
    if DEBIAN_VERSION_PHP.exists():
        text = DEBIAN_VERSION_PHP.read_text()
        start = text.index("$wp_version = '")
        end = text.index("';", start)
        return text[:start] + f"$wp_version = '{version}" + text[end:]
    return f"<?php\n$wp_version = '{version}';\n$wp_db_version = 58975;\n"


def tree(root: Path, version: str, files: dict[str, str]) -> None:
    for rel, text in {"wp-includes/version.php": version_php(version), **files}.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)


class Box:
    def __init__(self, tmp: Path) -> None:
        self.fake = tmp
        bin_dir = tmp / "bin"
        bin_dir.mkdir()
        (bin_dir / "docker").write_text(FAKE_DOCKER)
        (bin_dir / "docker").chmod(0o755)
        self.path = f"{bin_dir}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

    def run(self, stdin: str, readline: bool = True) -> subprocess.CompletedProcess[str]:
        if shutil.which("php") is None or shutil.which("strace") is None:
            pytest.skip("php-cli and strace are needed (apt-get install php-cli strace)")
        script = install_command(STACK, STACK.sites[0]).create
        trace = self.fake / "execve.log"
        # every process the script starts, with its argv and environment (-v)
        return subprocess.run(
            ["strace", "-f", "-qq", "-v", "-s", "65536", "-e", "trace=execve", "-o", str(trace),
             "bash", "-c", script], input=stdin, capture_output=True, text=True, timeout=60,
            env={"PATH": self.path, "FAKE": str(self.fake), "HOME": str(self.fake),
                 **({} if readline else {"PHP_NO_READLINE": "1"})})

    def read(self, name: str) -> str:
        path = self.fake / name
        return path.read_text() if path.exists() else ""


@pytest.fixture
def box(tmp_path: Path) -> Box:
    b = Box(tmp_path)
    tree(tmp_path / "image", "6.8.3", {"index.php": "<?php // 6.8.3\n"})
    tree(tmp_path / "html", "6.8.3", {"index.php": "<?php // 6.8.3\n"})
    return b


@pytest.mark.parametrize("readline", [True, False])
def test_fresh_site_is_installed_with_the_password_only_on_wp_clis_stdin(
        box: Box, readline: bool) -> None:
    out = box.run(PASSWORD + "\n", readline=readline)
    assert out.returncode == 0, out.stderr
    assert box.read("stdin.install") == PASSWORD + "\n"
    assert box.read("php-read") == PASSWORD  # exactly what PHP's prompt read, spaces and all
    assert box.read("stdin.is-installed") == ""  # no other call could swallow it
    install = next(line for line in box.read("argv.log").splitlines() if " core install " in line)
    # config values arrive verbatim: quoted, nothing expanded by the shell
    assert "--title=Tom's \"blog\" $HOME `id`" in install
    assert "--admin_user=editor-in-chief --admin_email=ops@example.org" in install
    assert "--url=https://blog.example.org" in install and "--prompt=admin_password" in install
    assert "wp core update-db" not in box.read("argv.log")
    execs = box.read("execve.log")
    assert execs.count("execve(") >= 5  # bash, docker (x5), php, mktemp, grep, ...
    for text in (execs, box.read("argv.log"), out.stdout, out.stderr):
        assert PASSWORD not in text  # never on any argv or environment, never printed
    assert "WordPress installed, admin user editor-in-chief" in out.stdout
    assert "WordPress core 6.8.3 matches the image" in out.stdout


def test_second_run_installs_nothing_and_upgrades_the_database(box: Box) -> None:
    assert box.run(PASSWORD + "\n").returncode == 0
    (box.fake / "stdin.install").unlink()
    out = box.run(PASSWORD + "\n")
    assert out.returncode == 0, out.stderr
    assert not (box.fake / "stdin.install").exists()
    assert "database already at latest" in out.stdout
    assert PASSWORD not in box.read("execve.log")
    # pinned to replica 0, the one the core copy `docker exec`s into: no other replica instead
    calls = box.read("argv.log").splitlines()
    runs = [c for c in calls if c.startswith("run ")]
    assert runs and all("--network container:wpfleet-blog-wp-0 " in c for c in runs)
    assert not any(c.startswith("ps ") for c in calls)


def test_new_image_copies_its_core_over_the_volume_and_keeps_site_files(box: Box) -> None:
    (box.fake / "installed").touch()
    shutil.rmtree(box.fake / "html")
    tree(box.fake / "html", "6.7.1", {
        "index.php": "<?php // 6.7.1\n", "wp-config.php": "<?php // mine\n",
        ".htaccess": "# my rules\n", "wp-content/uploads/photo.jpg": "JPEG",
        "wp-content/themes/twentytwentyfive/style.css": "/* patched by me */"})
    tree(box.fake / "image", "6.8.3", {
        "wp-includes/new-in-6.8.php": "<?php\n", ".htaccess": "# image default\n",
        "wp-config-docker.php": "<?php // docker\n",
        "wp-content/themes/twentytwentyfive/style.css": "/* 6.8.3 */"})
    out = box.run(PASSWORD + "\n")
    assert out.returncode == 0, out.stderr
    html = box.fake / "html"
    assert "'6.8.3'" in (html / "wp-includes/version.php").read_text()
    assert (html / "index.php").read_text() == "<?php // 6.8.3\n"
    assert (html / "wp-includes/new-in-6.8.php").exists()
    # the site's own files are left alone
    assert (html / "wp-config.php").read_text() == "<?php // mine\n"
    assert (html / ".htaccess").read_text() == "# my rules\n"
    assert (html / "wp-content/uploads/photo.jpg").read_text() == "JPEG"
    assert (html / "wp-content/themes/twentytwentyfive/style.css").read_text() == \
        "/* patched by me */"
    assert "WordPress core 6.7.1 -> 6.8.3" in out.stdout
    assert "wp core update-db" in box.read("argv.log")
    # and a second run finds nothing to copy
    again = box.run(PASSWORD + "\n")
    assert "WordPress core 6.8.3 matches the image" in again.stdout


def test_an_older_image_is_refused_before_anything_changes(box: Box) -> None:
    tree(box.fake / "image", "6.5.0", {"index.php": "<?php // 6.5.0\n"})
    out = box.run(PASSWORD + "\n")
    assert out.returncode == 1
    assert "downgrades are not supported" in out.stderr and "6.8.3" in out.stderr
    assert (box.fake / "html/index.php").read_text() == "<?php // 6.8.3\n"
    assert " run " not in box.read("argv.log") and "wp core" not in box.read("argv.log")


def test_no_password_on_stdin_stops_before_any_docker_call(box: Box) -> None:
    out = box.run("")
    assert out.returncode == 1 and "no admin password on stdin" in out.stderr
    assert box.read("argv.log") == ""


def test_version_check_reads_a_real_wordpress_version_file(tmp_path: Path) -> None:
    php = shutil.which("php")
    if php is None or not DEBIAN_VERSION_PHP.exists():
        pytest.skip("needs php-cli and Debian's wordpress package")
    real = DEBIAN_VERSION_PHP.read_text()
    version = real.split("$wp_version = '", 1)[1].split("'", 1)[0]
    older = tmp_path / "version.php"
    older.write_text(version_php("5.9"))

    def check(image: Path, volume: Path) -> str:
        return subprocess.run([php, "-r", VERSION_PHP, str(image), str(volume)],
                              capture_output=True, text=True, check=True).stdout

    assert check(DEBIAN_VERSION_PHP, older) == f"{version} 5.9 1\n"
    assert check(DEBIAN_VERSION_PHP, DEBIAN_VERSION_PHP) == f"{version} {version} 0\n"
    assert check(older, DEBIAN_VERSION_PHP) == f"5.9 {version} -1\n"
    assert check(tmp_path / "none.php", older) == "- 5.9 0\n"  # a custom image: left alone
    assert check(DEBIAN_VERSION_PHP, tmp_path / "none.php") == f"{version} - 1\n"
