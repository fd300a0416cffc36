"""The shared wp-cli function, run for real by bash against a stand-in `docker` that records argv."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from components.render.wpcli import WPCLI_IMAGE, wp_function

FAKE_DOCKER = """#!/bin/bash
printf '%s\\n' "$*" >> "$LOG"
case "$1" in
  inspect)
    [ "${@: -1}" = wpfleet-blog-wp-0 ] || exit 1
    case "$*" in
      *split*) printf "WORDPRESS_CONFIG_EXTRA=define('A', 1);\\ndefine('B', 2);\\n" ;;
      *--format*) printf '%s\\n' WORDPRESS_DB_HOST=db:3306 WORDPRESS_DB_PASSWORD=s3cret \\
        WORDPRESS_AUTH_KEY=k3y "WORDPRESS_CONFIG_EXTRA=define('A', 1);" PATH=/usr/bin \\
        WPFLEET_SMTP_PASSWORD=smtpS3cret ;;
    esac ;;
  run)
    for a in "$@"; do
      if [ "$prev" = --env-file ]; then
        cp "$a" "$CAPTURED_ENV"; stat -c %a "$a" > "$CAPTURED_ENV.mode"; echo "$a" > "$CAPTURED_ENV.path"
      fi
      if [ "$prev" = -v ]; then
        cp "${a%%:*}" "$CAPTURED_ENV.extra"; stat -c %a "${a%%:*}" > "$CAPTURED_ENV.extra.mode"
      fi
      prev=$a
    done ;;
esac
"""


def _run(tmp_path: Path, site: str) -> tuple[subprocess.CompletedProcess[str], str]:
    docker = tmp_path / "docker"
    docker.write_text(FAKE_DOCKER)
    docker.chmod(0o755)
    log = tmp_path / "argv.log"
    env = {**os.environ, "DOCKER": str(docker), "LOG": str(log), "CAPTURED_ENV": str(tmp_path / "env")}
    script = wp_function() + f'wpfleet_wp {site} option get home\n'
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env, timeout=30)
    return out, log.read_text() if log.exists() else ""


def test_runs_pinned_cli_against_replica_zero_with_secrets_only_in_a_0600_file(tmp_path: Path) -> None:
    out, argv = _run(tmp_path, "blog")
    assert out.returncode == 0, out.stderr
    run_line = [line for line in argv.splitlines() if line.startswith("run ")][0]
    assert f"{WPCLI_IMAGE} wp option get home" in run_line
    assert "--volumes-from wpfleet-blog-wp-0 --network container:wpfleet-blog-wp-0" in run_line
    assert "--user 33:33" in run_line
    assert "s3cret" not in argv and "k3y" not in argv and "S3cret" not in argv  # never on argv
    env_file = (tmp_path / "env").read_text()
    assert "WORDPRESS_DB_PASSWORD=s3cret" in env_file and "WORDPRESS_AUTH_KEY=k3y" in env_file
    assert "WPFLEET_SMTP_PASSWORD=smtpS3cret" in env_file  # the mail plugin works from wp-cli
    assert "CONFIG_EXTRA=" not in env_file and "PATH=" not in env_file
    # the multi-line config extra reaches wp-config.php through a file (no secret in it)
    assert "WORDPRESS_CONFIG_EXTRA_FILE=/run/wpfleet-config-extra.php" in env_file
    assert (tmp_path / "env.extra").read_text() == "define('A', 1);\ndefine('B', 2);\n"
    assert (tmp_path / "env.extra.mode").read_text().strip() == "644"  # cli's www-data reads it
    assert ":/run/wpfleet-config-extra.php:ro" in run_line
    assert (tmp_path / "env.mode").read_text().strip() == "600"
    assert not Path((tmp_path / "env.path").read_text().strip()).exists()  # removed on return


def test_unknown_site_fails_clearly_and_runs_nothing(tmp_path: Path) -> None:
    out, argv = _run(tmp_path, "nosuch")
    assert out.returncode == 1
    assert "container wpfleet-nosuch-wp-0 not found" in out.stderr
    assert "run " not in argv


def test_image_is_pinned() -> None:
    assert ":" in WPCLI_IMAGE and not WPCLI_IMAGE.endswith((":latest", ":cli"))
