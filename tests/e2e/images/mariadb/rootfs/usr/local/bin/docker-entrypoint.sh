#!/bin/bash
# Entrypoint of the mariadb stand-in (README.md): the official image's environment contract.
#
# First start on an empty data directory (no `mysql` schema): mariadb-install-db, then a
# temporary server without networking sets the root password (root@localhost and
# root@MARIADB_ROOT_HOST, default '%'), creates the health-check users and their client file
# (healthcheck.sh), MARIADB_DATABASE, MARIADB_USER with all privileges on it, and runs
# /docker-entrypoint-initdb.d/*.{sh,sql,sql.gz}. Later starts keep the data; with
# MARIADB_AUTO_UPGRADE set, a data directory of another server version is upgraded first.
# Each MARIADB_X may also be MARIADB_X_FILE, MYSQL_X or MYSQL_X_FILE. The server runs as PID 1
# (user mysql, uid 999), so `docker stop` (SIGTERM) shuts it down cleanly.
set -eo pipefail
shopt -s nullglob

log() { printf '%s [%s] [Entrypoint]: %s\n' "$(date --rfc-3339=seconds)" "$1" "$2" >&2; }
die() { log ERROR "$*"; exit 1; }

# env_of NAME [DEFAULT]: exports MARIADB_NAME from MARIADB_NAME(_FILE) or MYSQL_NAME(_FILE)
env_of() {
  local m=MARIADB_$1 y=MYSQL_$1 v=${2:-} src
  for src in "$m" "$y"; do
    local f=${src}_FILE
    if [ -n "${!src:-}" ] && [ -n "${!f:-}" ]; then die "both $src and $f are set (but are exclusive)"; fi
    if [ -n "${!src:-}" ]; then v=${!src}; break; fi
    if [ -n "${!f:-}" ]; then v=$(<"${!f}"); break; fi
  done
  export "$m=$v" "$y=$v"
  unset "${m}_FILE" "${y}_FILE"
}

# random_password: 32 letters and digits (head ends first: no SIGPIPE under pipefail)
random_password() { head -c 48 /dev/urandom | base64 -w0 | tr -dc 'A-Za-z0-9' | cut -c1-32; }

# sql_string VALUE: VALUE as a quoted SQL string literal
sql_string() { local s=${1//\\/\\\\}; s=${s//\'/\\\'}; printf "'%s'" "${s//$'\n'/\\n}"; }

# conf NAME: the server's effective setting (config files + built-in defaults) in $HELP
conf() { awk -v n="$1" '/^[^ \t]/ && $1 == n { print $2; exit }' <<<"$HELP"; }

AS_MYSQL=()  # prefix running a command as the mysql user (the same process: exec, kill work)
if [ "$(id -u)" = 0 ]; then AS_MYSQL=(setpriv --reuid=mysql --regid=mysql --init-groups); fi

client() { mariadb --protocol=socket --socket="$SOCKET" -uroot "$@"; }

temp_start() {  # the server on its socket only, for the set-up steps
  "${AS_MYSQL[@]}" "$@" --skip-networking --socket="$SOCKET" --skip-log-bin &
  TEMP_PID=$!
  local i
  for i in $(seq 60); do
    if MYSQL_PWD=$PW client -e 'SELECT 1' >/dev/null 2>&1; then return 0; fi
    kill -0 "$TEMP_PID" 2>/dev/null || die "the server stopped during set-up (its log is above)"
    sleep 0.5
  done
  die "the temporary server did not answer within 30 s"
}
temp_stop() { kill "$TEMP_PID"; wait "$TEMP_PID" || true; }

server_version() { "$1" --version | sed -n 's/.* Ver \([0-9]*\.[0-9]*\.[0-9]*\).*/\1/p'; }

initialize() {
  env_of ROOT_HOST %
  if [ -z "$MARIADB_ROOT_PASSWORD" ] && [ -z "$MARIADB_ALLOW_EMPTY_ROOT_PASSWORD$MYSQL_ALLOW_EMPTY_PASSWORD" ] \
      && [ -z "$MARIADB_RANDOM_ROOT_PASSWORD$MYSQL_RANDOM_ROOT_PASSWORD" ]; then
    die "Database is uninitialized and password option is not specified: set one of" \
      "MARIADB_ROOT_PASSWORD, MARIADB_ALLOW_EMPTY_ROOT_PASSWORD, MARIADB_RANDOM_ROOT_PASSWORD"
  fi
  if [ -n "$MARIADB_RANDOM_ROOT_PASSWORD$MYSQL_RANDOM_ROOT_PASSWORD" ]; then
    MARIADB_ROOT_PASSWORD=$(random_password)
    log Note "GENERATED ROOT PASSWORD: $MARIADB_ROOT_PASSWORD"
  fi
  log Note "Initializing database files"
  "${AS_MYSQL[@]}" mariadb-install-db --datadir="$DATADIR" --auth-root-authentication-method=normal \
    --skip-test-db --skip-name-resolve --skip-log-bin "${@:2}" >/dev/null
  PW=
  temp_start "$@"
  local root hc_pw host sql
  root=$(sql_string "$MARIADB_ROOT_PASSWORD")
  hc_pw=$(random_password)
  # root only at localhost (and MARIADB_ROOT_HOST); not the other root accounts install-db made
  sql="SET @@SESSION.SQL_LOG_BIN=0; DROP USER IF EXISTS root@'127.0.0.1', root@'::1';"
  sql+="EXECUTE IMMEDIATE CONCAT('DROP USER IF EXISTS root@''', @@hostname, '''');"
  sql+="ALTER USER 'root'@'localhost' IDENTIFIED BY $root;"
  if [ "$MARIADB_ROOT_HOST" != localhost ]; then
    host=$(sql_string "$MARIADB_ROOT_HOST")
    sql+="CREATE USER 'root'@$host IDENTIFIED BY $root;"
    sql+="GRANT ALL ON *.* TO 'root'@$host WITH GRANT OPTION;"
  fi
  for host in 127.0.0.1 ::1 localhost; do
    sql+="CREATE USER 'healthcheck'@'$host' IDENTIFIED BY '$hc_pw';"
    sql+="GRANT USAGE ON *.* TO 'healthcheck'@'$host';"
  done
  if [ -n "$MARIADB_DATABASE" ]; then
    sql+="CREATE DATABASE IF NOT EXISTS \`${MARIADB_DATABASE//\`/\`\`}\`;"
  fi
  if [ -n "$MARIADB_USER" ] && [ -n "$MARIADB_PASSWORD" ]; then
    sql+="CREATE USER $(sql_string "$MARIADB_USER")@'%' IDENTIFIED BY $(sql_string "$MARIADB_PASSWORD");"
    if [ -n "$MARIADB_DATABASE" ]; then
      sql+="GRANT ALL ON \`${MARIADB_DATABASE//\`/\`\`}\`.* TO $(sql_string "$MARIADB_USER")@'%';"
    fi
  fi
  client -e "$sql"
  (umask 077; printf '[mariadb-client]\nport=%s\nsocket=%s\nuser=healthcheck\npassword=%s\nprotocol=tcp\n' \
    "$PORT" "$SOCKET" "$hc_pw" > "$DATADIR/.my-healthcheck.cnf")
  [ "$(id -u)" != 0 ] || chown mysql:mysql "$DATADIR/.my-healthcheck.cnf"
  PW=$MARIADB_ROOT_PASSWORD
  local f
  for f in /docker-entrypoint-initdb.d/*; do
    case "$f" in
      *.sh) log Note "running $f"; if [ -x "$f" ]; then "$f"; else . "$f"; fi ;;
      *.sql) log Note "running $f"; MYSQL_PWD=$PW client "${MARIADB_DATABASE:+--database=$MARIADB_DATABASE}" < "$f" ;;
      *.sql.gz) log Note "running $f"; gunzip -c "$f" | MYSQL_PWD=$PW client "${MARIADB_DATABASE:+--database=$MARIADB_DATABASE}" ;;
      *) log Warn "ignoring $f" ;;
    esac
  done
  temp_stop
  server_version "$1" > "$DATADIR/mariadb_upgrade_info"
  log Note "MariaDB init process done. Ready for start up."
}

upgrade_if_needed() {
  local have want
  want=$(server_version "$1")
  have=$(sed -n '1s/^\([0-9]*\.[0-9]*\.[0-9]*\).*/\1/p' "$DATADIR"/m*_upgrade_info 2>/dev/null | head -n 1)
  if [ "$have" = "$want" ]; then return 0; fi
  log Note "upgrading the data directory from ${have:-an unknown version} to $want"
  PW=$MARIADB_ROOT_PASSWORD
  temp_start "$@"
  MYSQL_PWD=$PW mariadb-upgrade --protocol=socket --socket="$SOCKET" -uroot --upgrade-system-tables >/dev/null
  temp_stop
  server_version "$1" > "$DATADIR/mariadb_upgrade_info"
}

# the official image's other settings are not implemented: refused, never silently ignored
for name in ROOT_PASSWORD_HASH PASSWORD_HASH REPLICATION_USER REPLICATION_PASSWORD \
    REPLICATION_PASSWORD_HASH MASTER_HOST MYSQL_LOCALHOST_USER HEALTHCHECK_GRANTS; do
  for var in "MARIADB_$name" "MARIADB_${name}_FILE" "MYSQL_$name"; do
    if [ -n "${!var:-}" ]; then die "mariadb stand-in: unsupported: $var (tests/e2e/images/README.md)"; fi
  done
done

if [ "${1:0:1}" = - ]; then set -- mariadbd "$@"; fi
if [ "$1" = mariadbd ] || [ "$1" = mysqld ]; then
  HELP=$("$@" --verbose --help 2>/dev/null) || die "the server refuses its configuration: $*"
  DATADIR=$(conf datadir); DATADIR=${DATADIR%/}
  SOCKET=$(conf socket)
  PORT=$(conf port)
  [ -n "$DATADIR" ] && [ -n "$SOCKET" ] || die "no datadir or socket in the server's configuration"
  for name in DATABASE USER PASSWORD ROOT_PASSWORD; do env_of "$name"; done
  if [ "$(id -u)" = 0 ]; then
    mkdir -p "$DATADIR" "${SOCKET%/*}"
    find "$DATADIR" "${SOCKET%/*}" -maxdepth 0 \! -user mysql -exec chown mysql:mysql '{}' +
  fi
  if [ ! -d "$DATADIR/mysql" ]; then
    initialize "$@"
  elif [ -n "$MARIADB_AUTO_UPGRADE" ]; then
    upgrade_if_needed "$@"
  fi
  exec "${AS_MYSQL[@]}" "$@"
fi
exec "$@"
