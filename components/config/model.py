"""The stack config's model: names of the keys, defaults, and the frozen dataclasses they fill.

Imports nothing of wpfleet: the parser (parser.py and its per-area rules), the fleet form
(fleet.py) and the runtime reader (runtime.py) import it, never the reverse. Every render
function and component takes these validated values.
"""

from __future__ import annotations

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
RESTIC_PASSWORDS_KEY = "resticPasswords"  # noqa: S105 - {box: password}; else resticPassword
SECRET_KEYS = (SSH_KEY_KEY, DUCKDNS_TOKEN_KEY, BACKEND_SECRETS_KEY, ADMIN_PASSWORDS_KEY,
               RESTIC_PASSWORD_KEY, BACKUP_ENV_KEY, SMTP_PASSWORD_KEY, SSH_KEYS_KEY,
               RESTIC_PASSWORDS_KEY)
# Secret keys that hold a map, set one entry at a time with `--path` (the placeholder names the
# entry); the render refuses a plaintext entry beside encrypted ones in each. smtpPassword may
# also be one string for every site.
MAP_SECRET_KEYS = {BACKEND_SECRETS_KEY: "BACKEND.NAME", ADMIN_PASSWORDS_KEY: "SITE",
                   BACKUP_ENV_KEY: "NAME", SMTP_PASSWORD_KEY: "SITE", SSH_KEYS_KEY: "BOX",
                   RESTIC_PASSWORDS_KEY: "BOX"}
SCALAR_OR_MAP_SECRET_KEYS = (SMTP_PASSWORD_KEY,)
PLAIN_KEYS = ("box", "acme", "apache", "sites", "backends", "duckdns", "firewall", "backup",
              "boxes", "images")  # boxes: see components/config/fleet.py


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
    # set by fleet.py, not read from the box's own keys: the box's name in the stack (`default`
    # for `wpfleet:box`) and, after a rename, the name it had (`renamedFrom`, docs/operations.md)
    name: str = "default"
    renamed_from: str | None = None

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
    # cookies (name, or prefix ending in `*`) that do not bypass the cache, on top of the
    # built-in analytics/consent list (components/render/apache/cache.py, docs/cache.md)
    allow_cookies: tuple[str, ...] = ()


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
    # the site's previous name: its generated passwords are kept under the new name, so the
    # copied volumes still open (the rename path of docs/operations.md)
    renamed_from: str | None = None

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
    # names read from there too, given to the container as files: /run/secrets/NAME, with
    # NAME_FILE=/run/secrets/NAME in its environment (render/box/backend_secrets.py)
    secret_files: tuple[str, ...] = ()
    memory_mb: int = 256
    # the site whose `domain` this backend shares: its `path` is then a route inside that site's
    # vhosts (the rest of the domain stays WordPress); tls follows the site's, no conf or
    # certificate of its own. None: the backend has its own domain, conf and certificate.
    site: str | None = None

    @property
    def domains(self) -> tuple[str, ...]:
        return (self.domain,)

    @property
    def secret_names(self) -> tuple[str, ...]:
        """Every name this backend reads from wpfleet:backendSecrets (env first, then files)."""
        return self.secret_env + self.secret_files


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
class SftpTarget:
    """An `sftp:` repository reached with wpfleet's own key on the box and a pinned host key."""

    host: str  # host name or IPv4 address, from the repository URL
    port: int = 22
    user: str | None = None  # None: ssh's default (root, who runs the backups)
    host_key: str  # "ssh-ed25519 AAAA...": the target's host key (backup.sftpHostKey)


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
    # with backup.sftpHostKey: restic's every call reaches the sftp: target with the key
    # generated on the box and this pinned host key; None: root's own SSH setup (as before)
    sftp: SftpTarget | None = None
    # the secret holding this box's restic password, as messages on the box name it
    password_key: str = RESTIC_PASSWORD_KEY  # or "resticPasswords.<box>"


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
        """Sites and backends with a domain of their own that get a certificate (a backend under
        a site's path is covered by the site's certificate)."""
        hosts: tuple[SiteConfig | BackendConfig, ...] = (*self.sites, *self.own_domain_backends)
        return tuple(h for h in hosts if h.tls)

    @property
    def own_domain_backends(self) -> tuple[BackendConfig, ...]:
        """Backends with a domain (and so an Apache conf) of their own."""
        return tuple(b for b in self.backends if b.site is None)

    def routes(self, site: str) -> tuple[BackendConfig, ...]:
        """Backends under `site`'s paths, longest path first (Apache takes the first ProxyPass
        that matches, so /api/v2 must precede /api)."""
        mounted = [b for b in self.backends if b.site == site]
        return tuple(sorted(mounted, key=lambda b: (-len(b.path), b.path)))


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


# Several boxes in one stack (`wpfleet:boxes`): parsed by fleet.py into one StackConfig per box.
DEFAULT_BOX = "default"  # the box of a `wpfleet:box` stack; its resources keep today's names


@dataclass(frozen=True)
class FleetConfig:
    boxes: tuple[tuple[str, StackConfig], ...]  # (box name, that box's view), in config order
    legacy: bool = True  # from `wpfleet:box`: one box `default`, today's outputs and layout

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.boxes)

    def box(self, name: str) -> StackConfig:
        return dict(self.boxes)[name]

    @property
    def sites(self) -> tuple[SiteConfig, ...]:
        return tuple(s for _, st in self.boxes for s in st.sites)

    @property
    def backends(self) -> tuple[BackendConfig, ...]:
        return tuple(b for _, st in self.boxes for b in st.backends)

    @property
    def union(self) -> StackConfig:
        """Every site and backend on one (local) box: for the stack-wide secret rules."""
        first = self.boxes[0][1]
        duck = next((st.duckdns for _, st in self.boxes if st.duckdns is not None), None)
        # backups per box: any box's (one without `repository` first: it needs backupEnv)
        backups = sorted((st.backup for _, st in self.boxes if st.backup is not None),
                         key=lambda b: b.repository is not None)
        return StackConfig(box=BoxConfig(host="local"), acme=first.acme, sites=self.sites,
                           backends=self.backends, duckdns=duck,
                           backup=backups[0] if backups else None)


def name_prefix(box: str) -> str:
    """Prefix of a box's box-wide resource names: none for `default`, so its names stay."""
    return "" if box == DEFAULT_BOX else f"{box}-"


@dataclass(frozen=True)
class FleetSecrets:
    shared: Secrets  # duckdnsToken, backendSecrets, adminPasswords; ssh_private_key unused
    ssh_keys: dict[str, pulumi.Output[str] | None]  # by box name; None for a local box
    # by box name, for the boxes with backups: resticPasswords.<box> or resticPassword
    restic_passwords: dict[str, pulumi.Output[str]] = field(default_factory=dict)
