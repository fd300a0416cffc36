"""`box-preflight` and `box-boot`: check the box before anything lands on it; services at boot.

Preflight collects every problem (Docker missing or stopped, Apache's ports taken by another
program, too little disk) and reports them all at once with the fix, so one `pulumi up` shows
everything that is wrong. It changes nothing unless `box.installDocker` asks it to.
"""

from __future__ import annotations

import shlex
from textwrap import dedent

from components.config import StackConfig
from components.render import BoxCommand, script

# Programs that may already hold Apache's ports: Apache itself (Debian and RHEL names).
APACHE_PROCESSES = ("apache2", "httpd")


def preflight(stack: StackConfig) -> BoxCommand:
    q = shlex.quote
    install = dedent("""\
        if ! command -v "$DOCKER" >/dev/null 2>&1; then
          echo "box-preflight: installing docker.io from the distribution (box.installDocker)"
          DEBIAN_FRONTEND=noninteractive apt-get update -q
          DEBIAN_FRONTEND=noninteractive apt-get install -y -q docker.io
          "$SYSTEMCTL" enable --now docker
        fi
        """) if stack.box.install_docker else ""
    ports = " ".join(str(p) for p in (stack.apache.http_port, stack.apache.https_port))
    body = dedent("""\
        # DOCKER and SYSTEMCTL may be redirected by tests; the defaults are the box's own tools.
        DOCKER=${DOCKER:-docker}
        SYSTEMCTL=${SYSTEMCTL:-systemctl}
        problems=()
        %(install)s
        if ! command -v "$DOCKER" >/dev/null 2>&1; then
          problems+=("Docker is not installed: run 'apt-get install docker.io' on the box,"\
" or set wpfleet:box.installDocker: true")
        elif ! docker_version=$("$DOCKER" info --format '{{.ServerVersion}}' 2>&1); then
          why=$(printf %%s "$docker_version" | tr '\\n' ' ' | sed 's/^ *//' | cut -c1-200)
          problems+=("the Docker engine is not running or not reachable ($why):"\
" run 'systemctl enable --now docker' on the box")
        fi
        for port in %(ports)s; do
          # the processes listening on the port, e.g. users:(("nginx",pid=12,fd=6))
          listening=$(ss -Hltnp "sport = :$port" 2>/dev/null || true)
          [ -n "$listening" ] || continue
          holders=$(printf '%%s\\n' "$listening" | grep -o '"[^"]*",pid=' | cut -d'"' -f2 \
            | sort -u || true)
          [ -n "$holders" ] || holders=unknown-process
          for prog in $holders; do
            case "$prog" in
              %(apache)s) ;;
              *) problems+=("port $port is used by $prog, not Apache: stop it"\
" (systemctl disable --now $prog) or choose another wpfleet:apache.httpPort/httpsPort") ;;
            esac
          done
        done
        disk_dir=/var/lib/docker
        [ -d "$disk_dir" ] || disk_dir=/
        free_mb=$(df -Pm "$disk_dir" | awk 'NR == 2 { print $4 }')
        if [ "$free_mb" -lt %(min_mb)d ]; then
          problems+=("only ${free_mb} MB free on $disk_dir, below wpfleet:box.minFreeDiskMb"\
" (%(min_mb)d MB): free disk space (docker system prune) or lower the setting")
        fi
        if [ "${#problems[@]}" -gt 0 ]; then
          echo "box-preflight: the box is not ready (${#problems[@]} problem(s)):" >&2
          for p in "${problems[@]}"; do echo "  - $p" >&2; done
          exit 1
        fi
        echo "box-preflight: ok: Docker ${docker_version} running;"\
" ports %(ports)s free or Apache's; ${free_mb} MB free on $disk_dir"
        """) % {"install": install, "ports": ports, "apache": "|".join(map(q, APACHE_PROCESSES)),
                "min_mb": stack.box.min_free_disk_mb}
    # A changed threshold or port re-runs the check in place (update), never deletes anything.
    return BoxCommand(name="box-preflight", create=script(body), update=script(body))


def boot(stack: StackConfig) -> BoxCommand:
    """Docker and Apache start at boot; containers come back through `restart: unless-stopped`."""
    body = dedent("""\
        SYSTEMCTL=${SYSTEMCTL:-systemctl}
        changed=0
        for unit in docker apache2; do
          if ! "$SYSTEMCTL" cat "$unit.service" >/dev/null 2>&1; then
            # apache2 is installed later by the Apache step; Debian's package enables it itself
            echo "box-boot: $unit.service is not installed yet; skipped"
            continue
          fi
          if [ "$("$SYSTEMCTL" is-enabled "$unit.service" 2>/dev/null || true)" != enabled ]; then
            "$SYSTEMCTL" enable "$unit.service"
            echo "box-boot: enabled $unit.service at boot"
            changed=1
          fi
        done
        [ "$changed" = 1 ] || echo "box-boot: docker and apache2 already start at boot; no change"
        """)
    return BoxCommand(name="box-boot", create=script(body), update=script(body))
