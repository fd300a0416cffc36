"""Reading the stack config from the Pulumi runtime: the only place pulumi.Config is read.

`load()` reads the whole `wpfleet` map, validates it (`parse`) and reads the secrets the stack
needs as secret Outputs; fleet.py's `load()` does the same for a stack of several boxes.
"""

from __future__ import annotations

import json
from typing import Any

import pulumi

from components.config.model import (
    ADMIN_PASSWORDS_KEY,
    BACKUP_ENV_KEY,
    NAMESPACE,
    RESTIC_PASSWORD_KEY,
    RESTIC_PASSWORDS_KEY,
    SMTP_PASSWORD_KEY,
    ConfigError,
    Secrets,
    StackConfig,
)
from components.config.parser import parse
from components.config.secrets import missing_secrets, needs_smtp_password


def load() -> tuple[StackConfig, Secrets]:
    """Read the stack config from the Pulumi runtime (the only place pulumi.Config is read)."""
    raw, secret_keys = read_raw()
    stack = parse(raw, secret_keys)
    missing = missing_secrets(stack, raw)
    if missing:
        raise ConfigError(missing)
    return stack, read_secrets(stack, raw)


def read_raw() -> tuple[dict[str, Any], set[str]]:
    """The whole namespace-stripped config map and the names of the keys stored as secrets."""
    raw: dict[str, Any] = {}
    prefix = f"{NAMESPACE}:"
    # pulumi.Config can only read keys it is asked for; to refuse unknown keys (typos) the whole
    # map is needed: the engine hands it over as PULUMI_CONFIG or via set_all_config (mocks too)
    env = {**pulumi.runtime.get_config_env(), **pulumi.runtime.config.CONFIG.get()}
    for full_key, value in env.items():
        if full_key.startswith(prefix):
            raw[full_key[len(prefix):]] = _decode(value)
    secret_keys = {k[len(prefix):] for k in pulumi.runtime.get_config_secret_keys_env()
                   + list(pulumi.runtime.config._SECRET_KEYS.get()) if k.startswith(prefix)}
    return raw, secret_keys


def read_secrets(stack: StackConfig, raw: dict[str, Any]) -> Secrets:
    """The secrets this (validated) stack needs, as secret Outputs."""
    cfg = pulumi.Config(NAMESPACE)
    secrets = Secrets(
        ssh_private_key=None if stack.box.local else cfg.require_secret("sshPrivateKey"),
        duckdns_token=cfg.require_secret("duckdnsToken") if stack.duckdns else None,
        backend_secrets=cfg.get_secret_object("backendSecrets")
        if any(b.secret_names for b in stack.backends) else None,
        admin_passwords=_admin_passwords(cfg, raw.get(ADMIN_PASSWORDS_KEY)),
        # shared by the boxes without their own wpfleet:resticPasswords.<box>
        restic_password=cfg.require_secret(RESTIC_PASSWORD_KEY) if stack.backup and (
            RESTIC_PASSWORD_KEY in raw or RESTIC_PASSWORDS_KEY not in raw) else None,
        backup_env=cfg.get_secret_object(BACKUP_ENV_KEY)
        if stack.backup and BACKUP_ENV_KEY in raw else None,
        # raw text (one password, or a JSON map by site): decoded per site, still secret
        smtp_passwords=cfg.require_secret(SMTP_PASSWORD_KEY)
        if needs_smtp_password(stack) else None,
    )
    return secrets


def _admin_passwords(cfg: pulumi.Config, raw: Any) -> dict[str, pulumi.Output[str]]:
    """One secret Output per configured site (parse() checked the names and values)."""
    if not isinstance(raw, dict) or not raw:
        return {}
    whole = cfg.require_secret_object(ADMIN_PASSWORDS_KEY)

    def one(name: str) -> pulumi.Output[str]:
        return whole.apply(lambda d: str(d[name]))

    return {name: one(name) for name in raw}


def _decode(value: Any) -> Any:
    """Structured config values reach the program as JSON strings."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


__all__ = ["load", "read_raw", "read_secrets"]
