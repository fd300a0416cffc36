"""The shared wp-cli function, run for real by bash against a stand-in `docker` that records argv.

The stand-in knows a scenario of containers (name, site label, role label, state): `ps` applies
the label/status filters and `-a` like Docker, `inspect` answers for the containers that exist,
and `run` refuses `--network container:X` when X is not running, as the engine does.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from components.render.wordpress.cli import WPCLI_IMAGE, wp_function

FAKE_DOCKER = """#!/bin/bash
printf '%s\\n' "$*" >> "$LOG"
state_of() { awk -v n="$1" '$1 == n { print $4 }' "$CONTAINERS"; }
case "$1" in
  ps)
    shift; all=no; filters=()
    while [ $# -gt 0 ]; do
      case "$1" in
        -a) all=yes ;;
        --filter) filters+=("$2"); shift ;;
        --format) [ "$2" = '{{.Names}}' ] || exit 2; shift ;;
        *) exit 2 ;;
      esac
      shift
    done
    while read -r name site role state; do
      [ "$all" = yes ] || [ "$state" = running ] || continue
      ok=yes
      for f in "${filters[@]}"; do
        case "$f" in
          label=org.wpfleet.site=*) [ "${f#label=org.wpfleet.site=}" = "$site" ] || ok=no ;;
          label=org.wpfleet.role=*) [ "${f#label=org.wpfleet.role=}" = "$role" ] || ok=no ;;
          status=*) [ "${f#status=}" = "$state" ] || ok=no ;;
          *) exit 2 ;;
        esac
      done
      [ "$ok" = no ] || echo "$name"
    done < "$CONTAINERS" ;;
  inspect)
    state=$(state_of "${@: -1}")
    [ -n "$state" ] || exit 1
    case "$*" in
      *State.Running*) if [ "$state" = running ]; then echo true; else echo false; fi ;;
      *split*) printf "WORDPRESS_CONFIG_EXTRA=define('A', 1);\\ndefine('B', 2);\\n" ;;
      *--format*) printf '%s\\n' WORDPRESS_DB_HOST=db:3306 WORDPRESS_DB_PASSWORD=s3cret \\
        WORDPRESS_AUTH_KEY=k3y "WORDPRESS_CONFIG_EXTRA=define('A', 1);" PATH=/usr/bin \\
        WPFLEET_SMTP_PASSWORD=smtpS3cret WORDPRESS_DB_PASSWORD_FILE=/run/secrets/wpfleet/W_DB \\
        WORDPRESS_NONCE_SALT_FILE=/run/secrets/wpfleet/W_NS WPFLEET_SMTP_PASSWORD_FILE=/run/secrets/wpfleet/W_SMTP \\
        WORDPRESS_CONFIG_EXTRA_FILE=/elsewhere MARIADB_ROOT_PASSWORD_FILE=/x ;;
    esac ;;
  run)
    for a in "$@"; do
      if [ "$prev" = --env-file ]; then
        cp "$a" "$CAPTURED_ENV"; stat -c %a "$a" > "$CAPTURED_ENV.mode"; echo "$a" > "$CAPTURED_ENV.path"
      fi
      if [ "$prev" = -v ]; then
        cp "${a%%:*}" "$CAPTURED_ENV.extra"; stat -c %a "${a%%:*}" > "$CAPTURED_ENV.extra.mode"
      fi
      if [ "$prev" = --network ] && [ "$(state_of "${a#container:}")" != running ]; then
        echo "docker: Error response from daemon: cannot join network of a non running container: ${a#container:}." >&2
        exit 125
      fi
      prev=$a
    done ;;
  *) exit 2 ;;
esac
"""
# replica 0 and 1 of blog run, beside its database and a site whose name starts like it
RUNNING = """\
wpfleet-blog-db blog db running
wpfleet-blog-wp-1 blog wordpress running
wpfleet-blog-wp-0 blog wordpress running
wpfleet-blog-staging-wp-0 blog-staging wordpress running
"""


def _run(tmp_path: Path, site: str, containers: str = RUNNING, pin: str = "") -> tuple[
        subprocess.CompletedProcess[str], str]:
    docker = tmp_path / "docker"
    docker.write_text(FAKE_DOCKER)
    docker.chmod(0o755)
    (tmp_path / "containers").write_text(containers)
    log = tmp_path / "argv.log"
    env = {**os.environ, "DOCKER": str(docker), "LOG": str(log), "CAPTURED_ENV": str(tmp_path / "env"),
           "CONTAINERS": str(tmp_path / "containers")}
    script = (f"wpfleet_wp_pin={pin}\n" if pin else "") + wp_function() + f'wpfleet_wp {site} option get home\n'
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env, timeout=30)
    return out, log.read_text() if log.exists() else ""


def _runs(argv: str) -> list[str]:
    return [line for line in argv.splitlines() if line.startswith("run ")]


def test_runs_pinned_cli_against_replica_zero_with_secrets_only_in_a_0600_file(tmp_path: Path) -> None:
    out, argv = _run(tmp_path, "blog")
    assert out.returncode == 0, out.stderr
    run_line = _runs(argv)[0]
    assert f"{WPCLI_IMAGE} wp option get home" in run_line
    assert "--volumes-from wpfleet-blog-wp-0 --network container:wpfleet-blog-wp-0" in run_line
    assert "--user 33:33" in run_line
    assert "s3cret" not in argv and "k3y" not in argv and "S3cret" not in argv  # never on argv
    env_file = (tmp_path / "env").read_text()
    assert "WORDPRESS_DB_PASSWORD=s3cret" in env_file and "WORDPRESS_AUTH_KEY=k3y" in env_file
    assert "WPFLEET_SMTP_PASSWORD=smtpS3cret" in env_file  # the mail plugin works from wp-cli
    assert "CONFIG_EXTRA=" not in env_file and "PATH=" not in env_file
    # a replica of today names mounted secret files (secrets.py): the _FILE variables come
    # along, and --volumes-from brings the mount they point into
    for line in ("WORDPRESS_DB_PASSWORD_FILE=/run/secrets/wpfleet/W_DB",
                 "WORDPRESS_NONCE_SALT_FILE=/run/secrets/wpfleet/W_NS",
                 "WPFLEET_SMTP_PASSWORD_FILE=/run/secrets/wpfleet/W_SMTP"):
        assert line + "\n" in env_file
    assert "/elsewhere" not in env_file and "MARIADB" not in env_file
    # the multi-line config extra reaches wp-config.php through a file (no secret in it)
    assert "WORDPRESS_CONFIG_EXTRA_FILE=/run/wpfleet-config-extra.php" in env_file
    assert (tmp_path / "env.extra").read_text() == "define('A', 1);\ndefine('B', 2);\n"
    assert (tmp_path / "env.extra.mode").read_text().strip() == "644"  # cli's www-data reads it
    assert ":/run/wpfleet-config-extra.php:ro" in run_line
    assert (tmp_path / "env.mode").read_text().strip() == "600"
    assert not Path((tmp_path / "env.path").read_text().strip()).exists()  # removed on return


def test_replica_zero_stopped_uses_the_first_running_replica_by_index(tmp_path: Path) -> None:
    # ps lists them in no useful order; wp-10 sorts before wp-2 as text, not as an index
    containers = """\
wpfleet-blog-wp-10 blog wordpress running
wpfleet-blog-wp-3 blog wordpress running
wpfleet-blog-wp-0 blog wordpress exited
wpfleet-blog-db blog db running
wpfleet-blog-wp-2 blog wordpress running
wpfleet-blog-wp-1 blog wordpress restarting
wpfleet-blog-staging-wp-0 blog-staging wordpress running
"""
    out, argv = _run(tmp_path, "blog", containers)
    assert out.returncode == 0, out.stderr
    assert len(_runs(argv)) == 1
    run_line = _runs(argv)[0]
    assert "--volumes-from wpfleet-blog-wp-2 --network container:wpfleet-blog-wp-2" in run_line
    assert f"{WPCLI_IMAGE} wp option get home" in run_line
    # the running replicas were found by the labels every replica carries
    assert ("ps --filter label=org.wpfleet.site=blog --filter label=org.wpfleet.role=wordpress"
            " --filter status=running --format {{.Names}}") in argv
    # the environment (secrets) came from that replica, and only through the 0600 file
    inspects = [line for line in argv.splitlines() if line.startswith("inspect ")]
    assert inspects and all(line.endswith(" wpfleet-blog-wp-2") for line in inspects)
    assert "s3cret" not in argv and "k3y" not in argv and "S3cret" not in argv
    assert "WORDPRESS_DB_PASSWORD=s3cret" in (tmp_path / "env").read_text()
    assert (tmp_path / "env.mode").read_text().strip() == "600"


def test_no_running_replica_fails_naming_the_site_and_runs_nothing(tmp_path: Path) -> None:
    containers = """\
wpfleet-blog-wp-1 blog wordpress exited
wpfleet-blog-wp-0 blog wordpress exited
wpfleet-blog-db blog db running
wpfleet-blog-staging-wp-0 blog-staging wordpress running
"""
    out, argv = _run(tmp_path, "blog", containers)
    assert out.returncode == 1
    assert out.stderr == ("wpfleet: no WordPress replica of site 'blog' is running"
                          " (wpfleet-blog-wp-0 wpfleet-blog-wp-1): start one"
                          " (docker start wpfleet-blog-wp-0) and retry\n")
    assert not _runs(argv) and "inspect" not in argv
    assert not (tmp_path / "env").exists()


def test_unknown_site_fails_clearly_and_runs_nothing(tmp_path: Path) -> None:
    out, argv = _run(tmp_path, "nosuch")
    assert out.returncode == 1
    assert "no WordPress container of site 'nosuch' found: is site 'nosuch' deployed" in out.stderr
    assert not _runs(argv)


@pytest.mark.parametrize("site", ["Blog", "blog;id", "", "a/b"])
def test_a_bad_site_name_reaches_no_docker_argv(tmp_path: Path, site: str) -> None:
    out, argv = _run(tmp_path, repr(site) if site else "''")
    assert out.returncode == 1
    assert "is not a wpfleet site name" in out.stderr
    assert argv == ""


def test_a_pinned_replica_is_used_only_while_it_runs(tmp_path: Path) -> None:
    # the unattended install pins replica 0 (it also `docker exec`s into it): no fallback
    out, argv = _run(tmp_path, "blog", pin="wpfleet-blog-wp-1")
    assert out.returncode == 0, out.stderr
    assert "--volumes-from wpfleet-blog-wp-1 --network container:wpfleet-blog-wp-1" in _runs(argv)[0]
    assert not any(line.startswith("ps ") for line in argv.splitlines())
    stopped = RUNNING.replace("wp-0 blog wordpress running", "wp-0 blog wordpress exited")
    (tmp_path / "stopped").mkdir()
    out, argv = _run(tmp_path / "stopped", "blog", stopped, pin="wpfleet-blog-wp-0")
    assert out.returncode == 1
    assert out.stderr == "wpfleet: container wpfleet-blog-wp-0 of site 'blog' is not running\n"
    assert not _runs(argv)


def test_image_is_pinned() -> None:
    assert ":" in WPCLI_IMAGE and not WPCLI_IMAGE.endswith((":latest", ":cli"))
