#!/bin/bash
# healthcheck.sh TEST...: the official image's health tests that wpfleet uses (README.md).
#   --connect             a TCP connection to the server succeeds (an access error counts:
#                         the server answered); fails while the set-up server runs socket-only
#   --innodb_initialized  InnoDB is available (crash recovery done)
#   --datadir=DIR         where .my-healthcheck.cnf is (default /var/lib/mysql)
# The SQL user is the one the entrypoint made (DATADIR/.my-healthcheck.cnf). Any other test
# or option fails loudly instead of passing.
set -uo pipefail

datadir=/var/lib/mysql
tests=()
for arg in "$@"; do
  case "$arg" in
    --datadir=*) datadir=${arg#*=} ;;
    --connect|--innodb_initialized) tests+=("${arg#--}") ;;
    *) echo "healthcheck.sh stand-in: unsupported: $arg" >&2; exit 1 ;;
  esac
done
if [ "${#tests[@]}" = 0 ]; then echo "At least one argument required" >&2; exit 1; fi

client() {
  local extra=()
  if [ -r "$datadir/.my-healthcheck.cnf" ]; then
    extra=(--defaults-extra-file="$datadir/.my-healthcheck.cnf")
  fi
  mariadb "${extra[@]}" --skip-ssl --batch --skip-column-names "$@"
}

connect() {
  local out
  out=$(client --protocol=tcp -h 127.0.0.1 -e 'SELECT 1' 2>&1)
  case "$out" in
    1) return 0 ;;
    "ERROR "1[0-9][0-9][0-9]" (28000)"*|"ERROR 1820 "*|"ERROR 4151 "*|"ERROR 1226 "*)
      return 0 ;;  # refused this user: but the server answered on TCP
    *) echo "healthcheck connect failed: $out" >&2; return 1 ;;
  esac
}

innodb_initialized() {
  [ "$(client --protocol=socket -e "SELECT 1 FROM information_schema.ENGINES
      WHERE engine = 'innodb' AND support IN ('YES', 'DEFAULT', 'ENABLED')" 2>/dev/null)" = 1 ]
}

for t in "${tests[@]}"; do
  "$t" || { echo "healthcheck $t failed" >&2; exit 1; }
done
