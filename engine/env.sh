# Source this file (`. engine/env.sh [ENGINE_DIR]`) to run `pulumi` with no cloud and no download:
# a local file backend, a passphrase secrets provider, no update check, no plugin acquisition,
# and plugins only at the exact versions the Python SDKs ask for (requirements.txt pins them).
# Used by the end-to-end tests (tests/e2e) and by README's deploy section. Values already set in
# the environment win, so a user's own backend or passphrase file is kept.
#
#   ENGINE_DIR   a directory holding `pulumi` and the plugins (engine/build.sh prints one): it
#                goes first on PATH and its plugins are installed into $PULUMI_HOME (~/.pulumi)
#                once; omitted: the `pulumi` on PATH and the plugins it has installed are used.
#   WPFLEET_STATE_DIR  where the file backend keeps stacks (default ~/.wpfleet/state).

: "${PULUMI_HOME:=$HOME/.pulumi}"
export PULUMI_HOME
if [ -n "${1:-}" ]; then
    case ":$PATH:" in *":$1:"*) ;; *) export PATH="$1:$PATH" ;; esac
    while IFS='=' read -r _wpf_name _wpf_version; do
        case "$_wpf_name" in docker|command|random) ;; *) continue ;; esac
        [ -x "$PULUMI_HOME/plugins/resource-$_wpf_name-v$_wpf_version/pulumi-resource-$_wpf_name" ] \
            || "$1/pulumi" plugin install resource "$_wpf_name" "$_wpf_version" \
                   --file "$1/pulumi-resource-$_wpf_name" >/dev/null
    done < "$1/versions"
    unset _wpf_name _wpf_version
fi
: "${WPFLEET_STATE_DIR:=$HOME/.wpfleet/state}"
mkdir -p "$WPFLEET_STATE_DIR"
# a file backend: like `pulumi login file://...`, without changing the user's login
export PULUMI_BACKEND_URL="${PULUMI_BACKEND_URL:-file://$WPFLEET_STATE_DIR}"
# stack secrets are encrypted with a passphrase: set PULUMI_CONFIG_PASSPHRASE_FILE (or
# PULUMI_CONFIG_PASSPHRASE) yourself, or pulumi asks for it at a terminal
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
export PULUMI_DISABLE_REGISTRY_RESOLVE=true
export PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK=true
# a plugin found on PATH would be used whatever version the SDK asks for: only installed ones
export PULUMI_IGNORE_AMBIENT_PLUGINS=true
