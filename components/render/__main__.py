"""`python -m components.render STACK_FILE OUT_DIR`: write what the stack would put on the box.

Reads `Pulumi.<stack>.yaml` (secure: values are neither needed nor decrypted), validates it with
the same rules as the program, and writes every box file at its box path under OUT_DIR plus
every command script as OUT_DIR/commands/<resource-name>.sh (and .delete.sh). Contacts nothing.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import yaml

from components.config import NAMESPACE, ConfigError, StackConfig, parse
from components.render import BoxPlan, plan


def read_stack_file(path: Path) -> StackConfig:
    """Parse a stack file; secure: values count as secrets, plaintext secrets are rejected."""
    try:
        doc = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as e:
        raise ConfigError([f"{path}: cannot read the stack file ({e})"]) from None
    config = doc.get("config") or {}
    if not isinstance(config, dict):
        raise ConfigError([f"{path}: `config:` must be a mapping"])
    raw: dict[str, Any] = {}
    secret_keys: set[str] = set()
    for key, value in config.items():
        ns, _, name = str(key).partition(":")
        if ns != NAMESPACE or not name:
            continue  # other namespaces (docker:, command:) are not ours to check
        raw[name] = value
        if _has_secure(value):  # `--secret --path` nests secure: values inside an object
            secret_keys.add(name)
    return parse(raw, secret_keys)


def _has_secure(value: Any) -> bool:
    if isinstance(value, dict):
        return set(value) == {"secure"} or any(_has_secure(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_secure(v) for v in value)
    return False


def write_plan(box_plan: BoxPlan, out: Path) -> list[Path]:
    written: list[Path] = []

    def put(rel: str, text: str, mode: int) -> None:
        target = out / rel.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        os.chmod(target, mode)
        written.append(target)

    for box_path, content in box_plan.files.items():
        put(box_path, content, 0o644)
    for cmd in box_plan.commands:
        put(f"commands/{cmd.name}.sh", cmd.create, 0o755)
        if cmd.update is not None and cmd.update != cmd.create:
            put(f"commands/{cmd.name}.update.sh", cmd.update, 0o755)
        if cmd.delete is not None:
            put(f"commands/{cmd.name}.delete.sh", cmd.delete, 0o755)
    return written


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m components.render STACK_FILE OUT_DIR", file=sys.stderr)
        return 2
    try:
        stack = read_stack_file(Path(argv[0]))
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    written = write_plan(plan(stack), Path(argv[1]))
    print(f"wrote {len(written)} files under {argv[1]}")
    for path in written:
        print(f"  {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
