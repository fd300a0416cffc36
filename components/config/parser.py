"""Field-by-field rules that turn the raw stack config into `components.config` dataclasses."""

from __future__ import annotations

import re
from typing import Any

from components.config import backup as config_backup
from components.config import checks, routes
from components.config.checks import Problems, take, unknown_keys
from components.config.install import SITE_INSTALL_KEYS, install_checks, site_install
from components.config.model import (
    ADMIN_PASSWORDS_KEY,
    MAX_REPLICAS,
    PLAIN_KEYS,
    SECRET_KEYS,
    AcmeConfig,
    ApacheConfig,
    BackendConfig,
    BoxConfig,
    CacheConfig,
    ConfigError,
    DuckDnsConfig,
    FirewallConfig,
    SiteConfig,
    StackConfig,
)
from components.config.secrets import set_secret_hint
from components.config.wp import SITE_KEYS, site_extras

NS = "wpfleet"
BACKEND_KEYS = ("name", "domain", "path", "upstream", "tls", "image", "port", "containerPort",
                "env", "secretEnv", "secretFiles", "memoryMb")
# WordPress nonces live 12-24 h: a page cached for at most 12 h still carries valid ones
MAX_CACHE_TTL = 43200
COOKIE_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}\*?$")


def parse(raw: dict[str, Any], secret_keys: set[str] | None = None) -> StackConfig:
    """Validate the namespace-stripped config map; raise ConfigError listing every problem.

    `secret_keys` lists which keys were stored encrypted; None skips that check (tests).
    """
    p = Problems()
    unknown_keys(p, NS, raw, set(PLAIN_KEYS) | set(SECRET_KEYS))
    if p:  # "wpfleet.x" reads oddly: top-level keys are "wpfleet:x"
        p.items = [i.replace(f"{NS}.", f"{NS}:", 1) for i in p.items]
    _check_secrets(p, raw, secret_keys)
    box = _box(p, _mapping(p, raw, "box", required=True))
    acme = _acme(p, _mapping(p, raw, "acme"))
    apache = _apache(p, _mapping(p, raw, "apache"))
    images = _images(p, _mapping(p, raw, "images"))
    # keep each entry's index in the user's list so messages point at the right entry
    sites = [(i, s) for i, r in enumerate(_items(p, raw, "sites"))
             if (s := _site(p, i, r, images))]
    backends = [(i, b) for i, r in enumerate(_items(p, raw, "backends"))
                if (b := _backend(p, i, r, tuple(s for _, s in sites)))]
    duck = _duckdns(p, raw) if raw.get("duckdns") is not None else None
    firewall = _firewall(p, _mapping(p, raw, "firewall"))
    backup = config_backup.parse(p, raw["backup"]) if raw.get("backup") is not None else None
    if box is None:
        raise ConfigError(p.items)
    stack = StackConfig(box=box, acme=acme, apache=apache, sites=tuple(s for _, s in sites),
                        backends=tuple(b for _, b in backends), duckdns=duck, firewall=firewall,
                        backup=backup)
    _cross_checks(p, stack, [i for i, _ in sites], [i for i, _ in backends])
    install_checks(p, stack, [i for i, _ in sites], raw.get(ADMIN_PASSWORDS_KEY))
    if p:
        raise ConfigError(p.items)
    return stack


def _mapping(p: Problems, raw: dict[str, Any], key: str, required: bool = False) -> dict[str, Any]:
    value = raw.get(key)
    if value is None:
        if required:
            p.items.append(f"{NS}:{key}: is required but missing; see Pulumi.prod.yaml")
        return {}
    if not isinstance(value, dict):
        p.add(f"{NS}:{key}", value, "must be a mapping of settings")
        return {}
    return value


def _items(p: Problems, raw: dict[str, Any], key: str) -> list[Any]:
    value = raw.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        p.add(f"{NS}:{key}", value, "must be a list")
        return []
    return value


def _check_secrets(p: Problems, raw: dict[str, Any], secret_keys: set[str] | None) -> None:
    for key in SECRET_KEYS:
        if key not in raw or secret_keys is None:
            continue
        if key not in secret_keys and not (isinstance(raw[key], dict) and "secure" in raw[key]):
            p.items.append(f"{NS}:{key}: is stored in plaintext; remove it and set it with "
                           f"`{set_secret_hint(None, key, raw[key])}`")


def _box(p: Problems, raw: dict[str, Any]) -> BoxConfig | None:
    k = f"{NS}:box"
    unknown_keys(p, k, raw, {"host", "port", "user", "hostKey", "installDocker", "hardenSsh",
                             "minFreeDiskMb", "newPort"})
    host = take(p, k, raw, "host", str, required=True)
    port = take(p, k, raw, "port", int, 22)
    user = take(p, k, raw, "user", str, "root")
    host_key = take(p, k, raw, "hostKey", str)
    if host_key is not None:  # a pasted keyscan/known_hosts/.pub line: keep "TYPE BASE64"
        host_key = checks.normalise_host_key(host_key)
    if host == "localhost":
        p.add(f"{k}.host", host, "would make pulumi log in to this machine over SSH; when pulumi "
              "runs on the box itself, write host: local (no SSH key or hostKey needed)")
    elif host is not None and host != "local" and not (checks.is_hostname(host)
                                                       or checks.is_ip(host)):
        p.add(f"{k}.host", host, "must be a hostname, an IP address, or \"local\"")
    checks.check_port(p, f"{k}.port", port, low=1)
    if not checks.POSIX_USER_RE.match(user):
        p.add(f"{k}.user", user, "must be a POSIX user name such as deploy or root")
    if host is not None and host not in ("local", "localhost"):
        checks.check_host_key(p, f"{k}.hostKey", host_key, host, port)
    disk = take(p, k, raw, "minFreeDiskMb", int, 2048)
    if disk < 0:
        p.add(f"{k}.minFreeDiskMb", disk, "must not be negative")
    harden = take(p, k, raw, "hardenSsh", bool, False)
    new_port = take(p, k, raw, "newPort", int)
    checks.check_ssh_move(p, k, port, new_port, harden, host_key)
    if host is None:
        return None
    return BoxConfig(host=host, port=port, user=user, host_key=host_key,
                     install_docker=take(p, k, raw, "installDocker", bool, False),
                     harden_ssh=harden, min_free_disk_mb=disk, new_port=new_port)


def _acme(p: Problems, raw: dict[str, Any]) -> AcmeConfig:
    k = f"{NS}:acme"
    d = AcmeConfig()
    unknown_keys(p, k, raw, {"email", "server", "configDir", "webroot", "revokeOnDelete"})
    email = take(p, k, raw, "email", str)
    if email is not None and not checks.EMAIL_RE.match(email):
        p.add(f"{k}.email", email, "is not a valid e-mail address")
    server = take(p, k, raw, "server", str, d.server)
    checks.check_http_url(p, f"{k}.server", server, ("https",))
    config_dir = take(p, k, raw, "configDir", str, d.config_dir)
    webroot = take(p, k, raw, "webroot", str, d.webroot)
    checks.check_abs_path(p, f"{k}.configDir", config_dir)
    checks.check_abs_path(p, f"{k}.webroot", webroot)
    return AcmeConfig(email=email, server=server, config_dir=config_dir, webroot=webroot,
                      revoke_on_delete=take(p, k, raw, "revokeOnDelete", bool, False))


def _apache(p: Problems, raw: dict[str, Any]) -> ApacheConfig:
    k = f"{NS}:apache"
    unknown_keys(p, k, raw, {"httpPort", "httpsPort", "balancerManager", "publicHttpPort",
                             "publicHttpsPort"})
    http = take(p, k, raw, "httpPort", int, 80)
    https = take(p, k, raw, "httpsPort", int, 443)
    checks.check_port(p, f"{k}.httpPort", http, low=1)
    checks.check_port(p, f"{k}.httpsPort", https, low=1)
    if http == https:
        p.add(f"{k}.httpsPort", https, "must differ from httpPort")
    public = {f: take(p, k, raw, f, int) for f in ("publicHttpPort", "publicHttpsPort")}
    for f, port in public.items():
        if port is not None:
            checks.check_port(p, f"{k}.{f}", port, low=1)
    return ApacheConfig(http_port=http, https_port=https,
                        balancer_manager=take(p, k, raw, "balancerManager", bool, False),
                        public_http_port=public["publicHttpPort"],
                        public_https_port=public["publicHttpsPort"])


def _name(p: Problems, k: str, raw: dict[str, Any]) -> str | None:
    name = take(p, k, raw, "name", str, required=True)
    if name is not None and not checks.SITE_NAME_RE.match(name):
        p.add(f"{k}.name", name, "must match [a-z][a-z0-9-]{0,30} (lower-case letter first)")
        return None
    return name


def _images(p: Problems, raw: dict[str, Any]) -> dict[str, str]:
    """`wpfleet:images`: the stack-wide default image of every site (a site's own
    wordpressImage/mariadbImage still wins), so upgrading every site is one line."""
    k = f"{NS}:images"
    unknown_keys(p, k, raw, set(IMAGE_KEYS))
    out = {}
    for key, site_key in IMAGE_KEYS.items():
        default = getattr(SiteConfig, SITE_IMAGE_FIELDS[site_key])
        ref = take(p, k, raw, key, str, default)
        before = len(p.items)
        _check_image(p, f"{k}.{key}", ref)
        out[site_key] = ref if len(p.items) == before else default  # reported once, here
    return out


# wpfleet:images key -> the site key it sets the default of
IMAGE_KEYS = {"wordpress": "wordpressImage", "mariadb": "mariadbImage"}
SITE_IMAGE_FIELDS = {"wordpressImage": "wordpress_image", "mariadbImage": "mariadb_image"}


def _site(p: Problems, i: int, raw: Any, image_defaults: dict[str, str] | None = None
          ) -> SiteConfig | None:
    k = f"{NS}:sites[{i}]"
    if not isinstance(raw, dict):
        p.add(k, raw, "must be a mapping with name, domain and port")
        return None
    unknown_keys(p, k, raw, {"name", "domain", "aliases", "port", "replicas", "tls", "sticky",
                             "wordpressImage", "mariadbImage", "memoryMb", "dbMemoryMb",
                             *SITE_INSTALL_KEYS, *SITE_KEYS,
                             "cache", "hsts", "renamedFrom"})
    before = len(p.items)
    name = _name(p, k, raw)
    renamed_from = take(p, k, raw, "renamedFrom", str)
    if renamed_from is not None and not checks.SITE_NAME_RE.match(renamed_from):
        p.add(f"{k}.renamedFrom", renamed_from, "must be the site's previous name "
              "([a-z][a-z0-9-]{0,30})")
    elif renamed_from is not None and renamed_from == name:
        p.add(f"{k}.renamedFrom", renamed_from, "is the site's own name; remove renamedFrom")
    domain = take(p, k, raw, "domain", str, required=True)
    if domain is not None:
        checks.check_domain(p, f"{k}.domain", domain)
    aliases = take(p, k, raw, "aliases", list, [])
    for j, alias in enumerate(aliases):
        checks.check_domain(p, f"{k}.aliases[{j}]", alias)
    port = take(p, k, raw, "port", int, required=True)
    replicas = take(p, k, raw, "replicas", int, 1)
    if not 1 <= replicas <= MAX_REPLICAS:
        p.add(f"{k}.replicas", replicas, f"must be between 1 and {MAX_REPLICAS}")
    if port is not None:
        checks.check_port(p, f"{k}.port", port)
        if replicas >= 1 and port + replicas - 1 > 65535:
            p.add(f"{k}.port", port, f"with replicas: {replicas} runs past port 65535")
    defaults = image_defaults or {f: getattr(SiteConfig, a) for f, a in SITE_IMAGE_FIELDS.items()}
    images = {f: take(p, k, raw, f, str, defaults[f]) for f in SITE_IMAGE_FIELDS}
    for f, ref in images.items():
        _check_image(p, f"{k}.{f}", ref)
    memory = {f: take(p, k, raw, f, int, 512) for f in ("memoryMb", "dbMemoryMb")}
    for f, mb in memory.items():
        if not 64 <= mb <= 65536:
            p.add(f"{k}.{f}", mb, "must be between 64 and 65536 (megabytes)")
    tls = take(p, k, raw, "tls", bool, True)
    sticky = take(p, k, raw, "sticky", bool, False)
    extras = site_extras(p, k, raw, memory["memoryMb"])
    if isinstance(raw.get("cache"), (bool, int)):  # `cache: true` / `cache: 60`
        p.add(f"{k}.cache", raw["cache"], "must be a mapping: write cache: {ttl: 60} (seconds a "
              "page stays cached for anonymous visitors; see docs/cache.md)")
        raw = {**raw, "cache": None}
    cache = _cache(p, f"{k}.cache", take(p, k, raw, "cache", dict))
    hsts = take(p, k, raw, "hsts", bool, True)
    if len(p.items) > before or name is None or domain is None or port is None:
        return None
    return SiteConfig(name=name, domain=domain, aliases=tuple(aliases), port=port,
                      replicas=replicas, tls=tls, sticky=sticky,
                      wordpress_image=images["wordpressImage"],
                      mariadb_image=images["mariadbImage"],
                      memory_mb=memory["memoryMb"], db_memory_mb=memory["dbMemoryMb"],
                      **site_install(p, k, raw), **extras, cache=cache, hsts=hsts,
                      renamed_from=renamed_from)


def _cache(p: Problems, k: str, raw: dict[str, Any] | None) -> CacheConfig | None:
    """`cache: {ttl: 60}`; ttl 0 (or no cache key) leaves the page cache off."""
    if raw is None:
        return None
    unknown_keys(p, k, raw, {"ttl", "maxSizeMb", "allowCookies"})
    ttl = take(p, k, raw, "ttl", int, 0, required=True)
    if not 0 <= ttl <= MAX_CACHE_TTL:  # a cached page's WordPress nonces must stay valid
        p.add(f"{k}.ttl", ttl, f"must be between 0 (cache off) and {MAX_CACHE_TTL} seconds "
              "(12 hours, so the nonces in a cached page are still valid)")
    size = take(p, k, raw, "maxSizeMb", int, CacheConfig.max_size_mb)
    if not 16 <= size <= 1048576:
        p.add(f"{k}.maxSizeMb", size, "must be between 16 and 1048576 (megabytes)")
    cookies = take(p, k, raw, "allowCookies", list, [])
    for i, name in enumerate(cookies):  # reaches a regex in the conf: a strict charset
        if not isinstance(name, str) or not COOKIE_NAME_RE.match(name):
            p.add(f"{k}.allowCookies[{i}]", name, "must be a cookie name of letters, digits, "
                  "'_', '.' or '-', optionally ending in '*' (a prefix), e.g. 'theme_*'")
            return None
    if ttl <= 0 or ttl > MAX_CACHE_TTL or not 16 <= size <= 1048576:
        return None
    return CacheConfig(ttl=ttl, max_size_mb=size, allow_cookies=tuple(cookies))


def _check_image(p: Problems, key: str, ref: str) -> None:
    if not checks.IMAGE_RE.match(ref) or ":" not in ref.rsplit("/", 1)[-1] and "@" not in ref:
        p.add(key, ref, "must be a pinned image reference with a tag or digest, "
              "e.g. wordpress:6.8.3-php8.3-apache")
    elif ref.endswith(":latest"):
        p.add(key, ref, "uses the moving tag :latest; pin a version so `pulumi up` is repeatable")


def _backend(p: Problems, i: int, raw: Any, sites: tuple[SiteConfig, ...] = ()
             ) -> BackendConfig | None:
    k = f"{NS}:backends[{i}]"
    if not isinstance(raw, dict):
        p.add(k, raw, "must be a mapping with name, domain and upstream (or image and port)")
        return None
    unknown_keys(p, k, raw, set(BACKEND_KEYS))
    before = len(p.items)
    name = _name(p, k, raw)
    domain = take(p, k, raw, "domain", str, required=True)
    if domain is not None:
        checks.check_domain(p, f"{k}.domain", domain)
    path = take(p, k, raw, "path", str, "/")
    if not checks.URL_PATH_RE.match(path) or "//" in path or "/../" in path + "/":
        p.add(f"{k}.path", path, "must start with / and contain only letters, digits, "
              "'.', '_', '~', '-' and '/' (no spaces)")
    upstream = take(p, k, raw, "upstream", str)
    image = take(p, k, raw, "image", str)
    port = take(p, k, raw, "port", int)
    cport = take(p, k, raw, "containerPort", int)
    if (upstream is None) == (image is None):
        p.items.append(f"{k}: set exactly one of upstream (an existing service) or image + port "
                       "(a container wpfleet runs)")
    if upstream is not None:
        checks.check_http_url(p, f"{k}.upstream", upstream, ("http", "https"))
        for f, v in (("port", port), ("containerPort", cport)):
            if v is not None:
                p.add(f"{k}.{f}", v, "only applies with image; remove it or set image")
    if image is not None:
        _check_image(p, f"{k}.image", image)
        if port is None:
            p.items.append(f"{k}.port: is required with image (the loopback host port)")
        else:
            checks.check_port(p, f"{k}.port", port)
            upstream = f"http://127.0.0.1:{port}"
        if cport is not None:
            checks.check_port(p, f"{k}.containerPort", cport, low=1)
    env = take(p, k, raw, "env", dict, {})
    for key, value in env.items():
        if not checks.ENV_NAME_RE.match(str(key)):
            p.add(f"{k}.env", key, "is not a valid environment variable name")
        elif key in BACKEND_KEYS:  # e.g. `tls: false` indented one level too deep
            p.add(f"{k}.env.{key}", value, f"is a backend setting, not an environment variable: "
                  f"indent it as {k}.{key} (or rename the variable, e.g. {key.upper()})")
        if not isinstance(value, (str, int, float, bool)) or "\n" in str(value):
            p.add(f"{k}.env.{key}", value, "must be a single-line string or number")
    secret_env = take(p, k, raw, "secretEnv", list, [])
    for j, key in enumerate(secret_env):
        if not isinstance(key, str) or not checks.ENV_NAME_RE.match(key):
            p.add(f"{k}.secretEnv[{j}]", key, "is not a valid environment variable name")
    secret_files = take(p, k, raw, "secretFiles", list, [])
    for j, key in enumerate(secret_files):
        if not isinstance(key, str) or not checks.ENV_NAME_RE.match(key):
            p.add(f"{k}.secretFiles[{j}]", key, "is not a valid environment variable name")
        elif key in secret_env or key in env or f"{key}_FILE" in env:
            p.add(f"{k}.secretFiles[{j}]", key, "is also in secretEnv or env (as itself or "
                  f"{key}_FILE): give each name one way in")
        elif secret_files.index(key) != j:
            p.add(f"{k}.secretFiles[{j}]", key, "is listed twice")
    if (env or secret_env or secret_files) and image is None:
        p.items.append(f"{k}: env, secretEnv and secretFiles only apply with image")
    memory = take(p, k, raw, "memoryMb", int, 256)
    if not 32 <= memory <= 65536:
        p.add(f"{k}.memoryMb", memory, "must be between 32 and 65536 (megabytes)")
    tls = take(p, k, raw, "tls", bool)
    site = routes.under_site(p, k, domain, path, tls, sites) if domain is not None else None
    if len(p.items) > before or name is None or domain is None or upstream is None:
        return None
    return BackendConfig(name=name, domain=domain, path=path, upstream=upstream,
                         tls=site.tls if site is not None else (True if tls is None else tls),
                         image=image, port=port, container_port=cport, memory_mb=memory,
                         env=tuple((str(a), _env_str(b)) for a, b in env.items()),
                         secret_env=tuple(secret_env), secret_files=tuple(secret_files),
                         site=site.name if site is not None else None)


def _env_str(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _duckdns(p: Problems, raw: dict[str, Any]) -> DuckDnsConfig | None:
    k = f"{NS}:duckdns"
    r = _mapping(p, raw, "duckdns")
    unknown_keys(p, k, r, {"domains", "updateUrl", "intervalMinutes"})
    domains = take(p, k, r, "domains", list, [], required=True)
    if "duckdns" in raw and not domains and "domains" in r:
        p.items.append(f"{k}.domains: is empty; list at least one DuckDNS sub-domain")
    for j, d in enumerate(domains):
        if not isinstance(d, str) or not re.match(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$", d):
            p.add(f"{k}.domains[{j}]", d, "must be a DuckDNS sub-domain name such as meljuju "
                  "(without .duckdns.org)")
    url = take(p, k, r, "updateUrl", str, DuckDnsConfig.update_url)
    checks.check_http_url(p, f"{k}.updateUrl", url, ("https", "http"))
    if url.startswith("http://") and checks.loopback_port(url) is None:
        p.add(f"{k}.updateUrl", url, "must be https (the DuckDNS token travels in it); plain "
              "http is only allowed to a loopback test server (127.0.0.1)")
    minutes = take(p, k, r, "intervalMinutes", int, 5)
    if not 1 <= minutes <= 1440:
        p.add(f"{k}.intervalMinutes", minutes, "must be between 1 and 1440")
    return DuckDnsConfig(domains=tuple(domains), update_url=url, interval_minutes=minutes)


def _firewall(p: Problems, raw: dict[str, Any]) -> FirewallConfig:
    k = f"{NS}:firewall"
    unknown_keys(p, k, raw, {"enabled", "allow"})
    allow = take(p, k, raw, "allow", list, [])
    for j, rule in enumerate(allow):
        m = re.match(r"^(\d{1,5})(?:/(tcp|udp))?$", str(rule))
        if not m or not 1 <= int(m.group(1)) <= 65535:
            p.add(f"{k}.allow[{j}]", rule, "must be PORT or PORT/tcp or PORT/udp, e.g. 8443/tcp")
    return FirewallConfig(enabled=take(p, k, raw, "enabled", bool, False),
                          allow=tuple(str(a) if "/" in str(a) else f"{a}/tcp" for a in allow))


def _cross_checks(p: Problems, stack: StackConfig, site_idx: list[int],
                  backend_idx: list[int]) -> None:
    names: dict[str, str] = {}
    domains: dict[str, str] = {}
    ports: dict[int, str] = {}
    if not stack.box.local:
        ports[stack.box.port] = f"{NS}:box.port"
        if stack.box.new_port is not None:
            ports.setdefault(stack.box.new_port, f"{NS}:box.newPort")
    ports[stack.apache.http_port] = f"{NS}:apache.httpPort"
    ports.setdefault(stack.apache.https_port, f"{NS}:apache.httpsPort")

    def claim(table: dict[Any, str], value: Any, key: str, what: str) -> None:
        if value in table:
            p.add(key, value, f"is already used as {what} by {table[value]}")
        else:
            table[value] = key

    for i, s in zip(site_idx, stack.sites, strict=True):
        k = f"{NS}:sites[{i}]"
        claim(names, s.name, f"{k}.name", "a name")
        for j, d in enumerate(s.domains):
            claim(domains, d, f"{k}.domain" if j == 0 else f"{k}.aliases[{j - 1}]", "a domain")
        for port in s.ports:
            label = f"{k}.port" if port == s.port else f"{k}.port (replica {port - s.port})"
            if port in ports:
                p.add(label, port, f"overlaps port {port} already used by {ports[port]}")
            else:
                ports[port] = label
    paths: dict[tuple[str, str], str] = {}
    for i, b in zip(backend_idx, stack.backends, strict=True):
        k = f"{NS}:backends[{i}]"
        claim(names, b.name, f"{k}.name", "a name")
        if b.site is None:
            claim(domains, b.domain, f"{k}.domain", "a domain")
        else:  # a route under a site: the site holds the domain, each path once
            route = (b.domain, b.path.rstrip("/"))
            if route in paths:
                p.add(f"{k}.path", b.path, f"is already routed on {b.domain} by {paths[route]}; "
                      "give one of them another path")
            paths.setdefault(route, f"{k}.path")
        upstream_port = checks.loopback_port(b.upstream) if b.image is None else None
        if upstream_port is not None and upstream_port in ports:
            p.add(f"{k}.upstream", b.upstream, f"points at port {upstream_port}, which is "
                  f"{ports[upstream_port]}: Apache would proxy this backend there; fix one of them")
        if b.port is not None:
            claim(ports, b.port, f"{k}.port", "a port")
    renamed: dict[str, str] = {}
    for i, s in zip(site_idx, stack.sites, strict=True):
        if s.renamed_from is None:
            continue
        k = f"{NS}:sites[{i}].renamedFrom"
        if s.renamed_from in names:
            p.add(k, s.renamed_from, f"is still used by {names[s.renamed_from]}: renamedFrom "
                  "names the site's previous name, which no site or backend may use any more")
        else:
            claim(renamed, s.renamed_from, k, "a previous name")
    if stack.tls_hosts and stack.acme.email is None:
        p.items.append(f"{NS}:acme.email: is required because sites or backends use tls: true "
                       f"(Let's Encrypt sends expiry notices there)")
