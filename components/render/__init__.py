"""Pure functions from validated config to the text that lands on the box.

Every script the stack runs on the box is a `BoxCommand`: the Pulumi components turn each into
one command resource (named `BoxCommand.name`), and the render CLI writes the same scripts to
`OUT_DIR/commands/<name>.sh` (+ `.delete.sh`), so what users read is what runs.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field

from components.config import StackConfig


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


@dataclass(frozen=True)
class BoxPlan:
    files: dict[str, str]  # box path -> content of every file the stack places on the box
    commands: tuple[BoxCommand, ...]


def plan(stack: StackConfig) -> BoxPlan:
    """Everything the stack puts on the box, in the order the stack applies it."""
    from components.render import apache, backup, box, certbot, wordpress, wp_tools

    files: dict[str, str] = {}
    commands: list[BoxCommand] = []
    for module in (box, wordpress, apache, certbot, wp_tools, backup):
        files.update(module.files(stack))
        commands.extend(module.commands(stack))
    names = [c.name for c in commands]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:  # a programming error, not a config one
        raise AssertionError(f"duplicate command names: {sorted(duplicates)}")
    return BoxPlan(files=files, commands=tuple(commands))


__all__ = ["BoxCommand", "BoxPlan", "as_root", "plan", "script"]
