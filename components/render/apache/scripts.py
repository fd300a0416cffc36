"""Shell scripts that install Apache and apply/remove one conf safely (see vhost.py).

The Apache config root is `${APACHE_CONFDIR:-/etc/apache2}` (apache2ctl honours the same
variable), so the very scripts that run on the box also run against a private config root in
the integration tests. Apply/remove use flock, symlinks, `apache2ctl configtest`, a cert/key
check and a *verified* graceful reload (reload.py): a conf that fails any of them is
rolled back and Apache keeps serving (or is started again on the previous state). The install
saves everything it may change (enabled modules/MPM, confs, sites, files) and restores all of it
on failure.
"""

from __future__ import annotations

import hashlib
import shlex

from components.render.apache import frontdoor, tls
from components.render.apache.reload import RELOAD_LIB
from components.render.command import BoxCommand, script
from components.render.constants import APT_GET

# mod_proxy + balancer + active health checks, headers, rewrite (redirects), ssl (443 vhosts),
# http2 (h2 on the TLS vhosts)
MODULES = ("proxy", "proxy_http", "proxy_balancer", "lbmethod_byrequests", "lbmethod_bybusyness",
           "slotmem_shm",
           "proxy_hcheck", "headers", "rewrite", "ssl", "socache_shmcb", "alias", "http2")
# The MPM: event. mpm_worker was ~30% faster under closed-loop wrk (each keep-alive request stays
# on one thread), but it parks a thread on every idle keep-alive connection: browser-like clients
# arriving at 300/s that stay idle exhaust its 1024 threads (bench/faults.py "browsers").
# mpm_event hands idle keep-alive connections to its listener thread and serves them all.
MPM = "mpm_event"
OTHER_MPMS = ("mpm_prefork", "mpm_worker")
# Debian enables these by default; no wpfleet conf uses them and each costs per-request hooks
# (status: a times() syscall per request for ExtendedStatus; deflate/filter: output filters on
# proxied responses; negotiation, autoindex, env, access_compat, auth_basic, authn_file,
# authz_user: unused). mod_reqtimeout stays (slow client protection); authz_core/authz_host
# (Require), mime and dir stay; so does setenvif (Debian's ssl module depends on it).
UNUSED_MODULES = ("status", "autoindex", "negotiation", "deflate", "filter", "env",
                  "access_compat", "auth_basic", "authn_file", "authz_user")
LOCK = '"$CONFDIR/.wpfleet-apply.lock"'
# Where a verified apply leaves the sha256 of what Apache then runs (see _APPLY).
STAMPS = '"$CONFDIR/.wpfleet-verified"'
# Thread sizing shared by both threaded MPMs (each block only applies to the loaded MPM).
# All 1024 threads are spawned at start (StartServers x ThreadsPerChild) and kept: a burst of
# slow clients never waits for Apache to fork children.
_THREADS = """\
    StartServers             16
    ServerLimit              16
    ThreadLimit              64
    ThreadsPerChild          64
    MinSpareThreads          1024
    MaxSpareThreads          1024
    MaxRequestWorkers        1024
    MaxConnectionsPerChild   0
"""
# Slow clients: Timeout bounds every client read/write (Apache's default is 300 s); a client must
# finish its TLS handshake within 5 s and send its headers within 10 s (up to 20 s while it
# keeps sending 500 B/s), its body at >= 500 B/s. Idle keep-alive connections close after 5 s.
TUNING_CONF_TEXT = """\
# Rendered by wpfleet: Apache tuned as a reverse proxy (mpm_event; modules in the install step).
<IfModule mpm_worker_module>
@THREADS@</IfModule>
<IfModule mpm_event_module>
@THREADS@    AsyncRequestWorkerFactor 4
</IfModule>
Timeout 60
<IfModule reqtimeout_module>
    RequestReadTimeout handshake=5 header=10-20,MinRate=500 body=20,MinRate=500
</IfModule>
KeepAlive On
MaxKeepAliveRequests 10000
KeepAliveTimeout 5
HostnameLookups Off
BufferedLogs On
LogFormat "%a %l %u %t \\"%r\\" %>s %O %D \\"%{Referer}i\\" \\"%{User-Agent}i\\"" wpfleet
<IfModule proxy_hcheck_module>
    # a replica is healthy when PHP ran: WordPress's "Silence is golden" file, returned empty
    # (its PHP source means PHP is not executing)
    ProxyHCExpr wpfleet_php {%{REQUEST_STATUS} =~ /^[23]/ && hc('body') !~ /<\\?php/}
</IfModule>
""".replace("@THREADS@", _THREADS) + frontdoor.POLICY_CONF

# Swap in a new file and keep the old one; $1 kind dir, $2 name. Used by apply and remove.
_PRELUDE = """\
CONFDIR="${APACHE_CONFDIR:-/etc/apache2}"
export APACHE_CONFDIR="$CONFDIR"
KIND=%(kind)s NAME=%(name)s
AVAIL="$CONFDIR/$KIND-available/$NAME.conf"
ENABLED="$CONFDIR/$KIND-enabled/$NAME.conf"
PREV="$CONFDIR/$KIND-available/.$NAME.conf.wpfleet-prev"
STAMP=%(stamps)s/"$KIND-$NAME.sha256"
exec 9>>%(lock)s
flock -w 600 9  # confs are applied in parallel: one configtest + reload at a time
%(lib)s
%(served_lib)s
restore() {  # put back what was there before this run
  if [ -f "$PREV" ]; then mv -f "$PREV" "$AVAIL"; else rm -f "$AVAIL"; fi
  if [ "$WAS_ENABLED" = yes ]; then ln -sfn "../$KIND-available/$NAME.conf" "$ENABLED";
  else rm -f "$ENABLED"; fi
}
gate() {  # configtest, cert/key pairs, verified reload; on failure restore, say why and fail
  if ! out=$(apache2ctl configtest 2>&1); then
    restore
    echo "apache2ctl configtest FAILED for $AVAIL; previous state restored:" >&2
    echo "$out" >&2
    exit 1
  fi
  if ! out=$(check_cert_pairs 2>&1); then
    restore
    echo "certificate check FAILED for $AVAIL; previous state restored, Apache not reloaded:" >&2
    echo "$out" >&2
    exit 1
  fi
  if ! reload_apache; then
    restore
    recover_apache "Apache did not come back up after reloading with $AVAIL"
    exit 1
  fi
  rm -f "$PREV"
}
WAS_ENABLED=no; [ -L "$ENABLED" ] && WAS_ENABLED=yes
"""

# "unchanged" only when the stamp of the last *verified* apply matches (a conf left on disk by
# an apply killed before its reload was verified is applied again) and, for a TLS host, the
# certificate and key Apache would load at its next reload match, or none was issued yet. A
# missing or broken served pair is put back from certbot's files when those match (tls.py).
_APPLY = """\
NEW=$(mktemp "$CONFDIR/$KIND-available/.$NAME.XXXXXX")
trap 'rm -f "$NEW"' EXIT
cat > "$NEW" <<'WPFLEET_CONF_EOF'
%(content)sWPFLEET_CONF_EOF
chmod 644 "$NEW"
SUM=$(sha256sum < "$NEW"); SUM=${SUM%%%% *}
%(tls)sif [ -f "$AVAIL" ] && cmp -s "$NEW" "$AVAIL" && [ "$WAS_ENABLED" = yes ] \\
    && [ "$(cat "$STAMP" 2>/dev/null)" = "$SUM" ] && tls_ok; then
  echo "unchanged: $AVAIL (enabled, verified%(tls_note)s)"
  exit 0
fi
rm -f "$STAMP" "$PREV"; [ -f "$AVAIL" ] && cp -p "$AVAIL" "$PREV"
[ -z "$TLS_SERVED" ] || seed_served "$TLS_LIVE" "$TLS_SERVED"
mv -f "$NEW" "$AVAIL"
ln -sfn "../$KIND-available/$NAME.conf" "$ENABLED"
gate
mkdir -p "$(dirname "$STAMP")"; echo "$SUM" > "$STAMP"
echo "applied: $AVAIL (configtest passed, graceful reload verified)"
"""

_NOT_INSTALLED = """\
if ! command -v apache2ctl >/dev/null; then
  echo "apache2 is not installed: nothing to remove"; exit 0
fi
"""

_REMOVE = """\
if [ ! -e "$AVAIL" ] && [ ! -L "$ENABLED" ]; then echo "absent: $AVAIL"; exit 0; fi
rm -f "$STAMP" "$PREV"; [ -f "$AVAIL" ] && cp -p "$AVAIL" "$PREV"
rm -f "$ENABLED" "$AVAIL"
gate
echo "removed: $AVAIL (configtest passed, graceful reload verified)"
"""


def ports_conf(http_port: int, https_port: int, prefix: str = "") -> str:
    """ports.conf; `prefix` ("127.0.0.1:") is only set by tests binding loopback."""
    return (f"# Rendered by wpfleet (wpfleet:apache.httpPort/httpsPort).\n"
            f"Listen {prefix}{http_port}\n"
            f"<IfModule ssl_module>\n    Listen {prefix}{https_port}\n</IfModule>\n")


_INSTALL = """\
CONFDIR="${APACHE_CONFDIR:-/etc/apache2}"
export APACHE_CONFDIR="$CONFDIR"
changed=0 restart=0
if ! command -v apache2ctl >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  %(apt)s update -q >/dev/null && %(apt)s install -y -q apache2 >/dev/null
  echo "installed apache2"; changed=1
fi
exec 9>>%(lock)s
flock -w 600 9  # never while a conf is being applied
%(lib)s
# Everything this script may change is saved first, so a failure puts all of it back.
BACKUP=$(mktemp -d "$CONFDIR/.wpfleet-install.XXXXXX")
trap 'rm -rf "$BACKUP"' EXIT
for d in mods-enabled conf-enabled sites-enabled; do cp -a "$CONFDIR/$d" "$BACKUP/$d"; done
FILES=("$CONFDIR/ports.conf" "$CONFDIR/conf-available/wpfleet-tuning.conf"
       "$CONFDIR/wpfleet-default.crt" "$CONFDIR/wpfleet-default.key"
       "$CONFDIR/sites-available/%(default)s.conf")
for f in "${FILES[@]}"; do
  [ -f "$f" ] && cp -p "$f" "$BACKUP/$(basename "$f")"
done
WAS_RUNNING=no; master_alive && WAS_RUNNING=yes
rollback() {  # modules (MPM included), enabled confs/sites, written files: as they were
  local d f
  for d in mods-enabled conf-enabled sites-enabled; do
    rm -rf "$CONFDIR/$d"; cp -a "$BACKUP/$d" "$CONFDIR/$d"
  done
  for f in "${FILES[@]}"; do
    if [ -f "$BACKUP/$(basename "$f")" ]; then cp -p "$BACKUP/$(basename "$f")" "$f"
    else rm -f "$f"; fi
  done
}
for other in %(other_mpms)s; do  # the box's Apache only proxies: %(mpm)s (see apache_scripts.py)
  if [ -e "$CONFDIR/mods-enabled/$other.load" ]; then
    a2dismod -q "$other" >/dev/null; echo "disabled module $other"; changed=1 restart=1
  fi
done
if [ ! -e "$CONFDIR/mods-enabled/%(mpm)s.load" ]; then
  a2enmod -q %(mpm)s >/dev/null; echo "enabled module %(mpm)s"; changed=1 restart=1
fi
for m in %(unused)s; do  # Debian defaults no wpfleet conf uses (per-request cost)
  if [ -e "$CONFDIR/mods-enabled/$m.load" ]; then
    a2dismod -q -f "$m" >/dev/null; echo "disabled module $m"; changed=1 restart=1
  fi
done
for m in %(modules)s; do
  if [ ! -e "$CONFDIR/mods-enabled/$m.load" ]; then
    a2enmod -q "$m" >/dev/null; echo "enabled module $m"; changed=1
  fi
done
put() {  # $1 path, content on stdin: replace only when different
  local tmp; tmp=$(mktemp "$1.XXXXXX"); cat > "$tmp"; chmod 644 "$tmp"
  if [ -f "$1" ] && cmp -s "$tmp" "$1"; then rm -f "$tmp"; return; fi
  mv -f "$tmp" "$1"; echo "wrote $1"; changed=1
}
# tests set WPFLEET_LISTEN_ADDRESS=127.0.0.1 to bind loopback only
LISTEN_PREFIX="${WPFLEET_LISTEN_ADDRESS:+$WPFLEET_LISTEN_ADDRESS:}"
put "$CONFDIR/ports.conf" <<WPFLEET_PORTS_EOF
%(ports)sWPFLEET_PORTS_EOF
put "$CONFDIR/conf-available/wpfleet-tuning.conf" <<'WPFLEET_TUNING_EOF'
%(tuning)sWPFLEET_TUNING_EOF
if [ ! -L "$CONFDIR/conf-enabled/wpfleet-tuning.conf" ]; then
  ln -sfn ../conf-available/wpfleet-tuning.conf "$CONFDIR/conf-enabled/wpfleet-tuning.conf"
  echo "enabled conf wpfleet-tuning"; changed=1
fi
# the catch-all vhosts (421 for unknown Host/SNI) with a self-signed pair of their own
CRT="$CONFDIR/wpfleet-default.crt" KEY="$CONFDIR/wpfleet-default.key"
# a leaf (CA:FALSE, serverAuth): `openssl req -x509` marks certificates as a CA by default, which
# mod_ssl warns about at every start (AH01906); one made so by an older wpfleet is replaced
if [ ! -s "$CRT" ] || [ ! -s "$KEY" ] \\
    || ! openssl x509 -in "$CRT" -noout -ext basicConstraints 2>/dev/null | grep -q 'CA:FALSE'; then
  (umask 077; openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj /CN=%(default_host)s \\
     -addext basicConstraints=critical,CA:FALSE \\
     -addext keyUsage=critical,digitalSignature,keyEncipherment \\
     -addext extendedKeyUsage=serverAuth -addext subjectAltName=DNS:%(default_host)s \\
     -keyout "$KEY.new" -out "$CRT.new" 2>/dev/null)
  chmod 644 "$CRT.new"; mv -f "$KEY.new" "$KEY"; mv -f "$CRT.new" "$CRT"
  echo "generated the catch-all vhost's self-signed certificate (a leaf)"; changed=1
fi
put "$CONFDIR/sites-available/%(default)s.conf" <<WPFLEET_DEFAULT_EOF
%(default_conf)sWPFLEET_DEFAULT_EOF
if [ ! -L "$CONFDIR/sites-enabled/%(default)s.conf" ]; then
  ln -sfn ../sites-available/%(default)s.conf "$CONFDIR/sites-enabled/%(default)s.conf"
  echo "enabled site %(default)s"; changed=1
fi
if [ -e "$CONFDIR/sites-enabled/000-default.conf" ]; then
  rm -f "$CONFDIR/sites-enabled/000-default.conf"; echo "disabled site 000-default"; changed=1
fi
STAMP=%(stamps)s/install.sha256 FINGERPRINT=%(fingerprint)s
if [ "$changed" = 0 ] && master_alive && [ "$(cat "$STAMP" 2>/dev/null)" = "$FINGERPRINT" ]; then
  echo "unchanged: apache2 installed, modules enabled, ports and tuning in place, running"
  exit 0
fi
rm -f "$STAMP"
fail() {  # $1: what failed; everything goes back, Apache runs the previous state
  rollback
  recover_apache "$1"
  exit 1
}
if ! out=$(apache2ctl configtest 2>&1); then
  rollback
  echo "apache2ctl configtest FAILED after the install step; modules, sites and files restored:" >&2
  echo "$out" >&2
  if [ "$WAS_RUNNING" = yes ] && ! master_alive; then restart_apache || true; fi
  exit 1
fi
if ! out=$(check_cert_pairs 2>&1); then  # Apache still runs on what it read: leave it be
  rollback
  echo "certificate check FAILED after the install step; modules, sites and files restored," \\
    "Apache not reloaded:" >&2
  echo "$out" >&2
  exit 1
fi
if uses_systemd; then systemctl enable -q apache2; fi
# an MPM cannot change in a restart ("The MPM cannot be changed during restart"): stop + start
if [ "$restart" = 1 ] && master_alive; then
  restart_apache || fail "Apache did not come back up after a stop + start with the new setup"
else
  reload_apache || fail "Apache did not come back up after reloading with the new setup"
fi
mkdir -p %(stamps)s; echo "$FINGERPRINT" > "$STAMP"
echo "apache2 configured and (re)loaded (verified: master alive, ports answer)"
"""


def install_command(http_port: int, https_port: int) -> BoxCommand:
    default_conf = frontdoor.default_vhost_conf(http_port, https_port, "${CONFDIR}")
    # expanded by an unquoted heredoc: only ${CONFDIR} may be a shell expansion in it
    assert "`" not in default_conf and default_conf.count("$") == default_conf.count("${CONFDIR}")
    values = {"modules": " ".join(MODULES), "tuning": TUNING_CONF_TEXT, "mpm": MPM,
              "other_mpms": " ".join(OTHER_MPMS), "unused": " ".join(UNUSED_MODULES),
              "ports": ports_conf(http_port, https_port, "${LISTEN_PREFIX}"), "lock": LOCK,
              "lib": RELOAD_LIB.strip("\n"), "stamps": STAMPS, "default": frontdoor.DEFAULT_NAME,
              "default_host": frontdoor.DEFAULT_HOST, "default_conf": default_conf,
              "fingerprint": "@FINGERPRINT@", "apt": APT_GET}
    body = _INSTALL % values
    # the stamp names this exact script: any change to it is applied (and verified) again
    body = body.replace("@FINGERPRINT@", hashlib.sha256(body.encode()).hexdigest())
    text = script(body)
    return BoxCommand(name="apache-install", create=text, update=text)


_TLS_OK = """\
TLS_LIVE=%(live)s TLS_SERVED="$TLS_DIR"/%(file)s
tls_ok() {  # what Apache would load at its next reload is a matching pair, or nothing yet
  served_ok "$TLS_SERVED" && return 0
  [ ! -e "$TLS_SERVED" ] && [ ! -e "$TLS_LIVE/fullchain.pem" ] && [ ! -e "$TLS_LIVE/privkey.pem" ]
}
"""
_NO_TLS = """\
TLS_LIVE= TLS_SERVED=
tls_ok() { return 0; }
"""


def conf_command(name: str, kind: str, conf: str, content: str,
                 mkdir: str | None = None, tls_pair: tuple[str, str] | None = None) -> BoxCommand:
    """Apply (create/update) and remove (delete) one conf under $CONFDIR/<kind>-available.
    `tls_pair` (certbot's live dir, domain): the conf serves that domain's pair (tls.py)."""
    prelude = _PRELUDE % {"kind": shlex.quote(kind), "name": shlex.quote(conf), "lock": LOCK,
                          "stamps": STAMPS, "lib": RELOAD_LIB.strip("\n"),
                          "served_lib": tls.SERVED_LIB.strip("\n")}
    tls_check, note = _NO_TLS, ""
    if tls_pair is not None:
        live, domain = tls_pair
        tls_check = _TLS_OK % {"live": shlex.quote(live),
                               "file": shlex.quote(tls.served_rel(domain).split("/", 1)[1])}
        note = ", certificate + key checked"
    pre = ""
    if mkdir:
        q = shlex.quote(mkdir)
        pre = (f"if [ ! -d {q} ]; then mkdir -p {q}; chmod 755 {q}; "
               f"echo \"created {mkdir}\"; fi\n")
    apply = script(pre + prelude + _APPLY % {"content": content, "tls": tls_check,
                                             "tls_note": note})
    remove = script(_NOT_INSTALLED + prelude + _REMOVE)
    return BoxCommand(name=name, create=apply, update=apply, delete=remove)
