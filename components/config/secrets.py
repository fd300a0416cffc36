"""Which secret keys a stack needs, and the command that sets each: one rule for `up` and render.

Secrets are separate keys (`pulumi config set --secret`), never inside a structured value;
map-shaped ones are set one entry at a time with `--path`. Messages name keys, never values,
and the commands they suggest never take a value as an argument (pulumi asks for it).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import pulumi

from components.config.model import (
    BACKEND_SECRETS_KEY,
    BACKUP_ENV_KEY,
    DUCKDNS_TOKEN_KEY,
    MAP_SECRET_KEYS,
    NAMESPACE,
    RESTIC_PASSWORD_KEY,
    RESTIC_PASSWORDS_KEY,
    SCALAR_OR_MAP_SECRET_KEYS,
    SMTP_PASSWORD_KEY,
    SSH_KEY_KEY,
    SSH_KEYS_KEY,
    BackendConfig,
    StackConfig,
)


def missing_secrets(stack: StackConfig, present: Collection[str]) -> list[str]:
    """A problem for each secret this stack needs but `present` lacks (`up` and render alike)."""
    needed = ((SSH_KEY_KEY, not stack.box.local), (DUCKDNS_TOKEN_KEY, stack.duckdns is not None),
              (BACKEND_SECRETS_KEY, any(b.secret_names for b in stack.backends)),
              # with resticPasswords, fleet_backup.missing_passwords checks each box
              (RESTIC_PASSWORD_KEY, stack.backup is not None
               and RESTIC_PASSWORDS_KEY not in present),
              (BACKUP_ENV_KEY, stack.backup is not None and stack.backup.repository is None),
              (SMTP_PASSWORD_KEY, needs_smtp_password(stack)))
    return [f"{NAMESPACE}:{key}: is required by this stack but not set; set it with "
            f"`{set_secret_hint(stack, key)}`" for key, need in needed if need and key not in present]


def set_secret_hint(stack: StackConfig | None, key: str, value: Any = None) -> str:
    """The command that stores a secret key; a map-shaped one (MAP_SECRET_KEYS) is set one entry
    at a time. `value` is the plaintext found, if any: one string keeps a scalar-or-map key whole."""
    if key not in MAP_SECRET_KEYS or (key in SCALAR_OR_MAP_SECRET_KEYS
                                      and not isinstance(value, dict)):
        source = " < KEY_FILE" if key == SSH_KEY_KEY else ""
        return f"pulumi config set --secret {NAMESPACE}:{key}{source}"
    entry = MAP_SECRET_KEYS[key]
    b = next((b for b in stack.backends if b.secret_names), None) if stack else None
    if key == BACKEND_SECRETS_KEY and b:
        entry = f"{b.name}.{b.secret_names[0]}"
    return set_path_hint(f"{NAMESPACE}:{key}.{entry}")


def set_path_hint(path: str) -> str:
    """The command that stores one entry of a map-shaped secret (`wpfleet:adminPasswords.blog`).

    The value is never an argument (shell history, `ps`): without one, pulumi asks for it
    without echoing it, or reads it from stdin (`< KEY_FILE`, `... | pulumi config set ...`).
    """
    source = " < KEY_FILE" if path.startswith(f"{NAMESPACE}:{SSH_KEYS_KEY}.") else ""
    return f"pulumi config set --secret --path '{path}'{source}"


def backend_secret_values(backend: BackendConfig, secrets: Any) -> dict[str, str]:
    """NAME -> value for each of the backend's `secretEnv` and `secretFiles` names, from
    `wpfleet:backendSecrets`.

    The documented shape is `{backend-name: {NAME: value}}`; a flat `{NAME: value}` already
    selected for this backend is accepted too.
    """
    if not isinstance(secrets, dict):
        secrets = {}
    scoped = secrets.get(backend.name)
    values = scoped if isinstance(scoped, dict) else secrets
    missing = [k for k in backend.secret_names if k not in values]
    if missing:
        # names only: never the values
        where = "secretEnv" if missing[0] in backend.secret_env else "secretFiles"
        raise pulumi.RunError(
            f"wpfleet:backendSecrets.{backend.name}: missing {', '.join(missing)} listed in "
            f"wpfleet:backends[{backend.name}].{where}; set them with `pulumi config set "
            f"--secret --path 'wpfleet:backendSecrets.{backend.name}.{missing[0]}'` (it asks "
            "for the value)")
    return {k: str(values[k]) for k in backend.secret_names}


def secret_env_values(backend: BackendConfig, secrets: Any) -> list[str]:
    """`K=V` for the backend's `secretEnv` names (its container's environment)."""
    values = backend_secret_values(backend, secrets)
    return [f"{k}={values[k]}" for k in backend.secret_env]


def needs_smtp_password(stack: StackConfig) -> bool:
    return any(s.smtp is not None and s.smtp.user is not None for s in stack.sites)


__all__ = ["backend_secret_values", "missing_secrets", "needs_smtp_password", "secret_env_values",
           "set_path_hint", "set_secret_hint"]
