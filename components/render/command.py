"""`BoxCommand`, the unit of work on the box, and the two helpers every box script uses.

Imports nothing of wpfleet: every module of render/ builds its commands with these, and the
Box component runs them (as root, directly or through sudo).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field


@dataclass(frozen=True, kw_only=True)
class BoxCommand:
    name: str  # Pulumi resource name; also OUT_DIR/commands/<name>.sh
    create: str  # bash script, run as root on the box
    update: str | None = None  # in-place re-application (defaults to create)
    delete: str | None = None  # undo; tolerates a box where nothing is left
    stdin_secret: str | None = None  # name of the secret fed on stdin (never on argv)
    # values that, when changed, must REPLACE the command (delete + create) rather than update
    triggers: tuple[str, ...] = field(default=())


def script(body: str) -> str:
    """A box script: strict bash, the body dedented by the caller."""
    return "#!/bin/bash\nset -euo pipefail\n" + body.lstrip("\n")


def as_root(text: str, sudo: bool) -> str:
    """The command line that runs a script as root: directly, or with passwordless sudo."""
    quoted = shlex.quote(text)
    return f"sudo -n bash -c {quoted}" if sudo else f"bash -c {quoted}"


__all__ = ["BoxCommand", "as_root", "script"]
