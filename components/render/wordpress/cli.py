"""wp-cli on the box: one bash function that runs the pinned `wordpress:cli` image for a site.

Shared by every script that needs WordPress's own tooling (unattended install, core upgrades,
the `wpfleet-wp` wrapper, cron): they embed `wp_function()` and call `wpfleet_wp SITE ARGS...`.

How it reaches the site, the way the image's documentation shows: `--volumes-from` a running
replica of the site (the shared docroot holding wp-config.php) and `--network container:` that
replica (so `db` resolves on the site's internal network). The replica is replica 0 when it runs,
else the running one with the lowest index, found by the labels every replica carries
(wordpress_site.labels(): org.wpfleet.site, org.wpfleet.role=wordpress): a stopped or crashed
replica 0 does not stop wp-cli or WP-Cron while another replica serves the site. A script that
must use one replica (the unattended install, which also `docker exec`s into replica 0) sets
`wpfleet_wp_pin` to its name. No replica running: an error naming the site, nothing run.

wp-config.php reads the DB credentials and salts from the files named by the replica's
`WORDPRESS_*_FILE` variables (secrets.py): the variables are copied from that replica into a
0600 env file under /run (removed on return), never onto any argv, and `--volumes-from` brings
the replica's read-only mount of the site's secret files along (readable by gid 33). The cli
image's `www-data` has uid 33 like the Debian-based WordPress image, so files it writes keep the
right owner. (The plain `WORDPRESS_*` secret variables of a replica created before wpfleet put
secrets in files are copied the same way, until `up` replaces it.)
"""

from __future__ import annotations

import shlex
from textwrap import dedent

# pinned, like every image wpfleet runs (`:latest` / `:cli` would float)
WPCLI_IMAGE = "wordpress:cli-2.12.0-php8.3"


# `wpfleet_replica SITE`: the running replica wp-cli goes through (see the module's doc)
_REPLICA_FUNCTION = dedent(r"""
        # wpfleet_by_index SITE: the names on stdin that are the site's replicas
        # (wpfleet-SITE-wp-N), by replica index N (replica 0 first; wp-10 after wp-2)
        wpfleet_by_index() {
          sed -n "s/^wpfleet-$1-wp-\([0-9]\{1,4\}\)\$/\1 &/p" | sort -n | cut -d' ' -f2
        }
        # wpfleet_replica SITE: prints the replica wp-cli uses (replica 0 when it runs, else the
        # running one with the lowest index; $wpfleet_wp_pin when set); fails naming the site
        wpfleet_replica() {
          local site=$1 names all
          if ! [[ $site =~ ^[a-z][a-z0-9-]{0,30}$ ]]; then
            echo "wpfleet: '$site' is not a wpfleet site name" >&2; return 2
          fi
          if [ -n "${wpfleet_wp_pin:-}" ]; then
            if [ "$("${DOCKER:-docker}" inspect --type container --format '{{.State.Running}}' \
                  "$wpfleet_wp_pin" 2>/dev/null)" != true ]; then
              echo "wpfleet: container $wpfleet_wp_pin of site '$site' is not running" >&2
              return 1
            fi
            echo "$wpfleet_wp_pin"; return 0
          fi
          if ! names=$("${DOCKER:-docker}" ps --filter "label=org.wpfleet.site=$site" \
              --filter label=org.wpfleet.role=wordpress --filter status=running \
              --format '{{.Names}}'); then
            echo "wpfleet: cannot list the containers of site '$site' (is Docker running?)" >&2
            return 1
          fi
          names=$(printf '%s\n' "$names" | wpfleet_by_index "$site" | head -n 1)
          if [ -n "$names" ]; then echo "$names"; return 0; fi
          all=$("${DOCKER:-docker}" ps -a --filter "label=org.wpfleet.site=$site" \
            --filter label=org.wpfleet.role=wordpress --format '{{.Names}}' 2>/dev/null \
            | wpfleet_by_index "$site" | tr '\n' ' ' || true)
          if [ -n "$all" ]; then
            echo "wpfleet: no WordPress replica of site '$site' is running (${all% }):" \
              "start one (docker start wpfleet-$site-wp-0) and retry" >&2
          else
            echo "wpfleet: no WordPress container of site '$site' found:" \
              "is site '$site' deployed on this box?" >&2
          fi
          return 1
        }
        """).lstrip("\n")


def wp_function(image: str = WPCLI_IMAGE) -> str:
    """Bash defining `wpfleet_wp SITE ARGS...` and `wpfleet_replica SITE` (DOCKER: `docker`)."""
    return _REPLICA_FUNCTION + dedent("""\
        wpfleet_wp() {
          local site=$1; shift
          local replica envf extra rc=0 tty=()
          if [ -t 0 ] && [ -t 1 ]; then tty=(-t); fi  # interactive: `wp shell`, prompts
          replica=$(wpfleet_replica "$site") || return 1
          envf=$(mktemp /run/wpfleet-wp.XXXXXX)  # mktemp creates it 0600
          # single-line values only: DB settings, salts, table prefix (for wp-config.php's
          # getenv_docker calls) and the SMTP password (for the mail plugin: `wp user
          # reset-password`), each as the _FILE path of the mounted secret file
          "${DOCKER:-docker}" inspect --type container \\
            --format '{{range .Config.Env}}{{println .}}{{end}}' "$replica" \\
            | grep -E '^(WORDPRESS_(DB_[A-Z]+|[A-Z_]+_(KEY|SALT)|TABLE_PREFIX)|WPFLEET_SMTP_PASSWORD)(_FILE)?=' \\
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
