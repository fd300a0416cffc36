"""`box-keeper`: wpfleet's containers that were stopped by hand are started again.

Docker's `unless-stopped` brings containers back after a crash or a reboot, but not after a
`docker stop`. `pulumi up` cannot either: the Docker provider reads a stopped container's
published ports back as none, and the next `up` would *replace* it (delete, create) instead of
starting it (issue 20 item 7). So the containers carry `must_run: false` (the provider leaves a
stopped one alone: no drift, no replacement) and this timer starts, once a minute, every wpfleet
container (label `org.wpfleet.role`) that has been stopped for longer than a grace period. The
grace keeps it away from containers being replaced or removed (stop, then remove, in seconds);
`wpfleet-restore` holds the replicas it stops (`/run/wpfleet/hold/<container>`), and an operator
who wants one stopped for a while does the same: `touch /run/wpfleet/hold/<container>` (gone at
the next reboot).
"""

from __future__ import annotations

from textwrap import dedent

from components.config import StackConfig
from components.render.command import BoxCommand, put_function, script

UNIT = "wpfleet-keeper"
UNIT_DIR = "/etc/systemd/system"
KEEPER = "/usr/local/lib/wpfleet/keeper"
HOLD_DIR = "/run/wpfleet/hold"
GRACE_SECONDS = 120

_KEEPER = dedent(f"""\
    #!/bin/bash
    # wpfleet: start wpfleet's containers that were stopped by hand (docs/operations.md)
    set -euo pipefail
    DOCKER=${{DOCKER:-docker}}
    HOLD=${{WPFLEET_HOLD_DIR:-{HOLD_DIR}}}
    GRACE=${{WPFLEET_KEEPER_GRACE:-{GRACE_SECONDS}}}
    now=$(date +%s)
    "$DOCKER" ps -a --filter label=org.wpfleet.role --filter status=exited \\
        --format '{{{{.Names}}}}' | while read -r name; do
      [ -n "$name" ] || continue
      if [ -e "$HOLD/$name" ]; then echo "wpfleet-keeper: $name is held ($HOLD/$name)"; continue; fi
      finished=$("$DOCKER" inspect -f '{{{{.State.FinishedAt}}}}' "$name" 2>/dev/null) || continue
      stopped=$(date -d "$finished" +%s 2>/dev/null) || continue
      [ $((now - stopped)) -ge "$GRACE" ] || continue
      if "$DOCKER" start "$name" >/dev/null; then
        echo "wpfleet-keeper: started $name (stopped since $finished)"
      else
        echo "wpfleet-keeper: could not start $name" >&2
      fi
    done
    """)


def units() -> dict[str, str]:
    service = dedent(f"""\
        [Unit]
        Description=wpfleet: start wpfleet's containers that were stopped by hand
        After=docker.service
        Requires=docker.service

        [Service]
        Type=oneshot
        ExecStart={KEEPER}
        """)
    timer = dedent("""\
        [Unit]
        Description=wpfleet: start wpfleet's stopped containers every minute

        [Timer]
        OnBootSec=2min
        OnUnitActiveSec=1min

        [Install]
        WantedBy=timers.target
        """)
    return {f"{UNIT_DIR}/{UNIT}.service": service, f"{UNIT_DIR}/{UNIT}.timer": timer}


def files(stack: StackConfig) -> dict[str, str]:
    return {KEEPER: _KEEPER, **units()}


_PATHS = dedent(f"""\
    # paths and tools may be redirected by tests; the defaults are the box's own
    LIB=${{WPFLEET_LIB:-{KEEPER.rsplit("/", 1)[0]}}}
    UNIT_DIR=${{SYSTEMD_UNIT_DIR:-{UNIT_DIR}}}
    SYSTEMCTL=${{SYSTEMCTL:-systemctl}}
    """)


def keeper(stack: StackConfig) -> BoxCommand:
    installs = []
    for path, content in files(stack).items():
        dest = '"$LIB"/keeper' if path == KEEPER else f'"$UNIT_DIR"/{path.rsplit("/", 1)[1]}'
        mode = "0755" if path == KEEPER else "0644"
        installs.append(f"put {dest} {mode} <<'WPFLEET_EOF'\n{content}WPFLEET_EOF\n")
    body = _PATHS + put_function("box-keeper") + dedent("""\
        mkdir -p "$LIB" "$UNIT_DIR"
        """) + "".join(installs) + dedent("""\
        if [ "$changed" = 1 ]; then "$SYSTEMCTL" daemon-reload; fi
        if ! "$SYSTEMCTL" is-enabled --quiet %(unit)s.timer 2>/dev/null; then
          "$SYSTEMCTL" enable --now %(unit)s.timer
          echo "box-keeper: enabled %(unit)s.timer"; changed=1
        fi
        [ "$changed" = 1 ] || echo "box-keeper: keeper and timer already in place; no change"
        """) % {"unit": UNIT}
    delete = _PATHS + dedent("""\
        if "$SYSTEMCTL" is-enabled --quiet %(unit)s.timer 2>/dev/null; then
          "$SYSTEMCTL" disable --now %(unit)s.timer; echo "box-keeper: disabled %(unit)s.timer"
        fi
        for f in "$UNIT_DIR"/%(unit)s.timer "$UNIT_DIR"/%(unit)s.service "$LIB"/keeper; do
          if [ -e "$f" ]; then rm -f "$f"; echo "box-keeper: removed $f"; fi
        done
        "$SYSTEMCTL" daemon-reload || true
        """) % {"unit": UNIT}
    return BoxCommand(name="box-keeper", create=script(body), update=script(body),
                      delete=script(delete))
