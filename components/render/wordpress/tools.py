"""Day-to-day tools on the box: `wpfleet-wp`, `wpfleet-logs`, real WP-Cron, logrotate.

Commands (in apply order):
- `wp-tools` (once per box): installs /usr/local/bin/wpfleet-wp (wp-cli for a site),
  /usr/local/bin/wpfleet-logs (a site's Apache logs and container logs), the WP-Cron runner
  and /etc/logrotate.d/wpfleet-apache.
- `wp-site-<site>`: the site's PHP ini and mail plugin (php.py); the replicas mount them, so
  they are written before the replicas exist.
- `wp-cron-<site>` (when cronMinutes > 0): a systemd timer per site, started after the
  replicas, running due WP-Cron events once per site (one wp-cli container, not one per replica).
Every script is built on the shared `wpfleet_wp` function (cli.py): the cli container reads the
site's secrets from the files its replicas mount (secrets.py), never from an argv or its
environment.
"""

from __future__ import annotations

from textwrap import dedent

from components.config import SiteConfig, StackConfig
from components.render.command import BoxCommand, script
from components.render.wordpress import php as wp_php
from components.render.wordpress.cli import wp_function

WP_BIN = "/usr/local/bin/wpfleet-wp"
LOGS_BIN = "/usr/local/bin/wpfleet-logs"
CRON_RUNNER = "/usr/local/lib/wpfleet/wp-cron"
LOGROTATE = "/etc/logrotate.d/wpfleet-apache"
UNIT_DIR = "/etc/systemd/system"
APACHE_LOG_DIR = "/var/log/apache2"
# wpfleet's vhosts log to wpfleet-<name>-access_log / -error_log (render/apache/vhost.py): not
# `*.log`, so Debian's /etc/logrotate.d/apache2 does not also claim them (a duplicate entry
# makes logrotate fail that whole file)
LOG_GLOB = f"{APACHE_LOG_DIR}/wpfleet-*_log"
EOF_MARK = "WPFLEET_EOF"

_SITE_ARG = dedent("""\
    site=${1:-}
    if ! [[ $site =~ ^[a-z][a-z0-9-]{0,30}$ ]]; then
      echo "%(tool)s: '${site}' is not a wpfleet site name; usage: %(usage)s" >&2
      exit 2
    fi
    shift
    """)


def wp_script() -> str:
    return script(dedent("""\
        # wpfleet-wp SITE ARGS...: wp-cli for one wpfleet site (managed by wpfleet)
        #   wpfleet-wp blog plugin install classic-editor --activate
        #   wpfleet-wp blog search-replace http://old.example.org https://blog.example.org
        """) + _SITE_ARG % {"tool": "wpfleet-wp", "usage": "wpfleet-wp SITE ARGS..."}
        + wp_function() + 'wpfleet_wp "$site" "$@"\n')


def cron_runner() -> str:
    return script(dedent("""\
        # wpfleet WP-Cron runner: due events of one site, run by wpfleet-cron-SITE.timer
        """) + _SITE_ARG % {"tool": "wp-cron", "usage": "wp-cron SITE"} + wp_function()
        + dedent("""\
        # --due-now: only events whose time has come; nothing due is a quick no-op
        if ! wpfleet_wp "$site" cron event run --due-now; then
          # a site not installed yet has no events: not a failure of the timer (no running
          # replica is: wpfleet_wp said so above)
          if wpfleet_replica "$site" >/dev/null 2>&1 \
              && ! wpfleet_wp "$site" core is-installed >/dev/null 2>&1; then
            echo "wp-cron: WordPress of site $site is not installed yet; nothing to run"
            exit 0
          fi
          exit 1
        fi
        """))


def logs_script() -> str:
    usage = "wpfleet-logs SITE [-f] [-n LINES]"
    return script(_SITE_ARG % {"tool": "wpfleet-logs", "usage": usage} + dedent("""\
        # wpfleet-logs SITE [-f] [-n LINES]: the site's Apache access/error logs, then the logs
        # of its containers (WordPress replicas, MariaDB); -f follows them all
        LOG_DIR=${APACHE_LOG_DIR:-%(log_dir)s}
        DOCKER=${DOCKER:-docker}
        lines=100 follow=no
        while [ $# -gt 0 ]; do
          case "$1" in
            -f|--follow) follow=yes ;;
            -n|--lines)
              if ! [[ ${2:-} =~ ^[0-9]{1,7}$ ]]; then
                echo "wpfleet-logs: -n wants a number of lines; usage: %(usage)s" >&2; exit 2
              fi
              lines=$2; shift ;;
            *) echo "wpfleet-logs: unknown option '$1'; usage: %(usage)s" >&2; exit 2 ;;
          esac
          shift
        done
        files=("$LOG_DIR/wpfleet-$site-access_log" "$LOG_DIR/wpfleet-$site-error_log")
        mapfile -t containers < <("$DOCKER" ps -a --filter "label=org.wpfleet.site=$site" \\
          --format '{{.Names}}' | sort)
        if [ "${#containers[@]}" = 0 ] && ! [ -e "${files[0]}" ]; then
          echo "wpfleet-logs: no container and no Apache log for site '$site' on this box" >&2
          exit 1
        fi
        if [ "$follow" = yes ]; then
          trap 'kill 0' INT TERM
          tail -n "$lines" -F "${files[@]}" &
          for c in "${containers[@]}"; do
            "$DOCKER" logs -f --tail "$lines" "$c" 2>&1 | sed -u "s/^/[$c] /" &
          done
          wait
          exit 0
        fi
        for f in "${files[@]}"; do
          echo "==> $f <=="
          if [ -r "$f" ]; then tail -n "$lines" "$f"; else echo "(no such log yet)"; fi
        done
        for c in "${containers[@]}"; do
          echo "==> container $c <=="
          "$DOCKER" logs --tail "$lines" --timestamps "$c" 2>&1
        done
        """) % {"log_dir": APACHE_LOG_DIR, "usage": usage})


def logrotate_conf() -> str:
    return dedent(f"""\
        # wpfleet's per-site Apache logs ({wp_php.HEADER})
        {LOG_GLOB} {{
            daily
            rotate 14
            maxsize 200M
            missingok
            notifempty
            compress
            delaycompress
            create 640 root adm
            sharedscripts
            postrotate
                if pgrep -f ^/usr/sbin/apache2 >/dev/null; then
                    apache2ctl graceful 2>&1 | logger -t wpfleet.logrotate
                fi
            endscript
        }}
        """)


def cron_units(site: SiteConfig) -> dict[str, str]:
    unit = f"wpfleet-cron-{site.name}"
    service = dedent(f"""\
        [Unit]
        Description=wpfleet: due WP-Cron events of site {site.name}
        After=docker.service
        Requires=docker.service

        [Service]
        Type=oneshot
        ExecStart={CRON_RUNNER} {site.name}
        """)
    timer = dedent(f"""\
        [Unit]
        Description=wpfleet: WP-Cron of site {site.name} every {site.cron_minutes} min

        [Timer]
        OnCalendar=*:0/{site.cron_minutes}
        AccuracySec=10s

        [Install]
        WantedBy=timers.target
        """)
    return {f"{UNIT_DIR}/{unit}.service": service, f"{UNIT_DIR}/{unit}.timer": timer}


def tools_files() -> dict[str, str]:
    return {WP_BIN: wp_script(), LOGS_BIN: logs_script(), CRON_RUNNER: cron_runner(),
            LOGROTATE: logrotate_conf()}


def site_files(site: SiteConfig) -> dict[str, str]:
    return {wp_php.ini_path(site): wp_php.php_ini(site),
            wp_php.mail_path(site): wp_php.mail_plugin(site)}


def files(stack: StackConfig) -> dict[str, str]:
    if not stack.sites:
        return {}
    out = tools_files()
    for site in stack.sites:
        out.update(site_files(site))
        if site.cron_minutes:
            out.update(cron_units(site))
    return out


_PUT = dedent("""\
    R=${WPFLEET_ROOT:-}  # tests install under a scratch root; on the box: /
    SYSTEMCTL=${SYSTEMCTL:-systemctl}
    changed=0
    # put DEST MODE: write stdin to DEST only if it differs (idempotent, atomic, root-owned)
    put() {
      mkdir -p "$(dirname "$1")"
      local tmp; tmp=$(mktemp "$1.XXXXXX")
      cat >"$tmp"; chmod "$2" "$tmp"
      if [ -f "$1" ] && cmp -s "$tmp" "$1"; then rm -f "$tmp"; return 0; fi
      mv -f "$tmp" "$1"; echo "%(tag)s: wrote $1"; changed=1
    }
    """)


def _installs(paths: dict[str, str]) -> str:
    out = []
    for path, content in paths.items():
        if f"\n{EOF_MARK}\n" in f"\n{content}":  # a programming error: the heredoc would end
            raise AssertionError(f"{path} contains the heredoc marker {EOF_MARK}")
        mode = "0755" if path in (WP_BIN, LOGS_BIN, CRON_RUNNER) else "0644"
        out.append(f'put "$R"{path} {mode} <<\'{EOF_MARK}\'\n{content}{EOF_MARK}\n')
    return "".join(out)


def _removes(tag: str, paths: list[str]) -> str:
    return "".join(f'if [ -e "$R"{p} ]; then rm -f "$R"{p}; echo "{tag}: removed {p}"; fi\n'
                   for p in paths)


def _unchanged(tag: str, what: str) -> str:
    return f'[ "$changed" = 1 ] || echo "{tag}: {what} already in place; no change"\n'


def tools_command() -> BoxCommand:
    tag = "wp-tools"
    body = _PUT % {"tag": tag} + _installs(tools_files()) + _unchanged(tag, "tools")
    delete = _PUT % {"tag": tag} + _removes(tag, list(tools_files()))
    return BoxCommand(name=tag, create=script(body), update=script(body), delete=script(delete))


def site_command(site: SiteConfig) -> BoxCommand:
    tag = f"wp-site-{site.name}"
    body = (_PUT % {"tag": tag} + _installs(site_files(site))
            + _unchanged(tag, "PHP settings and mail plugin"))
    delete = _PUT % {"tag": tag} + _removes(tag, list(site_files(site)))
    return BoxCommand(name=tag, create=script(body), update=script(body), delete=script(delete))


def cron_command(site: SiteConfig) -> BoxCommand:
    tag, unit = f"wp-cron-{site.name}", f"wpfleet-cron-{site.name}"
    body = _PUT % {"tag": tag} + _installs(cron_units(site)) + dedent(f"""\
        if [ "$changed" = 1 ]; then "$SYSTEMCTL" daemon-reload; fi
        if ! "$SYSTEMCTL" is-active --quiet {unit}.timer; then
          "$SYSTEMCTL" enable --now {unit}.timer; echo "{tag}: started {unit}.timer"; changed=1
        elif [ "$changed" = 1 ]; then
          "$SYSTEMCTL" restart {unit}.timer; echo "{tag}: restarted {unit}.timer"
        fi
        """) + _unchanged(tag, f"{unit}.timer")
    delete = _PUT % {"tag": tag} + dedent(f"""\
        if "$SYSTEMCTL" is-enabled --quiet {unit}.timer 2>/dev/null; then
          "$SYSTEMCTL" disable --now {unit}.timer; echo "{tag}: stopped {unit}.timer"
        fi
        """) + _removes(tag, list(cron_units(site))) + '"$SYSTEMCTL" daemon-reload || true\n'
    return BoxCommand(name=tag, create=script(body), update=script(body), delete=script(delete))


def commands(stack: StackConfig) -> list[BoxCommand]:
    if not stack.sites:
        return []
    out = [tools_command()]
    for site in stack.sites:
        out.append(site_command(site))
        if site.cron_minutes:
            out.append(cron_command(site))
    return out


__all__ = ["commands", "cron_command", "files", "site_command", "tools_command"]
