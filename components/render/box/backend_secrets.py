"""`backend-secrets-<backend>`: a backend container's `secretFiles` as files on the box.

Why: a backend's `secretEnv` values are environment variables of its container, which Docker
keeps in the container's config; `docker inspect` shows them and the Docker provider logs that
inspect at debug level into Pulumi's automatic logs (render/wordpress/secrets.py tells the same
of the sites, whose images read `<NAME>_FILE`). A backend whose code can read a file lists the
names under `secretFiles` instead: the values then reach the box on this command's stdin (never
an argv, never printed, never an input of the container) and the container gets only paths:

    /etc/wpfleet/backend-secrets        0700 root   nobody else on the box gets past it
      <backend>/                        0755 root   -> the container's /run/secrets (read-only)
        NAME                            0444 root   one file per name, its value, no newline
    container environment:              NAME_FILE=/run/secrets/NAME

The files are readable by any user inside the container (the backend's image may run as any
uid, as with Docker's own secrets under /run/secrets); on the box the 0700 parent hides them (a
bind mount is reached in the container without walking its parents). The directory is mounted,
not each file: a rotated value is written by a rename in the directory, which the running
container sees at once (a backend that reads the file only when it starts needs a restart:
docs/operations.md, "Rotating secrets").

The script checks that stdin holds exactly the expected names before writing anything, writes a
file only when its content changed (atomically), removes files no longer listed, prints the names
it wrote, and its delete removes the backend's directory.
"""

from __future__ import annotations

import shlex
from textwrap import dedent

from components.config import BackendConfig, StackConfig
from components.render.command import BoxCommand, script

TOP = "/etc/wpfleet/backend-secrets"
IN_CONTAINER = "/run/secrets"


def command_name(backend: BackendConfig) -> str:
    return f"backend-secrets-{backend.name}"


def box_dir(backend: BackendConfig) -> str:
    return f"{TOP}/{backend.name}"


def env(backend: BackendConfig) -> list[str]:
    """The container's variables for its secret files: paths only."""
    return [f"{name}_FILE={IN_CONTAINER}/{name}" for name in backend.secret_files]


def stdin_text(backend: BackendConfig, values: dict[str, str]) -> str:
    """What `backend-secrets-<backend>` reads: one `NAME=value` line per file. Errors name the
    secret, never its value."""
    lines = []
    for name in backend.secret_files:
        value = values.get(name, "")
        if not value or "\n" in value or "\r" in value:
            raise ValueError(f"wpfleet:backendSecrets.{backend.name}.{name}: is empty or not one "
                             "line (a secret file holds one line)")
        lines.append(f"{name}={value}\n")
    return "".join(lines)


_BODY = dedent("""\
    TAG=%(tag)s
    R=${WPFLEET_ROOT:-}  # tests write under a scratch root; on the box: /
    TOP="$R"%(top)s
    DIR="$R"%(dir)s
    umask 077
    declare -A want=(%(want)s) value=()
    # read every line first: nothing is written unless exactly the expected names came
    while IFS= read -r line || [ -n "$line" ]; do
      [ -n "$line" ] || continue
      key=${line%%%%=*}
      if ! [[ $key =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || [ "$key" = "$line" ] \\
          || [ -z "${want[$key]:-}" ]; then
        echo "$TAG: a line on stdin is not one of this backend's secretFiles (not shown)" >&2
        exit 1
      fi
      [ -n "${line#*=}" ] || { echo "$TAG: $key is empty on stdin" >&2; exit 1; }
      value[$key]=${line#*=}
    done
    for key in "${!want[@]}"; do
      [ -n "${value[$key]:-}" ] || { echo "$TAG: no $key on stdin" >&2; exit 1; }
    done
    mkdir -p "$TOP" "$DIR"
    chown 0:0 "$TOP" "$DIR"; chmod 0700 "$TOP"; chmod 0755 "$DIR"
    rm -f "$DIR"/.tmp.*  # left by an interrupted run
    changed=0
    for key in $(printf '%%s\\n' "${!want[@]}" | sort); do
      dest="$DIR/$key"
      tmp=$(mktemp "$DIR/.tmp.XXXXXX")  # 0600 root from the start, same directory
      printf '%%s' "${value[$key]}" > "$tmp"  # a builtin: the value is on no argv
      chown 0:0 "$tmp"; chmod 0444 "$tmp"
      if [ -f "$dest" ] && cmp -s "$tmp" "$dest"; then
        rm -f "$tmp"; chown 0:0 "$dest"; chmod 0444 "$dest"
      else
        mv -f "$tmp" "$dest"; echo "$TAG: wrote $key"; changed=1
      fi
    done
    for f in "$DIR"/*; do
      key=${f#"$DIR/"}
      if [ -e "$f" ] && [ -z "${want[$key]:-}" ]; then
        rm -rf "$f"; echo "$TAG: removed $key (no longer in secretFiles)"; changed=1
      fi
    done
    [ "$changed" = 1 ] || echo "$TAG: the backend's secret files are up to date; no change"
    """)

_DELETE = dedent("""\
    R=${WPFLEET_ROOT:-}
    DIR="$R"%(dir)s
    if [ -e "$DIR" ]; then rm -rf "$DIR"; echo "%(tag)s: removed %(shown)s"; fi
    """)


def secrets_command(backend: BackendConfig) -> BoxCommand:
    """Writes the backend's secret files; its container depends on it."""
    tag = command_name(backend)
    fill = {"tag": shlex.quote(tag), "top": shlex.quote(TOP), "dir": shlex.quote(box_dir(backend)),
            "shown": box_dir(backend), "want": " ".join(f"[{k}]=1" for k in backend.secret_files)}
    return BoxCommand(name=tag, create=script(_BODY % fill), update=script(_BODY % fill),
                      delete=script(_DELETE % fill))


def files(stack: StackConfig) -> dict[str, str]:
    return {}  # the values are secrets: never rendered


def commands(stack: StackConfig) -> list[BoxCommand]:
    return [secrets_command(b) for b in stack.backends if b.image and b.secret_files]


__all__ = ["IN_CONTAINER", "TOP", "box_dir", "command_name", "commands", "env", "files",
           "secrets_command", "stdin_text"]
