"""The stack config (namespace `wpfleet`), read once and validated before any resource exists.

`parse()` turns the raw config map into frozen dataclasses or raises `ConfigError` listing
every problem; `load()` does that from the Pulumi runtime and reads the secrets as Outputs.
The render CLI calls `parse()` on a stack file, so both see exactly the same rules.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

import pulumi

NAMESPACE = "wpfleet"
LETSENCRYPT = "https://acme-v02.api.letsencrypt.org/directory"
WORDPRESS_IMAGE = "wordpress:6.8.3-php8.3-apache"
MARIADB_IMAGE = "mariadb:11.4.8"  # 11.4 is the current MariaDB LTS series
MAX_REPLICAS = 10
# Keys that hold secrets: never inside a structured value, always `pulumi config set --secret`.
# Names of the secret config keys (the names, not values).
SSH_KEY_KEY, DUCKDNS_TOKEN_KEY, BACKEND_SECRETS_KEY = "sshPrivateKey", "duckdnsToken", "backendSecrets"
ADMIN_PASSWORDS_KEY = "adminPasswords"  # {site: password}; a site not listed gets a generated one
RESTIC_PASSWORD_KEY, BACKUP_ENV_KEY = "resticPassword", "backupEnv"
SMTP_PASSWORD_KEY = "smtpPassword"  # noqa: S105 - {site: password} (or one string for every site)
SSH_KEYS_KEY = "sshPrivateKeys"  # {box: private key}; a box not listed uses sshPrivateKey
SECRET_KEYS = (SSH_KEY_KEY, DUCKDNS_TOKEN_KEY, BACKEND_SECRETS_KEY, ADMIN_PASSWORDS_KEY,
               RESTIC_PASSWORD_KEY, BACKUP_ENV_KEY, SMTP_PASSWORD_KEY, SSH_KEYS_KEY)
# Secret keys that hold a map, set one entry at a time with `--path` (the placeholder names the
# entry); the render refuses a plaintext entry beside encrypted ones in each. smtpPassword may
# also be one string for every site.
MAP_SECRET_KEYS = {BACKEND_SECRETS_KEY: "BACKEND.NAME", ADMIN_PASSWORDS_KEY: "SITE",
                   BACKUP_ENV_KEY: "NAME", SMTP_PASSWORD_KEY: "SITE", SSH_KEYS_KEY: "BOX"}
SCALAR_OR_MAP_SECRET_KEYS = (SMTP_PASSWORD_KEY,)
PLAIN_KEYS = ("box", "acme", "apache", "sites", "backends", "duckdns", "firewall", "backup",
              "boxes")  # boxes: see components/config_fleet.py


class ConfigError(pulumi.RunError):
    """A config mistake: Pulumi prints the message without a traceback."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"invalid wpfleet stack config ({len(problems)} problem(s)):\n{lines}")


@dataclass(frozen=True, kw_only=True)
class BoxConfig:
    host: str  # hostname or IP of the box; "local" when pulumi runs on the box itself
    port: int = 22  # SSH port
    user: str = "root"  # root, or a user with passwordless sudo
    host_key: str | None = None  # "ssh-ed25519 AAAA..." pins the box's SSH host key
    install_docker: bool = False  # install docker.io from the distribution if missing
    harden_ssh: bool = False  # password login off, root by key only, sshd on `port`
    min_free_disk_mb: int = 2048  # preflight fails below this free space on /var/lib/docker
    # with harden_ssh: sshd listens here too (and ufw allows it); the next `up` sets port to it
    new_port: int | None = None

    @property
    def local(self) -> bool:
        return self.host == "local"


@dataclass(frozen=True, kw_only=True)
class AcmeConfig:
    email: str | None = None  # account e-mail; required when any site has tls: true
    server: str = LETSENCRYPT  # ACME directory URL (staging or a test CA allowed)
    config_dir: str = "/etc/letsencrypt"
    webroot: str = "/var/www/letsencrypt"
    revoke_on_delete: bool = False  # removing a site revokes its certificate (opt-in)


@dataclass(frozen=True, kw_only=True)
class ApacheConfig:
    http_port: int = 80
    https_port: int = 443
    balancer_manager: bool = False  # /balancer-manager, reachable from 127.0.0.1 only
    # ports clients use when a router forwards public 80/443 to other ports on the box;
    # redirects are built from these (None: the listen ports)
    public_http_port: int | None = None
    public_https_port: int | None = None

    @property
    def redirect_http_port(self) -> int:
        return self.public_http_port or self.http_port

    @property
    def redirect_https_port(self) -> int:
        return self.public_https_port or self.https_port


@dataclass(frozen=True, kw_only=True)
class PhpConfig:
    upload_max_mb: int = 64  # upload_max_filesize; post_max_size and Apache's body limit follow
    memory_limit_mb: int = 256  # memory_limit (at most the replica's memoryMb)
    max_execution_seconds: int = 60  # max_execution_time and max_input_time


@dataclass(frozen=True, kw_only=True)
class SmtpConfig:
    host: str  # the relay WordPress sends through
    port: int = 587  # 465 = implicit TLS, anything else STARTTLS (when tls is true)
    user: str | None = None  # SMTP AUTH user; its password is the secret wpfleet:smtpPassword
    from_address: str  # envelope and From: address of every mail WordPress sends
    tls: bool = True  # false only for a relay on a trusted network (no encryption at all)


@dataclass(frozen=True, kw_only=True)
class CacheConfig:
    ttl: int  # seconds an anonymous page stays fresh in the balancer's cache (1-43200)
    max_size_mb: int = 256  # htcacheclean keeps the site's cache root under this size


@dataclass(frozen=True, kw_only=True)
class SiteConfig:
    name: str  # [a-z][a-z0-9-]{0,30}, unique across sites and backends
    domain: str
    aliases: tuple[str, ...] = ()
    port: int  # first loopback host port; replica i listens on port + i
    replicas: int = 1
    tls: bool = True
    sticky: bool = False  # pin a browser to one replica (cookie based)
    wordpress_image: str = WORDPRESS_IMAGE
    mariadb_image: str = MARIADB_IMAGE
    memory_mb: int = 512  # per WordPress replica
    db_memory_mb: int = 512
    # unattended install (applied once, when WordPress is not installed yet)
    title: str | None = None  # site title; defaults to the domain
    admin_user: str = "wpfleet"  # first administrator's login
    admin_email: str | None = None  # defaults to acme.email
    php: PhpConfig = field(default_factory=PhpConfig)  # per-site PHP settings (an ini file)
    cron_minutes: int = 5  # box timer running due WP-Cron events; 0 = WordPress's own pseudo-cron
    smtp: SmtpConfig | None = None  # outgoing mail; None: mail does not leave the box
    wp_config: tuple[tuple[str, str | int | float | bool], ...] = ()  # extra wp-config constants
    cache: CacheConfig | None = None  # page cache for anonymous visitors (opt-in, see docs/cache.md)
    hsts: bool = True  # Strict-Transport-Security on the HTTPS vhost (tls sites)

    @property
    def ports(self) -> tuple[int, ...]:
        return tuple(self.port + i for i in range(self.replicas))

    @property
    def domains(self) -> tuple[str, ...]:
        return (self.domain, *self.aliases)


@dataclass(frozen=True, kw_only=True)
class BackendConfig:
    name: str
    domain: str
    path: str = "/"
    upstream: str  # http(s) URL Apache proxies to (derived from `port` when `image` is set)
    tls: bool = True
    image: str | None = None  # run this container on 127.0.0.1:port, restart unless-stopped
    port: int | None = None  # host port of the container (loopback only)
    container_port: int | None = None  # port inside the container (defaults to `port`)
    env: tuple[tuple[str, str], ...] = ()  # plain environment for the container
    secret_env: tuple[str, ...] = ()  # names read from wpfleet:backendSecrets[name]
    memory_mb: int = 256

    @property
    def domains(self) -> tuple[str, ...]:
        return (self.domain,)


@dataclass(frozen=True, kw_only=True)
class DuckDnsConfig:
    domains: tuple[str, ...]  # sub-domain names under duckdns.org, e.g. "meljuju"
    update_url: str = "https://www.duckdns.org/update"
    interval_minutes: int = 5


@dataclass(frozen=True, kw_only=True)
class FirewallConfig:
    enabled: bool = False
    allow: tuple[str, ...] = ()  # extra ufw rules: "8443/tcp", "51820/udp"


@dataclass(frozen=True, kw_only=True)
class BackupConfig:
    # restic repository (a path on the box, sftp:/s3:/rest:/...); None: it is given as
    # RESTIC_REPOSITORY in the secret wpfleet:backupEnv (a URL holding credentials)
    repository: str | None
    schedule: str = "daily"  # systemd OnCalendar expression for the backup timer
    keep_daily: int = 7  # retention, applied per site with `restic forget --prune`
    keep_weekly: int = 4
    keep_monthly: int = 6
    check_schedule: str = "weekly"  # OnCalendar for `restic check`
    check_read_data_subset: str | None = None  # e.g. "5%": also read back part of the data


@dataclass(frozen=True, kw_only=True)
class StackConfig:
    box: BoxConfig
    acme: AcmeConfig = field(default_factory=AcmeConfig)
    apache: ApacheConfig = field(default_factory=ApacheConfig)
    sites: tuple[SiteConfig, ...] = ()
    backends: tuple[BackendConfig, ...] = ()
    duckdns: DuckDnsConfig | None = None
    firewall: FirewallConfig = field(default_factory=FirewallConfig)
    backup: BackupConfig | None = None

    @property
    def tls_hosts(self) -> tuple[SiteConfig | BackendConfig, ...]:
        """Sites and backend routes that get a certificate."""
        hosts: tuple[SiteConfig | BackendConfig, ...] = (*self.sites, *self.backends)
        return tuple(h for h in hosts if h.tls)


@dataclass(frozen=True)
class Secrets:
    """Secret values, Outputs end to end (None when the stack does not need them)."""

    ssh_private_key: pulumi.Output[str] | None
    duckdns_token: pulumi.Output[str] | None
    backend_secrets: pulumi.Output[Any] | None
    # configured WordPress admin passwords by site name (secret Outputs); others are generated
    admin_passwords: dict[str, pulumi.Output[str]] = field(default_factory=dict)
    restic_password: pulumi.Output[str] | None = None
    backup_env: pulumi.Output[Any] | None = None  # {NAME: value} for restic (S3 keys, ...)
    smtp_passwords: pulumi.Output[Any] | None = None  # wpfleet:smtpPassword


def parse(raw: dict[str, Any], secret_keys: set[str] | None = None) -> StackConfig:
    """Validate the namespace-stripped config map; raise ConfigError listing every problem.

    `secret_keys` lists which keys were stored encrypted; None skips that check (tests).
    """
    from components import config_parse  # the field-by-field rules live there

    return config_parse.parse(raw, secret_keys)


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
        if any(b.secret_env for b in stack.backends) else None,
        admin_passwords=_admin_passwords(cfg, raw.get(ADMIN_PASSWORDS_KEY)),
        restic_password=cfg.require_secret(RESTIC_PASSWORD_KEY) if stack.backup else None,
        backup_env=cfg.get_secret_object(BACKUP_ENV_KEY)
        if stack.backup and BACKUP_ENV_KEY in raw else None,
        # raw text (one password, or a JSON map by site): decoded per site, still secret
        smtp_passwords=cfg.require_secret(SMTP_PASSWORD_KEY)
        if _needs_smtp_password(stack) else None,
    )
    return secrets


def missing_secrets(stack: StackConfig, present: Collection[str]) -> list[str]:
    """A problem for each secret this stack needs but `present` lacks (`up` and render alike)."""
    needed = ((SSH_KEY_KEY, not stack.box.local), (DUCKDNS_TOKEN_KEY, stack.duckdns is not None),
              (BACKEND_SECRETS_KEY, any(b.secret_env for b in stack.backends)),
              (RESTIC_PASSWORD_KEY, stack.backup is not None),
              (BACKUP_ENV_KEY, stack.backup is not None and stack.backup.repository is None),
              (SMTP_PASSWORD_KEY, _needs_smtp_password(stack)))
    return [f"{NAMESPACE}:{key}: is required by this stack but not set; set it with "
            f"`{set_secret_hint(stack, key)}`" for key, need in needed if need and key not in present]


def set_secret_hint(stack: StackConfig | None, key: str, value: Any = None) -> str:
    """The command that stores a secret key; a map-shaped one (MAP_SECRET_KEYS) is set one entry
    at a time. `value` is the plaintext found, if any: one string keeps a scalar-or-map key whole."""
    if key not in MAP_SECRET_KEYS or (key in SCALAR_OR_MAP_SECRET_KEYS
                                      and not isinstance(value, dict)):
        return f"pulumi config set --secret {NAMESPACE}:{key} ..."
    entry = MAP_SECRET_KEYS[key]
    b = next((b for b in stack.backends if b.secret_env), None) if stack else None
    if key == BACKEND_SECRETS_KEY and b:
        entry = f"{b.name}.{b.secret_env[0]}"
    return set_path_hint(f"{NAMESPACE}:{key}.{entry}")


def set_path_hint(path: str) -> str:
    """The command that stores one entry of a map-shaped secret (`wpfleet:adminPasswords.blog`)."""
    source = "< KEY_FILE" if path.startswith(f"{NAMESPACE}:{SSH_KEYS_KEY}.") else "VALUE"
    return f"pulumi config set --secret --path '{path}' {source}"


def _admin_passwords(cfg: pulumi.Config, raw: Any) -> dict[str, pulumi.Output[str]]:
    """One secret Output per configured site (parse() checked the names and values)."""
    if not isinstance(raw, dict) or not raw:
        return {}
    whole = cfg.require_secret_object(ADMIN_PASSWORDS_KEY)

    def one(name: str) -> pulumi.Output[str]:
        return whole.apply(lambda d: str(d[name]))

    return {name: one(name) for name in raw}


def _needs_smtp_password(stack: StackConfig) -> bool:
    return any(s.smtp is not None and s.smtp.user is not None for s in stack.sites)


def _decode(value: Any) -> Any:
    """Structured config values reach the program as JSON strings."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


__all__ = [
    "AcmeConfig", "ApacheConfig", "BackendConfig", "BackupConfig", "BoxConfig", "ConfigError", "DuckDnsConfig",
    "FirewallConfig", "PhpConfig", "Secrets", "SmtpConfig", "SiteConfig", "StackConfig", "load", "parse",
]
