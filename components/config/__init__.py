"""The stack config (namespace `wpfleet`), read once and validated before any resource exists.

`parse()` turns the raw config map into frozen dataclasses or raises `ConfigError` listing
every problem; `load()` does that from the Pulumi runtime and reads the secrets as Outputs.
The render CLI calls `parse()` on a stack file, so both see exactly the same rules.
"""

from __future__ import annotations

from components.config.model import (
    ADMIN_PASSWORDS_KEY,
    BACKEND_SECRETS_KEY,
    BACKUP_ENV_KEY,
    DEFAULT_BOX,
    DUCKDNS_TOKEN_KEY,
    LETSENCRYPT,
    MAP_SECRET_KEYS,
    MARIADB_IMAGE,
    MAX_REPLICAS,
    NAMESPACE,
    PLAIN_KEYS,
    RESTIC_PASSWORD_KEY,
    RESTIC_PASSWORDS_KEY,
    SCALAR_OR_MAP_SECRET_KEYS,
    SECRET_KEYS,
    SMTP_PASSWORD_KEY,
    SSH_KEY_KEY,
    SSH_KEYS_KEY,
    WORDPRESS_IMAGE,
    AcmeConfig,
    ApacheConfig,
    BackendConfig,
    BackupConfig,
    BoxConfig,
    CacheConfig,
    ConfigError,
    DuckDnsConfig,
    FirewallConfig,
    FleetConfig,
    FleetSecrets,
    PhpConfig,
    Secrets,
    SftpTarget,
    SiteConfig,
    SmtpConfig,
    StackConfig,
    name_prefix,
)
from components.config.parser import parse
from components.config.runtime import load, read_raw, read_secrets
from components.config.secrets import missing_secrets, set_path_hint, set_secret_hint

__all__ = [
    "ADMIN_PASSWORDS_KEY", "BACKEND_SECRETS_KEY", "BACKUP_ENV_KEY", "DEFAULT_BOX", "DUCKDNS_TOKEN_KEY", "LETSENCRYPT",
    "MAP_SECRET_KEYS", "MARIADB_IMAGE", "MAX_REPLICAS", "NAMESPACE", "PLAIN_KEYS", "RESTIC_PASSWORD_KEY",
    "RESTIC_PASSWORDS_KEY", "SCALAR_OR_MAP_SECRET_KEYS", "SECRET_KEYS", "SMTP_PASSWORD_KEY", "SSH_KEYS_KEY",
    "SSH_KEY_KEY", "WORDPRESS_IMAGE",
    "AcmeConfig", "ApacheConfig", "BackendConfig", "BackupConfig", "BoxConfig", "CacheConfig", "ConfigError",
    "DuckDnsConfig", "FirewallConfig", "FleetConfig", "FleetSecrets", "PhpConfig", "Secrets", "SftpTarget",
    "SiteConfig",
    "SmtpConfig", "StackConfig", "load", "missing_secrets", "name_prefix", "parse", "read_raw", "read_secrets",
    "set_path_hint", "set_secret_hint",
]
