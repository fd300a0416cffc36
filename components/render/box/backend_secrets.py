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

The script is the sites' own (render/secret_files.py: nothing written unless stdin holds exactly
the expected names, a file rewritten only when its content changed, atomically, files no longer
listed removed); its delete removes the backend's directory.
"""

from __future__ import annotations

import shlex

from components.config import BackendConfig, StackConfig
from components.render.command import BoxCommand, script
from components.render.secret_files import delete_body, writer_body

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


def secrets_command(backend: BackendConfig) -> BoxCommand:
    """Writes the backend's secret files; its container depends on it."""
    tag, quoted_dir = command_name(backend), shlex.quote(box_dir(backend))
    body = writer_body(
        tag=shlex.quote(tag), top=shlex.quote(TOP), dir=quoted_dir, keys=list(backend.secret_files),
        key_re="^[A-Za-z_][A-Za-z0-9_]*$", whose="this backend's secretFiles",
        setup='mkdir -p "$TOP" "$DIR"\nchown 0:0 "$TOP" "$DIR"; chmod 0700 "$TOP"; chmod 0755 "$DIR"',
        tmp_globs='"$DIR"/.tmp.*', mode="mode=0444 group=0", file_globs='"$DIR"/*',
        why_removed="no longer in secretFiles", whose_files="the backend's secret files")
    delete = delete_body(tag=shlex.quote(tag), dir=quoted_dir, shown=box_dir(backend))
    return BoxCommand(name=tag, create=script(body), update=script(body), delete=script(delete))


def files(stack: StackConfig) -> dict[str, str]:
    return {}  # the values are secrets: never rendered


def commands(stack: StackConfig) -> list[BoxCommand]:
    return [secrets_command(b) for b in stack.backends if b.image and b.secret_files]


__all__ = ["IN_CONTAINER", "TOP", "box_dir", "command_name", "commands", "env", "files",
           "secrets_command", "stdin_text"]
