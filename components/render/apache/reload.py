"""Bash functions shared by the Apache scripts: reload (or restart) Apache and *verify* it.

`apache2ctl graceful` returns 0 before the master has re-read its config, and configtest passes
confs that kill Apache at reload: a certificate that does not match its key, a `Listen` port
another process holds, an MPM switched during a restart. So every script reloads through
`reload_apache`, which waits (bounded: 20 s) until the master runs a new generation, is alive
(after a graceful: the same master) and every `Listen` port of ports.conf answers with the
token of this reload: each (re)load writes a fresh random token into wpfleet-alive.conf, which
the catch-all vhosts include and send back as `X-Wpfleet-Alive` on /.well-known/wpfleet-alive
(HTTP, or TLS for the ports inside `<IfModule ssl_module>`), so a port held by another
process, or served by an Apache that has not re-read its config, never counts (issue 21).
"A new generation" never reads the error log (logrotate may rename or truncate it at any moment,
and ErrorLog may point elsewhere, e.g. syslog): either a child of the master started after the
reload was sent (its /proc start time; old-generation children may linger while they finish their
requests, so only one new child is looked for), or the master rewrote its pid file, which it does
on every (re)start after reading the config, binding the ports and loading the certificates (with
StartServers = ServerLimit, new children may wait for the slots of lingering old ones).
On failure the caller restores the previous state and calls `recover_apache`: stop + start on
that state, the error-log tail (and a just-rotated error.log.1's) on stderr, exit 1.
`check_cert_pairs` refuses to reload when an enabled vhost's certificate and key do not match
(relative paths are resolved against ServerRoot = CONFDIR, as Apache does; wpfleet's own vhosts
read the verified copies of tls.py, an operator's may read certbot's files directly).

The caller sets CONFDIR; paths of the pid file and the error log come from `$CONFDIR/envvars`
like apache2ctl's. Every loop is bounded in count.
"""

from __future__ import annotations

from components.render.apache.frontdoor import DEFAULT_HOST

RELOAD_LIB = r"""
_envvar() { (set +u; . "$CONFDIR/envvars" >/dev/null 2>&1; eval "echo \"\${$1:-}\""); }
PIDFILE=$(_envvar APACHE_PID_FILE); PIDFILE=${PIDFILE:-/run/apache2/apache2.pid}
LOGDIR=$(_envvar APACHE_LOG_DIR); LOGDIR=${LOGDIR:-/var/log/apache2}
uses_systemd() { [ -d /run/systemd/system ] && [ "$CONFDIR" = /etc/apache2 ]; }
master_pid() { cat "$PIDFILE" 2>/dev/null || true; }
master_alive() {
  local pid; pid=$(master_pid)
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}
now_ticks() {  # now, in clock ticks since boot: the start time of a process forked right now
  local s; read -r s < "/proc/$BASHPID/stat"
  set -- ${s##*) }; echo "${20}"  # fields 3.. of /proc/PID/stat: $20 is field 22, starttime
}
pidfile_stamp() { stat -c %y "$PIDFILE" 2>/dev/null || echo none; }
new_generation() {  # $1: now_ticks, $2: pidfile_stamp before the reload, $3: the master
  local ticks=$1 stamp=$2 master=$3 st s
  [ "$(pidfile_stamp)" != "$stamp" ] && return 0
  for st in /proc/[0-9]*/stat; do  # a child of the master started since (fields 4 and 22)
    { read -r s < "$st"; } 2>/dev/null || continue
    set -- ${s##*) }
    [ "${2:-}" = "$master" ] && [ "${20:-0}" -gt "$ticks" ] && return 0
  done
  return 1
}
listen_addrs() {  # "address port tls|plain" per Listen line of ports.conf (wildcards: loopback)
  local l a p t
  awk '/^[[:space:]]*<IfModule[[:space:]]+ssl_module>/ {ssl = 1}
       /^[[:space:]]*<\/IfModule>/ {ssl = 0}
       $1 == "Listen" {print $2, (ssl ? "tls" : "plain")}' \
    "$CONFDIR/ports.conf" 2>/dev/null | while read -r l t; do
    case "$l" in *:*) a=${l%:*} p=${l##*:} ;; *) a=127.0.0.1 p=$l ;; esac
    case "$a" in ""|"*"|0.0.0.0|"[::]") a=127.0.0.1 ;; "["*"]") a=${a#[}; a=${a%]} ;; esac
    echo "$a $p $t"
  done
}
ALIVE_CONF="$CONFDIR/wpfleet-alive.conf"
ALIVE_PATH=/.well-known/wpfleet-alive
new_token() {  # a fresh token in the conf the catch-all vhosts include: only an Apache that
  local t tmp  # (re)read its config after this point can send it back
  t=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
  tmp=$(mktemp "$ALIVE_CONF.XXXXXX")
  { echo "# wpfleet: written at every verified (re)load; the catch-all vhosts send it back"
    printf 'Header always set X-Wpfleet-Alive "%s" "expr=%%{REQUEST_URI} == %s"\n' \
      "$t" "'$ALIVE_PATH'"; } > "$tmp"
  chmod 644 "$tmp"; mv -f "$tmp" "$ALIVE_CONF"
  TOKEN=$t
}
probe() {  # $1 address, $2 port, $3 tls|plain: the X-Wpfleet-Alive header the port sends back
  local req="GET $ALIVE_PATH HTTP/1.0\r\nHost: %(default_host)s\r\n\r\n"
  if [ "$3" = tls ]; then
    command -v openssl >/dev/null || { echo "$TOKEN"; return; }  # cannot check: trust
    printf "$req" | timeout 3 openssl s_client -quiet -connect "$1:$2" \
      -servername %(default_host)s 2>/dev/null
  else
    timeout 3 bash -c 'exec 3<>"/dev/tcp/$0/$1"; printf "$2" >&3; cat <&3' "$1" "$2" "$req" \
      2>/dev/null
  fi | tr -d '\r' | sed -n 's/^[Xx]-[Ww]pfleet-[Aa]live: *//p' | head -n1
}
ports_answer() {  # prints the first address:port where our Apache does not answer with TOKEN
  local a p t
  while read -r a p t; do
    [ "$(probe "$a" "$p" "$t")" = "$TOKEN" ] || { echo "$a:$p"; return 1; }
  done < <(listen_addrs)
}
wait_up() {  # $1 $2: now_ticks and pidfile_stamp before; $3: the master that must stay, or ""
  local i dead=0 pid end=$((SECONDS + 20))  # 0 once a new generation is up and every port
  for i in $(seq 1 100); do                 # answers with the token (<= 20 s, 100 rounds)
    [ "$SECONDS" -le "$end" ] || return 1
    pid=$(master_pid)
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && { [ -z "$3" ] || [ "$pid" = "$3" ]; }; then
      dead=0
      if new_generation "$1" "$2" "$pid" && ports_answer >/dev/null; then return 0; fi
    else
      dead=$((dead + 1)); [ "$dead" -ge 5 ] && return 1
    fi
    sleep 0.2
  done
  return 1
}
start_apache() {  # 8>&- 9>&-: Apache must not inherit (and so hold) the scripts' flocks
  if uses_systemd; then systemctl start apache2; else apache2ctl start 8>&- 9>&-; fi
}
stop_apache() {  # 0 once the master is gone (<= 15 s)
  local i
  if uses_systemd; then systemctl stop apache2; return; fi
  apache2ctl stop >/dev/null 2>&1 8>&- 9>&- || true
  for i in $(seq 1 150); do master_alive || return 0; sleep 0.1; done
  return 1
}
reload_apache() {  # graceful reload, or start when Apache is down; 0 once verified
  local ticks stamp pid; ticks=$(now_ticks); stamp=$(pidfile_stamp); pid=$(master_pid)
  new_token
  if master_alive; then
    apache2ctl graceful 8>&- 9>&- || return 1
    wait_up "$ticks" "$stamp" "$pid"
  else
    start_apache || return 1
    wait_up "$ticks" "$stamp" ""
  fi
}
restart_apache() {  # stop + start: an MPM cannot be changed by a (graceful) restart
  local ticks stamp; ticks=$(now_ticks); stamp=$(pidfile_stamp)
  new_token
  stop_apache || return 1
  start_apache || return 1
  wait_up "$ticks" "$stamp" ""
}
recover_apache() {  # $1: what failed. The previous state is back on disk: run it, show why
  echo "$1; previous state restored" >&2
  if restart_apache; then echo "Apache restarted on the previous configuration" >&2
  else echo "Apache did NOT come back on the previous configuration either" >&2; fi
  if [ -n "$(find "$LOGDIR/error.log.1" -mmin -2 2>/dev/null)" ]; then  # just rotated
    echo "--- last lines of $LOGDIR/error.log.1:" >&2
    tail -n 15 "$LOGDIR/error.log.1" >&2 2>/dev/null || true
  fi
  echo "--- last lines of $LOGDIR/error.log:" >&2
  tail -n 15 "$LOGDIR/error.log" >&2 2>/dev/null || true
}
pair_matches() {  # $1 certificate (chain) file, $2 key file: both parse, same public key
  local c k
  c=$(openssl x509 -noout -pubkey -in "$1" 2>/dev/null) || return 1
  k=$(openssl pkey -pubout -in "$2" 2>/dev/null) || return 1
  [ -n "$c" ] && [ "$c" = "$k" ]
}
check_cert_pairs() {  # every enabled vhost's certificate matches its key (configtest does not)
  local cert key bad=0
  command -v openssl >/dev/null || return 0
  while read -r cert key; do
    case "$cert" in /*) ;; *) cert="$CONFDIR/$cert" ;; esac  # relative: to ServerRoot
    case "$key" in /*) ;; *) key="$CONFDIR/$key" ;; esac
    [ -f "$cert" ] && [ -f "$key" ] || continue  # <IfFile>-guarded, not issued yet
    if ! pair_matches "$cert" "$key"; then
      echo "certificate $cert does not match its key $key" >&2; bad=1
    fi
  done < <(awk '$1 == "SSLCertificateFile" {c = $2}
                $1 == "SSLCertificateKeyFile" {print c, $2}' \
             "$CONFDIR"/sites-enabled/*.conf 2>/dev/null)
  return "$bad"
}
""".replace("%(default_host)s", DEFAULT_HOST)
