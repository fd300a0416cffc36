"""wp-cli on the box: one bash function that runs the pinned `wordpress:cli` image for a site.

Shared by every script that needs WordPress's own tooling (unattended install, core upgrades,
the `wpfleet-wp` wrapper, cron): they embed `wp_function()` and call `wpfleet_wp SITE ARGS...`.

How it reaches the site, the way the image's documentation shows: `--volumes-from` the site's
replica 0 (the shared docroot holding wp-config.php) and `--network container:` that replica
(so `db` resolves on the site's internal network). wp-config.php reads the DB credentials and
salts from `WORDPRESS_*` environment variables: they are copied from the replica into a 0600
env file under /run (removed on return), never onto any argv. The cli image's `www-data` has
uid 33 like the Debian-based WordPress image, so files it writes keep the right owner.
"""

from __future__ import annotations

import shlex
from textwrap import dedent

# pinned, like every image wpfleet runs (`:latest` / `:cli` would float)
WPCLI_IMAGE = "wordpress:cli-2.12.0-php8.3"


def wp_function(image: str = WPCLI_IMAGE) -> str:
    """Bash defining `wpfleet_wp SITE ARGS...` (needs DOCKER, default `docker`)."""
    return dedent("""\
        wpfleet_wp() {
          local site=$1; shift
          local replica="wpfleet-$site-wp-0" envf extra rc=0 tty=()
          if [ -t 0 ] && [ -t 1 ]; then tty=(-t); fi  # interactive: `wp shell`, prompts
          if ! "${DOCKER:-docker}" inspect --type container "$replica" >/dev/null 2>&1; then
            echo "wpfleet: container $replica not found: is site '$site' deployed on this box?" >&2
            return 1
          fi
          envf=$(mktemp /run/wpfleet-wp.XXXXXX)  # mktemp creates it 0600
          # single-line values only: DB credentials, salts, table prefix (for wp-config.php's
          # getenv calls) and the SMTP password (for the mail plugin: `wp user reset-password`)
          "${DOCKER:-docker}" inspect --type container \\
            --format '{{range .Config.Env}}{{println .}}{{end}}' "$replica" \\
            | grep -E '^(WORDPRESS_(DB_[A-Z]+|[A-Z_]+_(KEY|SALT)|TABLE_PREFIX)|WPFLEET_SMTP_PASSWORD)=' \\
            > "$envf" || true
          # WORDPRESS_CONFIG_EXTRA spans lines, which an env file cannot hold: wp-config.php
          # reads it from WORDPRESS_CONFIG_EXTRA_FILE instead (WP_HOME, wpConfig constants; no
          # secret in it), a copy the cli's www-data can read
          extra=$(mktemp /run/wpfleet-wp-extra.XXXXXX)
          "${DOCKER:-docker}" inspect --type container --format \\
            '{{range .Config.Env}}{{if eq (index (split . "=") 0) "WORDPRESS_CONFIG_EXTRA"}}{{.}}{{end}}{{end}}' \\
            "$replica" | sed '1s/^WORDPRESS_CONFIG_EXTRA=//' > "$extra" || true
          chmod 0644 "$extra"
          echo "WORDPRESS_CONFIG_EXTRA_FILE=/run/wpfleet-config-extra.php" >> "$envf"
          "${DOCKER:-docker}" run --rm -i "${tty[@]}" --user 33:33 --env-file "$envf" \\
            --volumes-from "$replica" --network "container:$replica" \\
            -v "$extra:/run/wpfleet-config-extra.php:ro" \\
            %(image)s wp "$@" || rc=$?
          rm -f "$envf" "$extra"
          return $rc
        }
        """) % {"image": shlex.quote(image)}


__all__ = ["WPCLI_IMAGE", "wp_function"]
