"""`box-duckdns`: keep DuckDNS records on the box's changing home IP (systemd service + timer).

The token arrives on stdin (never argv), is stored root-only (0600) and is handed to curl as a
config read from stdin, so it never appears in `ps`, in logs or in Pulumi's recorded inputs.
"""

from __future__ import annotations

import shlex
from textwrap import dedent

from components.config import DUCKDNS_TOKEN_KEY, DuckDnsConfig, StackConfig
from components.render.command import BoxCommand, put_function, script

UPDATER = "/usr/local/lib/wpfleet/duckdns-update"
TOKEN_FILE = "/etc/wpfleet/duckdns.token"  # noqa: S105 - a path, not a secret
UNIT = "wpfleet-duckdns"
UNIT_DIR = "/etc/systemd/system"


def updater(duck: DuckDnsConfig) -> str:
    """The script the timer runs: one update request; a KO answer exits non-zero."""
    domains = ",".join(duck.domains)
    return script(dedent("""\
        # wpfleet: DuckDNS updater for %(domains)s (managed by wpfleet; edits are overwritten)
        TOKEN_FILE=${DUCKDNS_TOKEN_FILE:-%(token_file)s}
        url=%(url)s
        domains=%(domains_q)s
        token=$(<"$TOKEN_FILE")
        # the request goes to curl as a config on stdin: the token never reaches a command line
        if ! answer=$(printf 'url = "%%s?domains=%%s&token=%%s&ip="\\n' \\
            "$url" "$domains" "$token" \\
            | curl --silent --show-error --max-time 30 --retry 2 --config -); then
          echo "duckdns: update of $domains failed: $url unreachable" >&2
          exit 2
        fi
        case "$answer" in
          OK*) echo "duckdns: $domains updated (OK)" ;;
          *) echo "duckdns: update of $domains answered ${answer:0:20}:" \\
               "check wpfleet:duckdnsToken and wpfleet:duckdns.domains" >&2
             exit 1 ;;
        esac
        """) % {"domains": domains, "domains_q": shlex.quote(domains),
                "url": shlex.quote(duck.update_url), "token_file": TOKEN_FILE})


def units(duck: DuckDnsConfig) -> dict[str, str]:
    service = dedent(f"""\
        [Unit]
        Description=wpfleet: update DuckDNS records ({",".join(duck.domains)})
        Wants=network-online.target
        After=network-online.target

        [Service]
        Type=oneshot
        ExecStart={UPDATER}
        """)
    timer = dedent(f"""\
        [Unit]
        Description=wpfleet: update DuckDNS every {duck.interval_minutes} minutes and at boot

        [Timer]
        OnBootSec=30s
        OnUnitActiveSec={duck.interval_minutes}min

        [Install]
        WantedBy=timers.target
        """)
    return {f"{UNIT_DIR}/{UNIT}.service": service, f"{UNIT_DIR}/{UNIT}.timer": timer}


def files(stack: StackConfig) -> dict[str, str]:
    if stack.duckdns is None:
        return {}
    return {UPDATER: updater(stack.duckdns), **units(stack.duckdns)}


_PATHS = dedent(f"""\
    # paths and tools may be redirected by tests; the defaults are the box's own
    TOKEN_FILE=${{DUCKDNS_TOKEN_FILE:-{TOKEN_FILE}}}
    LIB=${{WPFLEET_LIB:-{UPDATER.rsplit("/", 1)[0]}}}
    UNIT_DIR=${{SYSTEMD_UNIT_DIR:-{UNIT_DIR}}}
    SYSTEMCTL=${{SYSTEMCTL:-systemctl}}
    """)


def duckdns(stack: StackConfig) -> BoxCommand | None:
    if stack.duckdns is None:
        return None
    installs = []
    for path, content in files(stack).items():
        dest = ('"$LIB"/duckdns-update' if path == UPDATER
                else f'"$UNIT_DIR"/{path.rsplit("/", 1)[1]}')
        mode = "0755" if path == UPDATER else "0644"
        installs.append(f"put {dest} {mode} <<'WPFLEET_EOF'\n{content}WPFLEET_EOF\n")
    body = _PATHS + put_function("box-duckdns") + dedent("""\
        IFS= read -r token || true
        if [ -z "$token" ]; then
          echo "box-duckdns: no token on stdin: set it with" \\
            "'pulumi config set --secret wpfleet:duckdnsToken' (it asks for the token)" >&2
          exit 1
        fi
        case "$token" in
          *[!A-Za-z0-9-]*)
            echo "box-duckdns: wpfleet:duckdnsToken has characters a DuckDNS token never has" \\
              "(expected a UUID)" >&2
            exit 1 ;;
        esac
        mkdir -p -m 0700 "$(dirname "$TOKEN_FILE")" && chmod 0700 "$(dirname "$TOKEN_FILE")"
        mkdir -p "$LIB" "$UNIT_DIR"
        # mktemp creates 0600 files: the token is root-only from the moment it exists; a
        # here-string (not echo | ...) keeps it off every command line and in this shell
        put "$TOKEN_FILE" 0600 <<<"$token"
        """) + "".join(installs) + dedent("""\
        if [ "$changed" = 1 ]; then "$SYSTEMCTL" daemon-reload; fi
        if ! "$SYSTEMCTL" is-enabled --quiet %(unit)s.timer 2>/dev/null; then
          "$SYSTEMCTL" enable --now %(unit)s.timer
          echo "box-duckdns: enabled %(unit)s.timer"; changed=1
        fi
        # update now, so a wrong token or domain fails this deployment instead of failing silently
        DUCKDNS_TOKEN_FILE="$TOKEN_FILE" "$LIB"/duckdns-update
        [ "$changed" = 1 ] \\
          || echo "box-duckdns: updater, token and timer already in place; no change"
        """) % {"unit": UNIT}
    delete = _PATHS + dedent("""\
        # duckdns removed from the config: stop the timer, remove the files and the token
        if "$SYSTEMCTL" is-enabled --quiet %(unit)s.timer 2>/dev/null; then
          "$SYSTEMCTL" disable --now %(unit)s.timer; echo "box-duckdns: disabled %(unit)s.timer"
        fi
        for f in "$UNIT_DIR"/%(unit)s.timer "$UNIT_DIR"/%(unit)s.service \\
                 "$LIB"/duckdns-update "$TOKEN_FILE"; do
          if [ -e "$f" ]; then rm -f "$f"; echo "box-duckdns: removed $f"; fi
        done
        "$SYSTEMCTL" daemon-reload || true
        """) % {"unit": UNIT}
    return BoxCommand(name="box-duckdns", create=script(body), update=script(body),
                      delete=script(delete),
                      stdin_secret=DUCKDNS_TOKEN_KEY)
