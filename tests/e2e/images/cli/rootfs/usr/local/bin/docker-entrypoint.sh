#!/bin/sh
# Entrypoint of the wordpress:cli stand-in, as the official one: an option or a wp subcommand
# (here: any word that is not a program) as the first argument runs `wp` with the arguments;
# a program runs as given (wpfleet runs `wp ...`).
set -eu
case "${1:-}" in
  -*) set -- wp "$@" ;;
  *) if ! command -v "${1:-}" >/dev/null 2>&1; then set -- wp "$@"; fi ;;
esac
exec "$@"
