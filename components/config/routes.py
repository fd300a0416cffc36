"""Rules for a backend under a site's path: `wpfleet:backends[i]` whose `domain` is a site's.

`/api` on blog.example.org goes to the backend, every other path of the domain stays
WordPress. The route lives in the site's vhosts (no conf or certificate of its own), so its
`tls` is the site's; a path WordPress itself answers, the ACME challenge path or the whole
domain (`/`) cannot be taken. Messages name the key, the value and the fix.
"""

from __future__ import annotations

import re

from components.config.checks import Problems
from components.config.model import NAMESPACE, SiteConfig

# first path segments WordPress answers itself (wp-admin, wp-json, wp-login.php, ...)
WORDPRESS_SEGMENT_RE = re.compile(r"^(wp-[^/]*|xmlrpc\.php|index\.php)$", re.IGNORECASE)
ACME_PREFIX = "/.well-known/acme-challenge"


def under_site(p: Problems, k: str, domain: str, path: str, tls: bool | None,
               sites: tuple[SiteConfig, ...]) -> SiteConfig | None:
    """The site whose domain `domain` is (the backend becomes a route under it), else None."""
    for aliased in sites:
        if domain in aliased.aliases:
            p.add(f"{k}.domain", domain, f"is an alias of the site {aliased.name} (aliases "
                  f"redirect to {aliased.domain}); to route {path} under that site set domain: "
                  f"{aliased.domain}")
            return None
    site = next((s for s in sites if s.domain == domain), None)
    if site is None:
        return None
    first = path.strip("/").split("/", 1)[0]
    if path.rstrip("/") == "":
        p.add(f"{k}.path", path, f"would take the whole domain {domain} from the site "
              f"{site.name}; set a path such as /api (the rest of the domain stays WordPress), "
              "or give the backend a domain of its own")
    elif WORDPRESS_SEGMENT_RE.match(first):
        p.add(f"{k}.path", path, f"is a path WordPress answers on {domain} (the site "
              f"{site.name}); pick another prefix such as /api")
    elif (path.rstrip("/") + "/").startswith(ACME_PREFIX + "/") or path.lower().startswith(
            "/balancer-manager"):
        p.add(f"{k}.path", path, "is reserved (certificate challenges, balancer manager); pick "
              "another prefix such as /api")
    if tls is not None and tls != site.tls:
        p.add(f"{k}.tls", tls, f"differs from the site {site.name}'s tls: "
              f"{str(site.tls).lower()}; a route under {domain} is served by the site's vhosts "
              f"with its certificate: remove {k}.tls (or change {NAMESPACE}:sites' tls)")
    return site


__all__ = ["under_site"]
