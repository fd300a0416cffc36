"""Apache on the box: one conf per site and per backend route, the ACME conf, and the commands.

Every conf is a pure function of validated config. A site conf holds:
- a `<Proxy balancer://wpfleet-<name>>` over the site's replicas (127.0.0.1:port+i) with active
  health checks (mod_proxy_hcheck); a refused connection fails over to the next member;
- a port-80 vhost that serves `/.well-known/acme-challenge/` from `acme.webroot` (never proxied,
  never redirected) and proxies the rest, or redirects it to HTTPS once the certificate exists;
- a port-443 vhost inside `<IfFile wpfleet-tls/<domain>.pem>`, so the same conf is valid before
  and after certbot ran (a graceful reload activates it). That file (relative to ServerRoot:
  /etc/apache2/wpfleet-tls/ on the box) is wpfleet's verified copy of certbot's key + chain,
  never certbot's live files, and exists only once a matching pair is in place (tls.py).
Vhosts are `*:<port>`: the `Listen` lines live in ports.conf, managed by the install command.
"""

from __future__ import annotations

import re

from components.config import BackendConfig, SiteConfig, StackConfig
from components.render.apache import cache as apache_cache
from components.render.apache import frontdoor, scripts, tls
from components.render.apache import routes as apache_routes
from components.render.command import BoxCommand
from components.render.constants import ACME_PATH
from components.render.wordpress import php as wp_php

SITES_DIR = "/etc/apache2/sites-available"
ACME_CONF = "/etc/apache2/conf-available/wpfleet-acme.conf"
TUNING_CONF = "/etc/apache2/conf-available/wpfleet-tuning.conf"
PORTS_CONF = "/etc/apache2/ports.conf"
# Health checks prove PHP answers, at the cost of one PHP file that does nothing: WordPress's
# wp-content/index.php ("Silence is golden", an empty 200 when PHP runs; the expression
# `wpfleet_php` is in the tuning conf). A home page costs a full WordPress boot + DB queries.
# Every 2 s; 1 failure takes a replica out, 1 pass brings it back. A hung replica's check waits
# out `timeout` (10 s): it is out within interval + timeout = 12 s of hanging (a request that
# timed out may take it out sooner, for `retry` seconds). What keeps clients off a hung replica
# before and between those is lbmethod=bybusyness (site_conf): see tests/integration/
# test_apache_replica_faults.py (issue 21: 3 slow or failed requests of 2,400, was 334).
# Under load a request times out first (+10 s) and puts the member in error state for `retry`;
# the check that fails at ~+11 s is then not counted (mod_proxy_hcheck counts only passes for a
# member in error), and no new check starts while one is in flight, so HcFl comes from the next
# check, at ~+23 s; between `retry`'s end (+15 s) and then the member shows "Ok" but bybusyness
# sends it nothing new. A passing check clears the error state, so recovery takes ~1 s whatever
# `retry` is. Measured with bench/hung_replica.py, with the longer-retry alternative
# (docs/benchmarks.md).
HEALTH_URI = "/wp-content/index.php"
HCHECK = f"hcmethod=GET hcuri={HEALTH_URI} hcexpr=wpfleet_php hcinterval=2 hcpasses=1 hcfails=1"
# Connections to replicas are pooled and reused (the default); a dead pooled connection is
# detected before reuse. retry: how long a member that refused a connection stays out.
# timeout: a replica silent for 10 s (hung PHP) fails the request and, with failontimeout, is
# taken out (Apache's default would wait `Timeout`); the health check uses it too.
# ttl: a pooled connection idle for 3 s is closed, not reused: the replicas' Apache closes idle
# keep-alive connections after 5 s (KeepAliveTimeout), and a request sent on a connection the
# replica is closing at that moment fails with a 502.
UPSTREAM_TTL = "ttl=3"
MEMBER = f"retry=5 connectiontimeout=3 timeout=10 keepalive=On {UPSTREAM_TTL}"
PROXIED_BANNERS = ("Server", "X-Powered-By")  # what the software behind a site/backend is
HEADER = "# Rendered by wpfleet from the stack config; `pulumi up` overwrites manual edits.\n"


def hosts(stack: StackConfig) -> tuple[SiteConfig | BackendConfig, ...]:
    """Sites then backends with a domain of their own: each gets one conf and one command (a
    backend under a site's path is part of the site's conf)."""
    out: list[SiteConfig | BackendConfig] = [*stack.sites, *stack.own_domain_backends]
    return tuple(out)


def conf_name(host: SiteConfig | BackendConfig) -> str:
    return f"wpfleet-{host.name}"


def conf_path(host: SiteConfig | BackendConfig) -> str:
    return f"{SITES_DIR}/{conf_name(host)}.conf"


def cert_dir(stack: StackConfig, host: SiteConfig | BackendConfig) -> str:
    """certbot runs with `--cert-name <primary domain>`, so it writes live/<domain>/."""
    return f"{stack.acme.config_dir}/live/{host.domain}"


def _host_re(domain: str) -> str:
    """A RewriteCond pattern matching this Host header with any port or none (behind a router
    that forwards public ports, clients send the public port or none)."""
    return "^" + re.escape(domain) + "(:[0-9]+)?$"


def _url(scheme: str, domain: str, port: int) -> str:
    default = 80 if scheme == "http" else 443
    return f"{scheme}://{domain}" + ("" if port == default else f":{port}")


def _acme_block(stack: StackConfig) -> str:
    webroot = stack.acme.webroot
    return ("    # ACME HTTP-01: from the webroot, never proxied (must precede ProxyPass /)\n"
            f"    ProxyPass {ACME_PATH} !\n"
            f"    Alias {ACME_PATH} {webroot}{ACME_PATH}\n")


def _proxy_block(proto: str, path: str, target: str, manager: bool, params: str = "",
                 routes: tuple[BackendConfig, ...] = ()) -> str:
    # Clients must not spoof what the backend trusts: set the scheme, drop forwarded headers
    # the client sent (mod_proxy then appends the real client address and host).
    lines = ["    ProxyPreserveHost On",
             f'    RequestHeader set X-Forwarded-Proto "{proto}"',
             # (the other client forwarding headers are removed server-wide: tuning conf)
             "    RequestHeader unset X-Forwarded-For",
             "    RequestHeader unset X-Forwarded-Host",
             # Apache passes a proxied answer's own Server/X-Powered-By through (`BaseHTTP/0.6
             # Python/3.11.7`, `Apache/2.4.65 (Debian)`, `PHP/8.3.x`, `Express`), whatever its
             # status (they are in the answer's own headers, not the `always` table); Server
             # then falls back to Apache's own banner, "Apache" (ServerTokens Prod)
             *(f"    Header unset {h}" for h in PROXIED_BANNERS)]
    if manager:
        lines += ["    ProxyPass /balancer-manager !",
                  "    <Location /balancer-manager>",
                  "        SetHandler balancer-manager",
                  "        Require local",
                  "    </Location>"]
    # before ProxyPass /: the first match wins; ttl as for a backend on its own domain
    lines += apache_routes.proxy_lines(routes, f" {UPSTREAM_TTL}")
    lines += [f"    ProxyPass {path} {target}{params}", f"    ProxyPassReverse {path} {target}"]
    return "\n".join(lines) + "\n"


def _canonical_rules(domains: tuple[str, ...], scheme: str, port: int) -> str:
    """Aliases redirect to the canonical (first) domain, keeping the ACME path servable."""
    if len(domains) == 1:
        return ""
    return ("    # aliases redirect to the canonical domain\n"
            f"    RewriteCond %{{REQUEST_URI}} !^{re.escape(ACME_PATH)}\n"
            f"    RewriteCond %{{HTTP_HOST}} !{_host_re(domains[0])} [NC]\n"
            f"    RewriteRule ^ {_url(scheme, domains[0], port)}%{{REQUEST_URI}} [R=301,L]\n")


STICKY_FLAGS = "HttpOnly"


def _secure_cookie(extra: str) -> str:
    """On 443 the sticky cookie is also `Secure` (never sent back over plain HTTP)."""
    return extra.replace(f'{STICKY_FLAGS}" env=BALANCER_ROUTE_CHANGED',
                         f'{STICKY_FLAGS}; Secure" env=BALANCER_ROUTE_CHANGED')


def _vhosts(stack: StackConfig, host: SiteConfig | BackendConfig, path: str, target: str,
            manager: bool, extra: str = "", params: str = "",
            routes: tuple[BackendConfig, ...] = ()) -> str:
    """The port-80 vhost and the certificate-guarded 443 vhost; `extra` goes before ProxyPass.
    Redirects use the public ports."""
    a = stack.apache
    names = f"    ServerName {host.domain}\n" + "".join(
        f"    ServerAlias {d}\n" for d in host.domains[1:])
    # `_log`, not `.log`: rotated by wpfleet's logrotate conf, not Debian's (render/wordpress/tools.py)
    logs = (f"    ErrorLog ${{APACHE_LOG_DIR}}/{conf_name(host)}-error_log\n"
            f"    CustomLog ${{APACHE_LOG_DIR}}/{conf_name(host)}-access_log wpfleet\n")
    served = tls.served_rel(host.domain)  # key + chain, swapped in whole once they match
    https_redirect = ""
    if host.tls:
        https_redirect = (
            f"    <IfFile {served}>\n"
            "        # the certificate exists: everything but the ACME path moves to HTTPS\n"
            f"        RewriteCond %{{REQUEST_URI}} !^{re.escape(ACME_PATH)}\n"
            f"        RewriteRule ^ {_url('https', host.domain, a.redirect_https_port)}"
            "%{REQUEST_URI}"
            " [R=301,L]\n"
            "    </IfFile>\n")
    out = (f"<VirtualHost *:{a.http_port}>\n{names}{logs}"
           f"    RewriteEngine On\n{frontdoor.REQUEST_GUARD}"
           f"{https_redirect}{_canonical_rules(host.domains, 'http', a.redirect_http_port)}"
           f"{_acme_block(stack)}{extra}{_proxy_block('http', path, target, manager, params, routes)}"
           "</VirtualHost>\n")
    if host.tls:
        hsts = frontdoor.HSTS if getattr(host, "hsts", True) else ""
        out += (f"\n<IfModule ssl_module>\n<IfFile {served}>\n"
                f"<VirtualHost *:{a.https_port}>\n{names}{logs}"
                "    SSLEngine on\n"
                f"    SSLCertificateFile {served}\n"
                f"    SSLCertificateKeyFile {served}\n{hsts}"
                f"    RewriteEngine On\n{frontdoor.REQUEST_GUARD}"
                f"{_canonical_rules(host.domains, 'https', a.redirect_https_port)}"
                f"{_acme_block(stack)}{_secure_cookie(extra)}"
                f"{_proxy_block('https', path, target, manager, params, routes)}"
                "</VirtualHost>\n</IfFile>\n</IfModule>\n")
    return out


def site_conf(stack: StackConfig, site: SiteConfig) -> str:
    balancer = f"balancer://{conf_name(site)}"
    members = "".join(
        f"    BalancerMember http://127.0.0.1:{port} route=r{i} {MEMBER} {HCHECK}\n"
        for i, port in enumerate(site.ports))
    # The balancer's own settings go on each vhost's ProxyPass: a `ProxyPass balancer://...`
    # inside a VirtualHost uses that vhost's copy of the balancer, which does NOT get what a
    # `ProxySet` in the server-level <Proxy> section sets (seen on the balancer-manager page:
    # byrequests, failontimeout off). The <Proxy> section holds the members.
    # bybusyness: each request goes to the member with the fewest requests in flight, so a
    # hung member (its requests pile up) stops getting new ones at once instead of a third of
    # them until a health check or a timeout takes it out; a refused connection retries the
    # next member; failontimeout: a member that timed out (hung) is taken out like a refused one
    params = " lbmethod=bybusyness failontimeout=On"
    if site.sticky:
        params += " stickysession=WPFLEET_ROUTE"
    head = (f"# wpfleet site {site.name}: {', '.join(site.domains)} -> "
            f"{len(site.ports)} replica(s) on 127.0.0.1:{site.ports[0]}-{site.ports[-1]}\n"
            + "".join(f"# wpfleet backend {b.name}: {b.domain}{b.path} -> {b.upstream}\n"
                      for b in stack.routes(site.name))
            + f"{HEADER}"
            f"<Proxy {balancer}>\n{members}</Proxy>\n")
    cookie = ""
    if site.sticky:  # the cookie names the replica that served the first request
        cookie = ('    Header add Set-Cookie "WPFLEET_ROUTE=.%{BALANCER_WORKER_ROUTE}e; path=/; '
                  f'{STICKY_FLAGS}" env=BALANCER_ROUTE_CHANGED\n')
    routes = stack.routes(site.name)
    return head + "\n" + _vhosts(stack, site, "/", f"{balancer}/", stack.apache.balancer_manager,
                                 apache_routes.skip_site_rules(routes)
                                 + wp_php.limit_request_body(site) + cookie
                                 + apache_cache.cache_block(site, tuple(b.path for b in routes)),
                                 params, routes)


def backend_conf(stack: StackConfig, backend: BackendConfig) -> str:
    path = backend.path
    head = (f"# wpfleet backend {backend.name}: {backend.domain}{path} -> {backend.upstream}\n"
            f"{HEADER}\n")
    only = ""
    if path != "/":  # only the route's path (and the ACME path) is served on this domain
        only = f"    RedirectMatch 404 ^/(?!{re.escape(ACME_PATH[1:])}|{re.escape(path[1:])})\n"
    # ttl: the upstream's idle keep-alive connections are dropped before it closes them
    # (Node.js's default keepAliveTimeout is 5 s), as for the sites' replicas (MEMBER)
    return head + _vhosts(stack, backend, path, apache_routes.target(backend), False, only,
                          f" {UPSTREAM_TTL}")


def acme_conf(stack: StackConfig) -> str:
    webroot = stack.acme.webroot
    return (f"# wpfleet: the ACME HTTP-01 webroot (certbot --webroot -w {webroot})\n{HEADER}"
            f"Alias {ACME_PATH} {webroot}{ACME_PATH}\n"
            f"<Directory {webroot}{ACME_PATH}>\n"
            "    Options None\n    AllowOverride None\n"
            "    ForceType text/plain\n"
            "    Require all granted\n"
            "</Directory>\n")


def host_conf(stack: StackConfig, host: SiteConfig | BackendConfig) -> str:
    return site_conf(stack, host) if isinstance(host, SiteConfig) else backend_conf(stack, host)


def files(stack: StackConfig) -> dict[str, str]:
    a = stack.apache
    out = {PORTS_CONF: scripts.ports_conf(a.http_port, a.https_port),
           TUNING_CONF: scripts.TUNING_CONF_TEXT,
           # written by the install command (with a self-signed pair it generates)
           f"{SITES_DIR}/{frontdoor.DEFAULT_NAME}.conf":
               frontdoor.default_vhost_conf(a.http_port, a.https_port, "/etc/apache2"),
           ACME_CONF: acme_conf(stack)}
    for host in hosts(stack):
        out[conf_path(host)] = host_conf(stack, host)
    out.update(apache_cache.files(stack))
    return out


def install_command(stack: StackConfig) -> BoxCommand:
    """Install Apache, enable the modules, ports.conf and the tuning conf (idempotent)."""
    return scripts.install_command(stack.apache.http_port, stack.apache.https_port)


def acme_command(stack: StackConfig) -> BoxCommand:
    return scripts.conf_command("apache-acme", "conf", "wpfleet-acme", acme_conf(stack),
                                mkdir=f"{stack.acme.webroot}{ACME_PATH}")


def conf_command(stack: StackConfig, host: SiteConfig | BackendConfig) -> BoxCommand:
    # a TLS host's command also puts certbot's pair in front of Apache when the served copy is
    # missing (an upgrade from confs that read certbot's files) or broken (tls.py)
    pair = (cert_dir(stack, host), host.domain) if host.tls else None
    return scripts.conf_command(f"apache-conf-{host.name}", "sites", conf_name(host),
                                host_conf(stack, host), tls_pair=pair)


def commands(stack: StackConfig) -> list[BoxCommand]:
    return [install_command(stack), acme_command(stack), *apache_cache.commands(stack),
            *(conf_command(stack, h) for h in hosts(stack))]
