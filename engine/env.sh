# Source this file (`. engine/env.sh [ENGINE_DIR]`) to run `pulumi` with no cloud and no download:
# a local file backend, a passphrase secrets provider, no update check, no plugin acquisition.
# Used by the end-to-end tests (tests/e2e) and by README's deploy section. Values already set in
# the environment win, so a user's own backend or passphrase file is kept.
#
#   ENGINE_DIR   a directory holding `pulumi` and the plugins (engine/build.sh prints one);
#                omitted: the `pulumi` already on PATH and its installed plugins are used.
#   WPFLEET_STATE_DIR  where the file backend keeps stacks (default ~/.wpfleet/state).

if [ -n "${1:-}" ]; then
    case ":$PATH:" in *":$1:"*) ;; *) export PATH="$1:$PATH" ;; esac
fi
: "${WPFLEET_STATE_DIR:=$HOME/.wpfleet/state}"
mkdir -p "$WPFLEET_STATE_DIR"
# a file backend: `pulumi login file://...` without touching the user's login
export PULUMI_BACKEND_URL="${PULUMI_BACKEND_URL:-file://$WPFLEET_STATE_DIR}"
# stack secrets are encrypted with a passphrase: set PULUMI_CONFIG_PASSPHRASE_FILE (or
# PULUMI_CONFIG_PASSPHRASE) yourself, or pulumi asks for it at a terminal
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
export PULUMI_DISABLE_REGISTRY_RESOLVE=true
export PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK=true
