"""Backups per box in a `wpfleet:boxes` stack: `boxes.NAME.backup` and `resticPasswords.<box>`.

The stack-wide `wpfleet:backup` is every box's default. A box's own `backup` block overrides it
key by key (`{repository: ...}` keeps the stack's schedule and retention); `enabled: false`
turns backups off on that box, and a stack-wide `enabled: false` leaves them off on every box
that does not say `enabled: true`. Each box with backups reads its restic password from the
secret `wpfleet:resticPasswords.<box>`, or the shared `wpfleet:resticPassword`.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Collection
from typing import Any

import pulumi

from components.config.checks import show
from components.config.model import (
    BACKUP_ENV_KEY,
    NAMESPACE,
    RESTIC_PASSWORD_KEY,
    RESTIC_PASSWORDS_KEY,
    FleetConfig,
    Secrets,
)
from components.config.secrets import set_path_hint, set_secret_hint

NS = NAMESPACE
BACKUP_KEY = "backup"


def box_backup(raw: dict[str, Any], settings: dict[str, Any]) -> Any:
    """The `backup` of one box's single-box view: the stack-wide block, the box's keys over it."""
    shared, own = raw.get(BACKUP_KEY), settings.get(BACKUP_KEY)
    if not isinstance(own, dict):  # absent, or refused by box_problems
        return shared
    if shared is None:
        return own
    if not isinstance(shared, dict):  # the single-box rules say what it must be
        return shared
    return {**shared, **own}


def box_problems(name: str, settings: dict[str, Any]) -> list[str]:
    """What is wrong with `boxes.NAME.backup` itself (its values are checked merged)."""
    own = settings.get(BACKUP_KEY)
    k = f"{NS}:boxes.{name}.{BACKUP_KEY}"
    if own is None:
        return []
    if not isinstance(own, dict):
        return [f"{k}: {show(own)} must be a mapping of wpfleet:backup's keys (each overrides "
                "the stack-wide value for this box), e.g. {repository: ...} or {enabled: false}"]
    others = sorted(key for key in own if key != "enabled")
    if own.get("enabled") is False and others:
        return [f"{k}: enabled: false turns backups off on box {name}, so {', '.join(others)} "
                "would do nothing; remove them (or enabled)"]
    return []


def env_repository(raw: dict[str, Any], boxes: dict[str, Any]) -> list[str]:
    """A box's own `repository` beside the stack-wide secret `backupEnv.RESTIC_REPOSITORY`: the
    programs read that env file after the repository, so the box's setting would be ignored."""
    env = raw.get(BACKUP_ENV_KEY)
    if not isinstance(env, dict) or _is_cipher(env) or "RESTIC_REPOSITORY" not in env:
        return []
    return [f"{NS}:boxes.{name}.{BACKUP_KEY}.repository: {show(own['repository'])} would be "
            f"ignored: the secret {NS}:{BACKUP_ENV_KEY}.RESTIC_REPOSITORY (stack-wide, read by "
            "every box) sets the repository; remove one of them"
            for name, settings in boxes.items()
            if isinstance(own := settings.get(BACKUP_KEY), dict) and "repository" in own]


def relabel(problem: str, name: str, settings: dict[str, Any]) -> str:
    """A single-box message about a key the box set itself, with the key the user wrote."""
    own = settings.get(BACKUP_KEY)
    if not isinstance(own, dict):
        return problem
    for key in own:
        problem = re.sub(rf"{NS}:{BACKUP_KEY}\.{re.escape(str(key))}\b",
                         f"{NS}:boxes.{name}.{BACKUP_KEY}.{key}", problem)
    return problem


def _is_cipher(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"secure"}


def password_names(fleet: FleetConfig, raw: dict[str, Any]) -> list[str]:
    """`resticPasswords` may only name boxes of the stack."""
    passwords = raw.get(RESTIC_PASSWORDS_KEY)
    if passwords is None or _is_cipher(passwords):
        return []
    k = f"{NS}:{RESTIC_PASSWORDS_KEY}"
    if not isinstance(passwords, dict):
        return [f"{k}: must be a mapping of box name to restic password; set each with "
                f"`{set_secret_hint(None, RESTIC_PASSWORDS_KEY)}`"]
    return [f"{k}.{name}: names no box in the stack ({', '.join(fleet.names)}); remove it "
            f"(`pulumi config rm --path '{k}.{name}'`)" for name in passwords
            if name not in fleet.names]


def own_password(name: str, raw: dict[str, Any]) -> bool:
    """Whether the box has its own `resticPasswords.<box>` (an encrypted whole map: assume so)."""
    per_box = raw.get(RESTIC_PASSWORDS_KEY)
    return _is_cipher(per_box) or (isinstance(per_box, dict) and name in per_box)


def with_password_keys(fleet: FleetConfig, raw: dict[str, Any]) -> FleetConfig:
    """Each box's backup names the secret its password comes from (for the box's messages)."""
    boxes = tuple((name, dataclasses.replace(st, backup=dataclasses.replace(
        st.backup, password_key=f"{RESTIC_PASSWORDS_KEY}.{name}")))
        if st.backup is not None and own_password(name, raw) else (name, st)
        for name, st in fleet.boxes)
    return dataclasses.replace(fleet, boxes=boxes)


def missing_passwords(fleet: FleetConfig, present: Collection[str] | dict[str, Any]) -> list[str]:
    """Each box with backups needs `resticPasswords.<box>` or the shared `resticPassword`.

    Without `resticPasswords` the stack-wide rule (secrets.missing_secrets) asks for
    `resticPassword`, word for word as before per-box passwords existed.
    """
    if RESTIC_PASSWORDS_KEY not in present or RESTIC_PASSWORD_KEY in present:
        return []
    per_box = present.get(RESTIC_PASSWORDS_KEY) if isinstance(present, dict) else None
    has = set(fleet.names) if per_box is None or _is_cipher(per_box) \
        else set(per_box) if isinstance(per_box, dict) else set()
    return [f"{NS}:{RESTIC_PASSWORDS_KEY}.{name}: is required by the backups of box {name} "
            f"because {NS}:{RESTIC_PASSWORD_KEY} (shared by all boxes) is not set; set one of "
            f"them with `{set_path_hint(f'{NS}:{RESTIC_PASSWORDS_KEY}.{name}')}`"
            for name, st in fleet.boxes if st.backup is not None and name not in has]


def passwords(fleet: FleetConfig, raw: dict[str, Any], shared: Secrets,
              cfg: pulumi.Config) -> dict[str, pulumi.Output[str]]:
    """The restic password of each box with backups, as a secret Output."""
    per_box = raw.get(RESTIC_PASSWORDS_KEY)
    whole = cfg.require_secret_object(RESTIC_PASSWORDS_KEY) \
        if isinstance(per_box, dict) and not _is_cipher(per_box) else None

    def one(name: str) -> pulumi.Output[str] | None:
        if whole is not None and own_password(name, raw):
            return pulumi.Output.secret(whole.apply(lambda d: str(d[name])))
        return shared.restic_password

    found = {name: one(name) for name, st in fleet.boxes if st.backup is not None}
    return {name: pw for name, pw in found.items() if pw is not None}


__all__ = ["box_backup", "box_problems", "env_repository", "missing_passwords", "own_password", "password_names",
           "passwords", "relabel", "with_password_keys"]
