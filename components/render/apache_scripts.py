"""Shell scripts that install Apache and apply/remove one conf safely (see apache.py).

The Apache config root is `${APACHE_CONFDIR:-/etc/apache2}` (apache2ctl honours the same
variable), so the very scripts that run on the box also run against a private config root in
the integration tests. Apply/remove only use flock, symlinks, `apache2ctl configtest` and
`apache2ctl graceful`: a conf that fails configtest is rolled back and Apache keeps serving.
"""

from __future__ import annotations

import shlex

from components.render import BoxCommand, script

# mod_proxy + balancer + active health checks, headers, rewrite (redirects), ssl (443 vhosts)
MODULES = ("proxy", "proxy_http", "proxy_balancer", "lbmethod_byrequests", "slotmem_shm",
           "proxy_hcheck", "headers", "rewrite", "ssl", "socache_shmcb", "alias")
# The MPM: worker, not event. Measured (bench/apache_vs_nginx.py, 2 cores) the event MPM hands
# every keep-alive request from its listener thread to a worker thread and back (two extra
# thread wake-ups + epoll_ctl per request: most of Apache's CPU was scheduler/system time);
# worker keeps a connection on one thread: ~+30% req/s as a proxy. The price: an idle keep-alive
# client holds a thread for up to KeepAliveTimeout (5 s; 1024 threads), see TUNING_CONF_TEXT.
MPM = "mpm_worker"
OTHER_MPMS = ("mpm_prefork", "mpm_event")
# Debian enables these by default; no wpfleet conf uses them and each costs per-request hooks
# (status: a times() syscall per request for ExtendedStatus; deflate/filter: output filters on
# proxied responses; negotiation, autoindex, env, access_compat, auth_basic, authn_file,
# authz_user: unused). mod_reqtimeout stays (slow client protection); authz_core/authz_host
# (Require), mime and dir stay; so does setenvif (Debian's ssl module depends on it).
UNUSED_MODULES = ("status", "autoindex", "negotiation", "deflate", "filter", "env",
                  "access_compat", "auth_basic", "authn_file", "authz_user")
LOCK = '"$CONFDIR/.wpfleet-apply.lock"'
# MPM worker (event kept for a box still on it) sized for a small box serving many keep-alive
# clients; no per-request DNS;
# buffered access logs (a write per ~4 KiB instead of per request).
# Thread sizing shared by both threaded MPMs (each block only applies to the loaded MPM).
_THREADS = """\
    StartServers             2
    ServerLimit              16
    ThreadLimit              64
    ThreadsPerChild          64
    MinSpareThreads          64
    MaxSpareThreads          256
    MaxRequestWorkers        1024
    MaxConnectionsPerChild   0
"""
TUNING_CONF_TEXT = """\
# Rendered by wpfleet: Apache tuned as a reverse proxy (mpm_worker; modules in the install step).
<IfModule mpm_worker_module>
@THREADS@</IfModule>
<IfModule mpm_event_module>
@THREADS@    AsyncRequestWorkerFactor 4
</IfModule>
KeepAlive On
MaxKeepAliveRequests 10000
KeepAliveTimeout 5
HostnameLookups Off
BufferedLogs On
LogFormat "%a %l %u %t \\"%r\\" %>s %O %D \\"%{Referer}i\\" \\"%{User-Agent}i\\"" wpfleet
""".replace("@THREADS@", _THREADS)

# Swap in a new file and keep the old one; $1 kind dir, $2 name. Used by apply and remove.
_PRELUDE = """\
CONFDIR="${APACHE_CONFDIR:-/etc/apache2}"
export APACHE_CONFDIR="$CONFDIR"
KIND=%(kind)s NAME=%(name)s
AVAIL="$CONFDIR/$KIND-available/$NAME.conf"
ENABLED="$CONFDIR/$KIND-enabled/$NAME.conf"
PREV="$CONFDIR/$KIND-available/.$NAME.conf.wpfleet-prev"
exec 9>>%(lock)s
flock -w 600 9  # confs are applied in parallel: one configtest + reload at a time
restore() {  # put back what was there before this run
  if [ -f "$PREV" ]; then mv -f "$PREV" "$AVAIL"; else rm -f "$AVAIL"; fi
  if [ "$WAS_ENABLED" = yes ]; then ln -sfn "../$KIND-available/$NAME.conf" "$ENABLED";
  else rm -f "$ENABLED"; fi
}
gate() {  # configtest; on failure restore, show the error and fail
  if ! out=$(apache2ctl configtest 2>&1); then
    restore
    echo "apache2ctl configtest FAILED for $AVAIL; previous state restored:" >&2
    echo "$out" >&2
    exit 1
  fi
  rm -f "$PREV"
  apache2ctl graceful
}
WAS_ENABLED=no; [ -L "$ENABLED" ] && WAS_ENABLED=yes
"""

_APPLY = """\
NEW=$(mktemp "$CONFDIR/$KIND-available/.$NAME.XXXXXX")
trap 'rm -f "$NEW"' EXIT
cat > "$NEW" <<'WPFLEET_CONF_EOF'
%(content)sWPFLEET_CONF_EOF
chmod 644 "$NEW"
if [ -f "$AVAIL" ] && cmp -s "$NEW" "$AVAIL" && [ "$WAS_ENABLED" = yes ]; then
  echo "unchanged: $AVAIL (enabled)"
  exit 0
fi
rm -f "$PREV"; [ -f "$AVAIL" ] && cp -p "$AVAIL" "$PREV"
mv -f "$NEW" "$AVAIL"
ln -sfn "../$KIND-available/$NAME.conf" "$ENABLED"
gate
echo "applied: $AVAIL (configtest passed, graceful reload)"
"""

_NOT_INSTALLED = """\
if ! command -v apache2ctl >/dev/null; then
  echo "apache2 is not installed: nothing to remove"; exit 0
fi
"""

_REMOVE = """\
if [ ! -e "$AVAIL" ] && [ ! -L "$ENABLED" ]; then echo "absent: $AVAIL"; exit 0; fi
rm -f "$PREV"; [ -f "$AVAIL" ] && cp -p "$AVAIL" "$PREV"
rm -f "$ENABLED" "$AVAIL"
gate
echo "removed: $AVAIL (configtest passed, graceful reload)"
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
  apt-get update -q >/dev/null && apt-get install -y -q apache2 >/dev/null
  echo "installed apache2"; changed=1
fi
for other in %(other_mpms)s; do  # the box's Apache only proxies: %(mpm)s (see apache_scripts.py)
  if [ -e "$CONFDIR/mods-enabled/$other.load" ]; then
    a2dismod -q "$other" >/dev/null; echo "disabled module $other"; changed=1 restart=1
  fi
done
if [ ! -e "$CONFDIR/mods-enabled/%(mpm)s.load" ]; then
  a2enmod -q %(mpm)s >/dev/null; echo "enabled module %(mpm)s"; changed=1 restart=1
fi
disabled=()
for m in %(unused)s; do  # Debian defaults no wpfleet conf uses (per-request cost)
  if [ -e "$CONFDIR/mods-enabled/$m.load" ]; then
    a2dismod -q -f "$m" >/dev/null; echo "disabled module $m"; changed=1 restart=1
    disabled+=("$m")
  fi
done
for m in %(modules)s; do
  if [ ! -e "$CONFDIR/mods-enabled/$m.load" ]; then
    a2enmod -q "$m" >/dev/null; echo "enabled module $m"; changed=1
  fi
done
put() {  # $1 path, content on stdin: replace only when different, keep the old one
  local tmp; tmp=$(mktemp "$1.XXXXXX"); cat > "$tmp"; chmod 644 "$tmp"
  if [ -f "$1" ] && cmp -s "$tmp" "$1"; then rm -f "$tmp"; return; fi
  [ -f "$1" ] && cp -p "$1" "$1.wpfleet-prev"
  mv -f "$tmp" "$1"; echo "wrote $1"; changed=1; written+=("$1")
}
written=()
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
running() {
  if [ -d /run/systemd/system ] && [ "$CONFDIR" = /etc/apache2 ]; then
    systemctl is-active --quiet apache2; return; fi
  local pidfile; pidfile=$(set +u; . "$CONFDIR/envvars"; echo "$APACHE_PID_FILE")
  [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}
if [ "$changed" = 0 ] && running; then
  echo "unchanged: apache2 installed, modules enabled, ports and tuning in place, running"
  exit 0
fi
if ! out=$(apache2ctl configtest 2>&1); then
  for f in "${written[@]}"; do [ -f "$f.wpfleet-prev" ] && mv -f "$f.wpfleet-prev" "$f"; done
  # another conf on the box may use a module we disabled: put those back
  for m in "${disabled[@]}"; do a2enmod -q "$m" >/dev/null; done
  echo "apache2ctl configtest FAILED after the install step; files and modules restored:" >&2
  echo "$out" >&2; exit 1
fi
for f in "${written[@]}"; do rm -f "$f.wpfleet-prev"; done
if [ -d /run/systemd/system ] && [ "$CONFDIR" = /etc/apache2 ]; then
  systemctl enable -q apache2
  if [ "$restart" = 1 ]; then systemctl restart apache2
  else systemctl reload-or-restart apache2; fi
elif [ "$restart" = 1 ] && running; then apache2ctl restart
else apache2ctl graceful  # starts Apache when it is not running
fi
echo "apache2 configured and (re)loaded"
"""


def install_command(http_port: int, https_port: int) -> BoxCommand:
    body = _INSTALL % {"modules": " ".join(MODULES), "tuning": TUNING_CONF_TEXT, "mpm": MPM,
                       "other_mpms": " ".join(OTHER_MPMS), "unused": " ".join(UNUSED_MODULES),
                       "ports": ports_conf(http_port, https_port, "${LISTEN_PREFIX}")}
    text = script(body)
    return BoxCommand(name="apache-install", create=text, update=text)


def conf_command(name: str, kind: str, conf: str, content: str,
                 mkdir: str | None = None) -> BoxCommand:
    """Apply (create/update) and remove (delete) one conf under $CONFDIR/<kind>-available."""
    prelude = _PRELUDE % {"kind": shlex.quote(kind), "name": shlex.quote(conf), "lock": LOCK}
    pre = ""
    if mkdir:
        q = shlex.quote(mkdir)
        pre = (f"if [ ! -d {q} ]; then mkdir -p {q}; chmod 755 {q}; "
               f"echo \"created {mkdir}\"; fi\n")
    apply = script(pre + prelude + _APPLY % {"content": content})
    remove = script(_NOT_INSTALLED + prelude + _REMOVE)
    return BoxCommand(name=name, create=apply, update=apply, delete=remove)
