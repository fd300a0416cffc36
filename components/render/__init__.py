"""Pure functions from validated config to the text that lands on the box.

Every script the stack runs on the box is a `BoxCommand`: the Pulumi components turn each into
one command resource (named `BoxCommand.name`), and the render CLI writes the same scripts to
`OUT_DIR/commands/<name>.sh` (+ `.delete.sh`), so what users read is what runs.
"""

from __future__ import annotations

from dataclasses import dataclass

from components.config import StackConfig
from components.render.apache import certbot, vhost
from components.render.backup import restic
from components.render.box import backend_secrets, basics
from components.render.command import BoxCommand, as_root, owned, script
from components.render.wordpress import db, install, secrets, tools


@dataclass(frozen=True)
class BoxPlan:
    files: dict[str, str]  # box path -> content of every file the stack places on the box
    commands: tuple[BoxCommand, ...]


def plan(stack: StackConfig) -> BoxPlan:
    """Everything the stack puts on the box, in the order the stack applies it."""
    files: dict[str, str] = {}
    commands: list[BoxCommand] = []
    for module in (basics, secrets, db, install, vhost, certbot, tools, restic, backend_secrets):
        files.update(module.files(stack))
        commands.extend(module.commands(stack))
    names = [c.name for c in commands]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:  # a programming error, not a config one
        raise AssertionError(f"duplicate command names: {sorted(duplicates)}")
    return BoxPlan(files=files, commands=tuple(commands))


__all__ = ["BoxCommand", "BoxPlan", "as_root", "owned", "plan", "script"]
