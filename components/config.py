"""The stack config (namespace `wpfleet`), read once and validated before any resource exists.

`parse()` turns the raw config map into frozen dataclasses or raises `ConfigError` listing
every problem; `load()` does that from the Pulumi runtime and reads the secrets as Outputs.
The render CLI calls `parse()` on a stack file, so both see exactly the same rules.
"""

from __future__ import annotations

import json
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
SECRET_KEYS = (SSH_KEY_KEY, DUCKDNS_TOKEN_KEY, BACKEND_SECRETS_KEY)
PLAIN_KEYS = ("box", "acme", "apache", "sites", "backends", "duckdns", "firewall")


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
class StackConfig:
    box: BoxConfig
    acme: AcmeConfig = field(default_factory=AcmeConfig)
    apache: ApacheConfig = field(default_factory=ApacheConfig)
    sites: tuple[SiteConfig, ...] = ()
    backends: tuple[BackendConfig, ...] = ()
    duckdns: DuckDnsConfig | None = None
    firewall: FirewallConfig = field(default_factory=FirewallConfig)

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


def parse(raw: dict[str, Any], secret_keys: set[str] | None = None) -> StackConfig:
    """Validate the namespace-stripped config map; raise ConfigError listing every problem.

    `secret_keys` lists which keys were stored encrypted; None skips that check (tests).
    """
    from components import config_parse  # the field-by-field rules live there

    return config_parse.parse(raw, secret_keys)


def load() -> tuple[StackConfig, Secrets]:
    """Read the stack config from the Pulumi runtime (the only place pulumi.Config is read)."""
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
    stack = parse(raw, secret_keys)
    missing = [key for key, needed in (
        ("sshPrivateKey", not stack.box.local), ("duckdnsToken", stack.duckdns is not None),
        ("backendSecrets", any(b.secret_env for b in stack.backends))) if needed and key not in raw]
    if missing:
        raise ConfigError([f"{NAMESPACE}:{key}: is required by this stack but not set; set it with "
                           f"`pulumi config set --secret {NAMESPACE}:{key} ...`" for key in missing])
    cfg = pulumi.Config(NAMESPACE)
    secrets = Secrets(
        ssh_private_key=None if stack.box.local else cfg.require_secret("sshPrivateKey"),
        duckdns_token=cfg.require_secret("duckdnsToken") if stack.duckdns else None,
        backend_secrets=cfg.get_secret_object("backendSecrets")
        if any(b.secret_env for b in stack.backends) else None,
    )
    return stack, secrets


def _decode(value: Any) -> Any:
    """Structured config values reach the program as JSON strings."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


__all__ = [
    "AcmeConfig", "ApacheConfig", "BackendConfig", "BoxConfig", "ConfigError", "DuckDnsConfig",
    "FirewallConfig", "Secrets", "SiteConfig", "StackConfig", "load", "parse",
]
