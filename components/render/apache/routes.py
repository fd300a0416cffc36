"""Backends under a site's path (`/api` on the site's domain): what the site's vhosts add.

Each route is a ProxyPass placed before the site's `ProxyPass / balancer://...` (Apache takes
the first that matches; `StackConfig.routes` orders the longest path first), with the same
forwarding headers, timeouts and TLS as the rest of the vhost. The site's WordPress-only rules
(request body limit, page cache and its header rewriting) never apply to a route: a rewrite
rule ends the vhost's rewriting for it, and the cache excludes it (see cache.py).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from components.config import BackendConfig


def pattern(paths: tuple[str, ...]) -> str:
    """A regex for the decoded URL path (r->uri) that matches exactly what these ProxyPass
    prefixes match: `/api` takes /api and /api/..., never /apiary; `/v1/` takes /v1/... only."""
    alts = [re.escape(p) if p.endswith("/") else re.escape(p) + "(?:/|$)" for p in paths]
    return "^(?:" + "|".join(alts) + ")"


def target(backend: BackendConfig) -> str:
    """Where ProxyPass sends `path`: an upstream without a path gets the request URI unchanged;
    one with a path replaces `path` by it (nginx's proxy_pass rule)."""
    up = urlsplit(backend.upstream)
    base = f"{up.scheme}://{up.netloc}"
    if not up.path:
        return base + backend.path
    # ProxyPass wants matching trailing slashes on both sides
    return base + up.path.rstrip("/") + ("/" if backend.path.endswith("/") else "")


def proxy_lines(routes: tuple[BackendConfig, ...], params: str = "") -> list[str]:
    """ProxyPass lines of the routes, for a vhost (before its catch-all ProxyPass /); `params`
    are the upstream's worker settings (vhost.py: the keep-alive ttl)."""
    lines: list[str] = []
    for b in routes:
        lines += [f"    # backend {b.name}: {b.path} -> {b.upstream} (not WordPress)",
                  f"    ProxyPass {b.path} {target(b)}{params}",
                  f"    ProxyPassReverse {b.path} {target(b)}"]
    return lines


def skip_site_rules(routes: tuple[BackendConfig, ...]) -> str:
    """Rewrite rule ending the vhost's rewriting for a route: the site's own rules after it
    (PHP's request body limit) are WordPress's, not the backend's."""
    if not routes:
        return ""
    names = ", ".join(b.name for b in routes)
    return (f"    # backend routes ({names}): the WordPress rules below do not apply to them\n"
            f"    RewriteRule \"{pattern(tuple(b.path for b in routes))}\" - [L]\n")
