"""The opt-in page cache of a site (`cache: {ttl: 60}`): mod_cache + mod_cache_disk in the
balancer Apache, for anonymous visitors only. See docs/cache.md for the why of each rule.

- `cache_block(site)`: the directives both of the site's vhosts get (empty when the cache is off);
- `command(site)`: enables the modules, creates the site's cache root under /var/cache/apache2/
  and installs the size-bounded cleaning (htcacheclean from cron); its delete removes both.

What never comes from and never goes into the cache: requests carrying any cookie that is not
on the allow-list of harmless ones (analytics, consent; `ALLOWED_COOKIES` + the site's
`cache.allowCookies`), so a WordPress login, a commenter's or a plugin's own visitor cookie
alike; requests with `Authorization`; `/wp-admin/`,
`wp-login.php`, `/wp-json/` (and `?rest_route=`), `xmlrpc.php`, `wp-cron.php`, comment
posting, signup/activation, previews and unapproved-comment links; anything but GET/HEAD
(mod_cache only stores GET); responses that set a cookie or are not a 200.
"""

from __future__ import annotations

import re
import shlex

from components.config import SiteConfig, StackConfig
from components.render.apache import routes as apache_routes
from components.render.command import BoxCommand, script

CACHE_BASE = "/var/cache/apache2"
CRON_DIR = "/etc/cron.d"
# setenvif and headers are Debian/wpfleet defaults already; enabling them again is a no-op
MODULES = ("cache", "cache_disk", "setenvif", "headers")
# Cookies known to be harmless (set and read by JavaScript for analytics or cookie consent, or
# WordPress's login-page test cookie): a request carrying only these may be served from the
# cache. ANY other cookie bypasses it (Varnish's default: a cookie means a personal page), so a
# plugin's own visitor cookie never gets its personalised page cached for everyone. An entry
# ending in `*` is a prefix. A site adds its own with `cache: {allowCookies: [...]}`.
ALLOWED_COOKIES = (
    "_ga", "_ga_*", "_gid", "_gat*", "__utm*", "_gcl_*", "_fbp", "_fbc", "_hj*", "_pk_*",
    "_clck", "_clsk", "_uetsid", "_uetvid", "__hstc", "__hssrc", "__hssc", "hubspotutk",
    "cookielawinfo-checkbox-*", "CookieLawInfoConsent", "viewed_cookie_policy",
    "cookie_notice_accepted", "cmplz_*", "borlabs-cookie", "CookieConsent", "euconsent-v2",
    "moove_gdpr_popup", "wordpress_test_cookie")
# Cookies that make a page personal, named in docs/cache.md: bypassed like any cookie not on
# the allow-list (this tuple is for the docs and tests; the rule is the allow-list).
PERSONAL_COOKIES = ("wordpress_(?!test_cookie)", "wp-postpass_", "comment_author",
                    "woocommerce_items_in_cart", "woocommerce_cart_hash",
                    "wp_woocommerce_session_")
# Paths whose answers are personal or state-changing (matched anywhere in the decoded path).
NO_CACHE_PATHS = (r"/wp-admin/", r"/wp-json/", r"/wp-login\.php", r"/wp-cron\.php",
                  r"/xmlrpc\.php", r"/wp-comments-post\.php", r"/wp-signup\.php",
                  r"/wp-activate\.php")
# Query parameters that reach the REST API or show a visitor their own unpublished content.
NO_CACHE_QUERY = ("rest_route", "preview", "unapproved", "moderation-hash")

_BLOCK = """\
    # wpfleet page cache: anonymous GETs stay @TTL@ s in @ROOT@ (docs/cache.md).
    # The normal handler (not the quick one) so the bypass rules below run before any lookup.
    CacheQuickHandler Off
    CacheRoot @ROOT@
    CacheEnable disk /
    CacheDisable /.well-known/acme-challenge/
    CacheDisable /balancer-manager
    CacheDirLevels 2
    CacheDirLength 1
    # WordPress sends no freshness info (pages) or only Last-Modified (feeds): the TTL applies,
    # and caps any longer lifetime a plugin sends
    CacheDefaultExpire @TTL@
    CacheMinExpire @TTL@
    CacheMaxExpire @TTL@
    CacheIgnoreNoLastMod On
    # one request refreshes an expired page; the others get the stale copy meanwhile
    CacheLock On
    CacheLockMaxAge 10
    # a stored Set-Cookie would be replayed to every visitor
    CacheIgnoreHeaders Set-Cookie
    # cached bodies are files: sendfile(2) them (Debian's default is Off; +50% hits/s in an A/B run)
    EnableSendfile On
    # X-Cache: HIT / MISS / REVALIDATE from mod_cache, BYPASS from the rules below
    CacheHeader On
@ROUTES@    # Personal or state-changing requests: never looked up (request no-cache/no-store; never
    # CacheIgnoreCacheControl On, which would ignore exactly this) and never stored (no-cache env).
    # Any cookie not on the allow-list of harmless ones (the whole header must be made of them):
    SetEnvIfExpr "req('Cookie') != '' && req('Cookie') !~ m#^[ ;]*(?:(?:@ALLOWED@)=[^;]*(?:;[ ]*|$))*$#" no-cache
    # Authenticated requests (HTTP auth, application passwords): never served, never stored
    SetEnvIf Authorization "." no-cache
    SetEnvIfNoCase Request_URI "@PATHS@" no-cache
    SetEnvIfExpr "%{QUERY_STRING} =~ /(^|&)(@QUERY@)=/" no-cache
    # A visitor's own Cache-Control/Pragma (reload, max-age=0) must not make every request
    # reach PHP (a cheap way to defeat the cache): only the rules above decide.
    RequestHeader unset Cache-Control
    RequestHeader unset Pragma
    RequestHeader set Cache-Control "no-cache, no-store" env=no-cache
    Header always set X-Cache BYPASS env=no-cache
    # Only a 200 that sets no cookie may be stored (runs before mod_cache's save filter;
    # WordPress's own 404s and redirects are not stored anyway: this covers plugins'). A 304
    # revalidating a stored feed is left alone: its headers are merged into the stored copy.
    Header merge Cache-Control no-store "expr=%{REQUEST_STATUS} !~ /^(200|304)$/ || -n resp('Set-Cookie')"
    # The TTL caps a longer lifetime a plugin sends: mod_cache judges a stored page fresh by its
    # own max-age/s-maxage (CacheMaxExpire only bounds Expires-derived and heuristic lifetimes),
    # so any max-age or s-maxage above the TTL is rewritten to the TTL before it is stored (a
    # cached page's WordPress nonces must stay valid: 12 h at most). Shorter ones are kept.
    Header edit* Cache-Control "(?<![-a-z])(max-age|s-maxage)=0*(?:@ABOVE_TTL@)(?![0-9])" "$1=@TTL@"
    # An Expires without max-age is not capped by CacheMaxExpire either: the shared cache gets
    # its lifetime from s-maxage instead (browsers keep the Expires).
    Header merge Cache-Control s-maxage=@TTL@ "expr=-n resp('Expires') && resp('Cache-Control') !~ /max-?age=/"
    # Replicas compress and send Vary: Accept-Encoding: one copy per encoding, not per spelling.
    SetEnvIfNoCase Accept-Encoding "gzip" WPFLEET_GZIP
    RequestHeader set Accept-Encoding gzip env=WPFLEET_GZIP
    RequestHeader unset Accept-Encoding env=!WPFLEET_GZIP
"""


def cache_root(site: SiteConfig) -> str:
    return f"{CACHE_BASE}/wpfleet-{site.name}"


def cron_name(site: SiteConfig) -> str:
    return f"wpfleet-htcacheclean-{site.name}"  # cron.d names: letters, digits, '-' and '_'


def cron_line(site: SiteConfig) -> str:
    """Every 5 minutes, htcacheclean trims the site's cache root to `maxSizeMb` (nice'd)."""
    assert site.cache is not None
    return (f"*/5 * * * * root /usr/bin/htcacheclean -n -t -p {shlex.quote(cache_root(site))}"
            f" -l {site.cache.max_size_mb}M\n")


def cron_file(site: SiteConfig) -> str:
    return (f"# Rendered by wpfleet: size-bounded cleaning of {site.name}'s page cache.\n"
            f"{cron_line(site)}")


def above(n: int) -> str:
    """A regex matching exactly the decimal integers greater than n (n >= 0, no leading zeros)."""
    digits = str(n)
    alts = [f"[1-9][0-9]{{{len(digits)},}}"]  # more digits than n
    for i, d in enumerate(digits):  # same length: equal up to i, then a greater digit
        if d != "9":
            rest = len(digits) - i - 1
            alts.append(digits[:i] + (f"[{int(d) + 1}-9]" if d != "8" else "9")
                        + (f"[0-9]{{{rest}}}" if rest else ""))
    return "|".join(alts)


def cookie_pattern(names: tuple[str, ...]) -> str:
    """Cookie names (validated: [A-Za-z0-9_.-], optionally ending in `*` = prefix) as a regex."""
    return "|".join(re.escape(n[:-1]) + "[^=;]*" if n.endswith("*") else re.escape(n)
                    for n in names)


def cache_block(site: SiteConfig, routes: tuple[str, ...] = ()) -> str:
    """Directives for both vhosts of `site` (placed before ProxyPass); "" when the cache is off.

    `routes`: paths of backends under the site (`/api`): never looked up or stored, and the
    WordPress rules below (request/response header rewriting) do not touch them."""
    if site.cache is None:
        return ""
    allowed = ALLOWED_COOKIES + tuple(c for c in site.cache.allow_cookies
                                      if c not in ALLOWED_COOKIES)
    text = (_BLOCK.replace("@TTL@", str(site.cache.ttl)).replace("@ROOT@", cache_root(site))
            .replace("@ALLOWED@", cookie_pattern(allowed))
            .replace("@ABOVE_TTL@", above(site.cache.ttl))
            .replace("@PATHS@", "(" + "|".join(NO_CACHE_PATHS) + ")")
            .replace("@QUERY@", "|".join(NO_CACHE_QUERY)))
    if not routes:
        return text.replace("@ROUTES@", "")
    regex = apache_routes.pattern(routes)
    store, rules = text.split("@ROUTES@")
    # CacheDisable keeps mod_cache off the route; the no-cache variable (set on the decoded
    # path, the one ProxyPass matches: /%61pi is /api) also forbids storing, whatever spelling
    # of the path CacheDisable compares
    off = "".join(f"    CacheDisable {p}\n" for p in routes)
    return (store + "    # backend routes: not WordPress pages, never cached\n" + off
            + f'    SetEnvIf Request_URI "{regex}" no-cache\n'
            + f'    <If "%{{REQUEST_URI}} !~ m#{regex}#">\n'
            + "".join(f"    {line}\n" if line else "\n" for line in rules.splitlines())
            + "    </If>\n")


_APPLY = """\
CONFDIR="${APACHE_CONFDIR:-/etc/apache2}"
export APACHE_CONFDIR="$CONFDIR"
ROOT=%(root)s
CRON="${WPFLEET_CRON_DIR:-%(cron_dir)s}/"%(cron_name)s
changed=0 modules=0 enabled_disk=0
exec 9>>"$CONFDIR/.wpfleet-apply.lock"
flock -w 600 9  # the same lock as the conf applies: one a2enmod/configtest/reload at a time
for m in %(modules)s; do
  if [ ! -e "$CONFDIR/mods-enabled/$m.load" ]; then
    a2enmod -q "$m" >/dev/null; echo "enabled module $m"; changed=1 modules=1
    [ "$m" != cache_disk ] || enabled_disk=1
  fi
done
read -r RUN_USER RUN_GROUP < <(set +u; . "$CONFDIR/envvars"
  echo "${APACHE_RUN_USER:-www-data} ${APACHE_RUN_GROUP:-www-data}")
if [ ! -d "$ROOT" ]; then
  mkdir -p "$ROOT"; echo "created $ROOT"; changed=1
fi
if [ "$(stat -c %%U:%%G:%%a "$ROOT")" != "$RUN_USER:$RUN_GROUP:750" ]; then
  chown "$RUN_USER:$RUN_GROUP" "$ROOT"; chmod 750 "$ROOT"; echo "owner of $ROOT: $RUN_USER"
  changed=1
fi
tmp=$(mktemp "$CRON.XXXXXX")
cat > "$tmp" <<'WPFLEET_CRON_EOF'
%(cron)sWPFLEET_CRON_EOF
chmod 644 "$tmp"
if [ -f "$CRON" ] && cmp -s "$tmp" "$CRON"; then rm -f "$tmp"
else mv -f "$tmp" "$CRON"; echo "wrote $CRON"; changed=1; fi
command -v cron >/dev/null || [ -x /usr/sbin/cron ] || \\
  echo "warning: no cron daemon: $CRON will not run (apt-get install cron)" >&2
pidfile=$(set +u; . "$CONFDIR/envvars"; echo "$APACHE_PID_FILE")
if [ "$modules" = 1 ] && [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
  if apache2ctl configtest >/dev/null 2>&1; then apache2ctl graceful; echo "reloaded apache2"; fi
fi
# Debian's `a2enmod cache_disk` also enables its apache-htcacheclean service, which cleans
# /var/cache/apache2/mod_cache_disk (not a wpfleet cache root) with its own 300 MB default: it
# is kept off on purpose; each site's root is cleaned by the job above, sized from maxSizeMb.
HTC=apache-htcacheclean
if [ -d /run/systemd ] && command -v systemctl >/dev/null; then  # as a2enmod decides
  if systemctl is-enabled -q "$HTC" 2>/dev/null; then
    systemctl disable -q "$HTC" 2>/dev/null || true
    echo "disabled Debian's $HTC service (wpfleet cleans each site's cache root)"; changed=1
  fi
  if [ -d /run/systemd/system ] && systemctl is-active -q "$HTC" 2>/dev/null; then
    systemctl stop "$HTC"; echo "stopped Debian's $HTC service"; changed=1
  fi
elif [ "$enabled_disk" = 1 ] && command -v update-rc.d >/dev/null; then
  # a2enmod just ran `update-rc.d $HTC enable` (sysvinit; nothing was started): undo it
  update-rc.d "$HTC" disable >/dev/null 2>&1 || true
  echo "disabled Debian's $HTC service (wpfleet cleans each site's cache root)"
fi
[ "$changed" = 1 ] || echo "unchanged: page cache of %(name)s ($ROOT, $CRON)"
"""

_DELETE = """\
CRON="${WPFLEET_CRON_DIR:-%(cron_dir)s}/"%(cron_name)s
if [ -e "$CRON" ]; then rm -f "$CRON"; echo "removed $CRON"; fi
# the cached pages are disposable copies; the modules stay (other sites may use them)
if [ -d %(root)s ]; then rm -rf %(root)s; echo "removed "%(root)s; fi
"""


def command(site: SiteConfig) -> BoxCommand:
    """apache-cache-<site>: modules, cache root and cleaning; must run before the site's conf."""
    values = {"root": shlex.quote(cache_root(site)), "cron_dir": CRON_DIR,
              "cron_name": shlex.quote(cron_name(site)), "modules": " ".join(MODULES),
              "cron": cron_file(site), "name": site.name}
    apply = script(_APPLY % values)
    return BoxCommand(name=f"apache-cache-{site.name}", create=apply, update=apply,
                      delete=script(_DELETE % values))


def commands(stack: StackConfig) -> list[BoxCommand]:
    return [command(s) for s in stack.sites if s.cache is not None]


def files(stack: StackConfig) -> dict[str, str]:
    return {f"{CRON_DIR}/{cron_name(s)}": cron_file(s) for s in stack.sites if s.cache is not None}
