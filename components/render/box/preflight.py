"""`box-docker-access`, `box-preflight` and `box-boot`: Docker for the provider, checks, boot.

`box-docker-access` installs Docker when `box.installDocker` asks for it, gives `box.user` the
docker group and prints the access stamp the Docker provider's ssh ControlPath carries. Its
inputs are the connection settings only: the provider's settings come from its stdout, so a
change elsewhere (adding a site) never leaves them unknown in `preview`, which would show every
Docker resource as an update.

Preflight collects every problem (Docker missing or stopped, Apache's ports taken by another
program, too little disk) and reports them all at once with the fix, so one `pulumi up` shows
everything that is wrong. It changes nothing.
"""

from __future__ import annotations

import shlex
from textwrap import dedent

from components.config import DEFAULT_BOX, StackConfig, name_prefix
from components.render.command import OWNERS_DIR, BoxCommand, script
from components.render.constants import APT_GET

# Programs that may already hold Apache's ports: Apache itself (Debian and RHEL names).
APACHE_PROCESSES = ("apache2", "httpd")


# Local mode: pulumi's own user, when Box.run started this script with `sudo -n bash -c`
# (not when pulumi itself runs under sudo: then the provider is root and needs no group).
LOCAL_USER = dedent("""\
    docker_user=""
    case "${SUDO_COMMAND:-}" in */bash\\ -c\\ *) docker_user=${SUDO_USER:-} ;; esac""")


def published_ports(stack: StackConfig) -> list[tuple[int, str, str]]:
    """(loopback port, container name, config key) for every port the containers publish."""
    out: list[tuple[int, str, str]] = []
    for i, s in enumerate(stack.sites):
        for r, port in enumerate(s.ports):
            key = f"wpfleet:sites[{i}].port" + (f"+{r}" if r else "")
            out.append((port, f"wpfleet-{s.name}-wp-{r}", key))
    for i, b in enumerate(stack.backends):
        if b.image and b.port is not None:
            out.append((b.port, f"wpfleet-{b.name}", f"wpfleet:backends[{i}].port"))
    return out


def _docker_user(stack: StackConfig) -> str:
    return LOCAL_USER if stack.box.local else f"docker_user={shlex.quote(stack.box.user)}"


def docker_access(stack: StackConfig) -> BoxCommand:
    """Docker installed (if asked) and usable by box.user; prints `docker-access-stamp=N`.

    Never fails because Docker is missing or stopped: box-preflight, next, reports that with
    every other problem at once.
    """
    install = dedent("""\
        if ! command -v "$DOCKER" >/dev/null 2>&1; then
          echo "box-docker-access: installing docker.io from the distribution (box.installDocker)"
          DEBIAN_FRONTEND=noninteractive %(apt)s update -q
          DEBIAN_FRONTEND=noninteractive %(apt)s install -y -q docker.io
          "$SYSTEMCTL" enable --now docker
        fi
        """) % {"apt": APT_GET} if stack.box.install_docker else ""
    body = dedent("""\
        # DOCKER, SYSTEMCTL and WPFLEET_ETC may be redirected by tests; the defaults are the box's.
        DOCKER=${DOCKER:-docker}
        SYSTEMCTL=${SYSTEMCTL:-systemctl}
        ETC=${WPFLEET_ETC:-/etc/wpfleet}
        # the user the Docker provider runs as (it runs `docker` without sudo)
        %(docker_user)s
        %(install)s
        mkdir -p -m 0700 "$ETC" && chmod 0700 "$ETC"
        stamp=0
        if command -v "$DOCKER" >/dev/null 2>&1 && [ -n "$docker_user" ] \\
            && [ "$docker_user" != root ]; then
          # the socket is root:docker 0660: the user needs the docker group (new logins only)
          stamp_file=$ETC/docker-access-$docker_user
          getent group docker >/dev/null || groupadd --system docker
          if ! id -nG "$docker_user" | tr ' ' '\\n' | grep -qx docker; then
            usermod -aG docker "$docker_user"
            date +%%s >"$stamp_file"
            echo "box-docker-access: added $docker_user to the docker group"
          fi
          [ -s "$stamp_file" ] || date +%%s >"$stamp_file"
          stamp=$(tr -cd '0-9' <"$stamp_file")
        fi
        %(limits)s
        # read by Box: the Docker provider's ssh ControlPath changes with the group membership
        echo "docker-access-stamp=$stamp"
        # read by Box: without swap accounting Docker stores MemorySwap=-1 whatever it is sent
        swap_limit=$("$DOCKER" info --format '{{.SwapLimit}}' 2>/dev/null || true)
        echo "docker-swap-limit=${swap_limit:-unknown}"
        """) % {"install": install, "docker_user": _docker_user(stack),
                "limits": "" if stack.box.local else SSH_LIMITS}
    return BoxCommand(name="box-docker-access", create=script(body), update=script(body))


# pulumi-command opens one SSH connection per command resource, and after the preflight dozens
# become ready at once (10 sites: 60+); a stock sshd's `MaxStartups 10:30:100` drops 30% of the
# unauthenticated connections past 10, and the command fails after its dial retries. Raised in
# the first command of every `up`, before that burst; hardenSsh's drop-in (00-wpfleet.conf, read
# first) sets its own, also raised, limits. Best effort: a box whose sshd refuses it keeps its
# config (the drop-in is removed again) and the run goes on.
SSH_LIMITS_DROP_IN = "/etc/ssh/sshd_config.d/01-wpfleet-connections.conf"
SSH_LIMITS_CONF = ("# wpfleet: pulumi-command opens one SSH connection per command, many at once",
                   "MaxStartups 100:30:200", "MaxSessions 50")
SSH_LIMITS = dedent(f"""\
    LIMITS=${{SSHD_LIMITS_DROP_IN:-{SSH_LIMITS_DROP_IN}}}
    SSHD=${{SSHD:-/usr/sbin/sshd}}
    SSHD_CONFIG=${{SSHD_CONFIG:-/etc/ssh/sshd_config}}
    want=$(printf '%s\\n' {" ".join(shlex.quote(line) for line in SSH_LIMITS_CONF)})
    if [ -d "$(dirname "$LIMITS")" ] && [ "$(cat "$LIMITS" 2>/dev/null)" != "$want" ]; then
      printf '%s\\n' "$want" > "$LIMITS.tmp" && mv -f "$LIMITS.tmp" "$LIMITS"
      if "$SSHD" -t -f "$SSHD_CONFIG" >/dev/null 2>&1; then
        # a socket-activated sshd not started yet reads it when it starts
        "$SYSTEMCTL" reload ssh 2>/dev/null || "$SYSTEMCTL" reload sshd 2>/dev/null || true
        echo "box-docker-access: raised sshd's MaxStartups/MaxSessions ($LIMITS)"
      else
        rm -f "$LIMITS"; echo "box-docker-access: sshd refused $LIMITS; left as it was" >&2
      fi
    fi""")


def preflight(stack: StackConfig) -> BoxCommand:
    q = shlex.quote
    ports = " ".join(str(p) for p in (stack.apache.http_port, stack.apache.https_port))
    body = dedent("""\
        # DOCKER may be redirected by tests; the default is the box's.
        DOCKER=${DOCKER:-docker}
        # the user the Docker provider runs as (it runs `docker` without sudo)
        %(docker_user)s
        problems=()
        docker_ok=0
        if ! command -v "$DOCKER" >/dev/null 2>&1; then
          problems+=("Docker is not installed: run 'apt-get install docker.io' on the box,"\
" or set wpfleet:box.installDocker: true")
        elif ! docker_version=$("$DOCKER" info --format '{{.ServerVersion}}' 2>&1); then
          why=$(printf %%s "$docker_version" | tr '\\n' ' ' | sed 's/^ *//' | cut -c1-200)
          problems+=("the Docker engine is not running or not reachable ($why):"\
" run 'systemctl enable --now docker' on the box")
        else
          docker_ok=1
        fi
        if [ "$docker_ok" = 1 ] && [ -n "$docker_user" ] && [ "$docker_user" != root ]; then
          if ! as_user=$(runuser -u "$docker_user" -- "$DOCKER" version \\
              --format '{{.Server.Version}}' 2>&1); then
            why=$(printf %%s "$as_user" | tr '\\n' ' ' | sed 's/^ *//' | cut -c1-200)
            problems+=("$docker_user cannot use Docker even in the docker group ($why):"\
" check the owner and mode of /var/run/docker.sock (root:docker 0660)")
          fi
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
        # loopback ports the containers will publish: free, or held by that very container
        published=$(cat <<'WPFLEET_PORTS'
        %(published)sWPFLEET_PORTS
        )
        wanted=$(awk '{ print $2 }' <<<"$published")
        while read -r port container key; do
          [ -n "$port" ] || continue
          other=""
          if [ "$docker_ok" = 1 ]; then
            other=$("$DOCKER" ps --filter "publish=$port" --format '{{.Names}}' 2>/dev/null \
              | grep -vx -- "$container" | head -n 1 || true)
          fi
          if [ -n "$other" ] && grep -qx -- "$other" <<<"$wanted"; then
            problems+=("port $port ($key, for $container) is held by $other, which this config"\
" moves to another port: Pulumi may create $container first; change the two in separate runs of pulumi up")
            continue
          elif [ -n "$other" ] && [[ $other == wpfleet-* ]]; then
            # Pulumi deletes what left the config only after creating what is new
            problems+=("port $port ($key, for $container) is held by $other, which is no longer"\
" in this config (a renamed or removed site or backend): it is deleted only after $container"\
" is created; stop it first (touch /run/wpfleet/hold/$other; docker stop $other: docs/operations.md,"\
" Renaming a site) or give $container another port")
            continue
          elif [ -n "$other" ]; then
            problems+=("port $port ($key, for $container) is published by the container $other:"\
" stop it or choose another port")
            continue
          fi
          listening=$(ss -Hltnp "sport = :$port" 2>/dev/null || true)
          [ -n "$listening" ] || continue
          if [ "$docker_ok" = 1 ] && "$DOCKER" ps --filter "publish=$port" --format '{{.Names}}' \
              2>/dev/null | grep -qx "$container"; then
            continue
          fi
          holders=$(printf '%%s\\n' "$listening" | grep -o '"[^"]*",pid=' | cut -d'"' -f2 \
            | sort -u | tr '\\n' ' ' || true)
          problems+=("port $port ($key, for $container) is used by ${holders:-another process}:"\
" stop that program or choose another port")
        done <<<"$published"
        %(owners)s
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
        """) % {"ports": ports, "apache": "|".join(map(q, APACHE_PROCESSES)),
                "min_mb": stack.box.min_free_disk_mb,
                "docker_user": _docker_user(stack),
                "published": "".join(f"{port} {name} {key}\n" for port, name, key
                                     in published_ports(stack)),
                "owners": _owner_check(stack)}
    # A changed threshold or port re-runs the check in place (update), never deletes anything.
    return BoxCommand(name="box-preflight", create=script(body), update=script(body))


def _owner_check(stack: StackConfig) -> str:
    """Shell: a problem when the box-wide commands on the box belong to another box name.

    A box renamed without `renamedFrom` would get its box-wide commands created again under
    the new names and every Docker resource replaced (a new provider): stopped here, before
    anything is created. The owner stamps (render/command.py `owned`) name each one's owner,
    e.g. `box-keeper` (box default) or `web1-box-keeper` (box web1).
    """
    name, was = stack.box.name, stack.box.renamed_from
    prefixes = [name_prefix(name)] + ([] if was is None else [name_prefix(was)])
    key = f"wpfleet:boxes.{name}.renamedFrom"
    if name == DEFAULT_BOX:
        key += " (wpfleet:box.renamedFrom in a wpfleet:box stack)"
    return dedent("""\
        # the box-wide commands on the box belong to this box, or to the one it was renamed from
        owners=%(dir)s
        allowed=(%(prefixes)s)
        for stamp in "$owners"/box-*; do
          [ -f "$stamp" ] || continue
          what=${stamp##*/}; owner=$(cat "$stamp" 2>/dev/null || true)
          [[ $owner == *"$what" ]] || continue
          ok=0; for pre in "${allowed[@]}"; do [ "$owner" != "$pre$what" ] || ok=1; done
          [ "$ok" = 0 ] || continue
          other=${owner%%"$what"}; other=${other%%-}; other=${other:-%(default)s}
          problems+=("this box was set up as the box $other ($what belongs to $owner): if you"\
" renamed that box to %(name)s, set %(key)s: $other so its resources are renamed, not created"\
" again and deleted (docs/operations.md, Renaming a box); if another box or stack manages"\
" this server, point %(name)s at another host")
          break
        done""") % {"dir": OWNERS_DIR, "prefixes": " ".join(shlex.quote(p) or "''" for p in prefixes),
                    "default": DEFAULT_BOX, "name": name, "key": key}


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
