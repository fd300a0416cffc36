"""Certificates from an ACME CA (Let's Encrypt by default) through Apache's ACME webroot.

One `cert-<name>` command per TLS site/backend runs `certbot certonly --webroot` for the host's
domain and aliases, then puts certbot's certificate + key in front of Apache (tls.py: a copy
swapped in whole, only once the pair matches and configtest passes; verified reload, rollback)
so the `<IfFile wpfleet-tls/<domain>.pem>` HTTPS vhost goes live in the same `pulumi up`.
Renewal is certbot's own timer; a deploy hook in `<configDir>/renewal-hooks/deploy/` does the
same swap after every renewal, so a renewal is all-or-nothing for Apache (issue 21 item 2).

Every value reaches the script as one shell-quoted variable assignment at the top; the body is
constant text, so no config value is ever spliced into shell code. The script runs unchanged
against a test CA: `--server` is `acme.server`, the CA bundle may come from REQUESTS_CA_BUNDLE
and `apache2ctl` honours APACHE_CONFDIR from the environment.
"""

from __future__ import annotations

import shlex

from components.config import BackendConfig, SiteConfig, StackConfig
from components.render.apache import tls
from components.render.apache.reload import RELOAD_LIB
from components.render.command import BoxCommand, script
from components.render.constants import APT_GET

HOOK_NAME = "wpfleet-reload-apache"

# Runs after every successful renewal (certbot passes its environment through, so a private
# APACHE_CONFDIR in tests reaches apache2ctl). For a certificate a wpfleet vhost serves, swaps
# the renewed pair in (tls.py): only when it matches, configtest passes and the reload is
# verified; otherwise Apache keeps the previous pair. For any other certificate (an operator's
# own vhost reading certbot's files): reloads when configtest passes and every enabled
# certificate matches its key, verified (reload.py).
DEPLOY_HOOK = """\
#!/bin/bash
# wpfleet: after certbot renewed a certificate (RENEWED_LINEAGE), Apache serves it (or keeps the old)
set -euo pipefail
CONFDIR="${APACHE_CONFDIR:-/etc/apache2}"
export APACHE_CONFDIR="$CONFDIR"
# same lock as the conf commands: never reload a conf that is still being configtested
exec 9>>"${APACHE_CONFDIR:-/etc/apache2}/.wpfleet-apply.lock"
flock -w 600 9
@LIB@
LINEAGE=${RENEWED_LINEAGE:-}
NAME=${LINEAGE##*/}
SERVED="$TLS_DIR/$NAME.pem"
if [[ "$NAME" =~ ^[A-Za-z0-9][A-Za-z0-9.-]*$ ]] && { [ -f "$SERVED" ] || grep -qsF \\
    "wpfleet-tls/$NAME.pem" "$CONFDIR"/sites-enabled/*.conf; }; then
  rc=0; swap_served "$LINEAGE" "$SERVED" || rc=$?
  case "$rc" in
    0) echo "wpfleet: reloaded Apache: it serves the renewed certificate $NAME" \\
         "(key matched, configtest passed, reload verified)" ;;
    3) echo "wpfleet: Apache already serves the renewed certificate $NAME" ;;
    *) echo "wpfleet: NOT reloading Apache for the renewed certificate $NAME: it keeps" \\
         "serving the previous certificate and key; see above" >&2
       exit 1 ;;
  esac
  exit 0
fi
if ! out=$(apache2ctl configtest 2>&1); then
    echo "wpfleet: Apache refused to reload after renewing ${LINEAGE:-?}:" >&2
    echo "$out" >&2; exit 1
fi
if ! check_cert_pairs; then
    echo "wpfleet: NOT reloading Apache after renewing ${LINEAGE:-?}: it keeps" \\
         "serving the previous certificate" >&2
    exit 1
fi
if reload_apache; then
    echo "wpfleet: reloaded Apache for renewed certificate ${LINEAGE:-?}"
else
    recover_apache "wpfleet: Apache did not come back after reloading for ${LINEAGE:-?}"
    exit 1
fi
""".replace("@LIB@", (RELOAD_LIB + tls.SERVED_LIB).strip("\n"))


def hook_path(stack: StackConfig) -> str:
    return f"{stack.acme.config_dir}/renewal-hooks/deploy/{HOOK_NAME}"


def live_path(stack: StackConfig, host: SiteConfig | BackendConfig) -> str:
    """Where the site's certificate chain lives (`--cert-name` is the site's domain)."""
    return f"{stack.acme.config_dir}/live/{host.domain}/fullchain.pem"


def command_name(host: SiteConfig | BackendConfig) -> str:
    return f"cert-{host.name}"


def _assignments(stack: StackConfig, host: SiteConfig | BackendConfig) -> str:
    acme = stack.acme
    values = {
        "SITE": host.name, "CERT_NAME": host.domain, "EMAIL": acme.email or "",
        "SERVER": acme.server, "CONFIG_DIR": acme.config_dir, "WEBROOT": acme.webroot,
        "HOOK": hook_path(stack),
    }
    lines = [f"{k}={shlex.quote(v)}" for k, v in values.items()]
    lines.append("DOMAINS=(" + " ".join(shlex.quote(d) for d in host.domains) + ")")
    # the hook text is constant (no config value in it), so a quoted heredoc is safe
    lines.append(f"HOOK_TEXT=$(cat <<'WPFLEET_HOOK'\n{DEPLOY_HOOK}WPFLEET_HOOK\n)")
    return "\n".join(lines) + "\n"


_CREATE_BODY = r"""
LIVE="$CONFIG_DIR/live/$CERT_NAME"
CONFDIR="${APACHE_CONFDIR:-/etc/apache2}"
export APACHE_CONFDIR="$CONFDIR"
mkdir -p "$CONFIG_DIR" "$WEBROOT"
# certbot refuses to run twice at once and pulumi applies sites in parallel: take turns
exec 8>"$CONFIG_DIR/.wpfleet-certbot.lock"
flock -w 900 8 || { echo "error: another certbot run held $CONFIG_DIR for 15 minutes" >&2; exit 1; }

if ! command -v certbot >/dev/null 2>&1; then
    echo "installing certbot from the distribution"
    export DEBIAN_FRONTEND=noninteractive
    @APT@ update -qq
    @APT@ install -y -qq certbot >/dev/null
    echo "changed: installed $(certbot --version 2>&1)"
fi

if [ "$(cat "$HOOK" 2>/dev/null || true)" != "$HOOK_TEXT" ]; then
    mkdir -p "$(dirname "$HOOK")"
    printf '%s\n' "$HOOK_TEXT" >"$HOOK.tmp" && chmod 755 "$HOOK.tmp" && mv -f "$HOOK.tmp" "$HOOK"
    echo "changed: installed deploy hook $HOOK (after each renewal, Apache serves the new" \
        "certificate once it matches its key and configtest passes)"
fi

extra=()
renewal_conf="$CONFIG_DIR/renewal/$CERT_NAME.conf"
old_server=$(sed -n 's/^server *= *//p' "$renewal_conf" 2>/dev/null | head -n1 || true)
if [ -n "$old_server" ] && [ "$old_server" != "$SERVER" ]; then
    # the user switched CAs (e.g. staging -> production): a still-valid old cert must go
    echo "ACME server changed from $old_server to $SERVER: replacing certificate $CERT_NAME"
    extra+=(--force-renewal --break-my-certs)
fi
d_args=()
for d in "${DOMAINS[@]}"; do d_args+=(-d "$d"); done

before=$(sha256sum "$LIVE/cert.pem" 2>/dev/null || true)
out=$(mktemp)
trap 'rm -f "$out"' EXIT
# --keep-until-expiring: a valid cert is never re-issued (no rate limit burnt on re-runs);
# --expand: a changed alias list re-issues this cert only, under the same --cert-name
if ! certbot certonly --webroot -w "$WEBROOT" --cert-name "$CERT_NAME" "${d_args[@]}" \
        --non-interactive --agree-tos --no-eff-email -m "$EMAIL" --server "$SERVER" \
        --config-dir "$CONFIG_DIR" --keep-until-expiring --expand "${extra[@]}" >"$out" 2>&1; then
    sed 's/^/certbot: /' "$out" >&2
    reason=$(grep -m1 -E 'Detail:|Error|error' "$out" | sed 's/^ *//' || true)
    echo "error: certbot could not get a certificate for ${DOMAINS[*]} from $SERVER:" \
        "${reason:-see the certbot output above}" >&2
    echo "error: $SITE is still served over HTTP and no other site was touched; check that" \
        "every name resolves to this box and that port 80 reaches Apache" >&2
    exit 1
fi
sed 's/^/certbot: /' "$out"

after=$(sha256sum "$LIVE/cert.pem" 2>/dev/null || true)
if [ "$before" != "$after" ]; then
    echo "changed: certificate $CERT_NAME issued for ${DOMAINS[*]}"
fi
# Apache serves a copy of certbot's pair, swapped in whole once it matches and configtest passes
# (the <IfFile> guard of the site conf names that copy, so a (re)load makes HTTPS live), under
# the lock the Apache conf commands hold, so no half-applied conf gets loaded
exec 9>>"$CONFDIR/.wpfleet-apply.lock"
flock -w 600 9 || { echo "error: an Apache conf apply held the lock for 10 minutes" >&2; exit 1; }
@LIB@
SERVED="$TLS_DIR/$CERT_NAME.pem"
rc=0; swap_served "$LIVE" "$SERVED" || rc=$?
case "$rc" in
    0) echo "changed: Apache serves certificate $CERT_NAME from $SERVED (key matched," \
         "configtest passed, graceful reload verified); https://$CERT_NAME is live" ;;
    3) echo "unchanged: certificate $CERT_NAME is valid, covers ${DOMAINS[*]} and is what" \
         "Apache serves ($SERVED: certificate and key verified to match); nothing to do" ;;
    *) echo "error: Apache does not serve certbot's current certificate $CERT_NAME (see" \
         "above; it keeps the previous one, if any). certbot's files: $LIVE" >&2
       exit 1 ;;
esac
expiry=$(openssl x509 -in "$LIVE/cert.pem" -noout -enddate 2>/dev/null || echo 'expiry unknown')
echo "certificate: $LIVE/fullchain.pem ($expiry), served from $SERVED"

# renewal is certbot's own systemd timer (twice a day); report, enable if it is off
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    if systemctl is-enabled --quiet certbot.timer 2>/dev/null; then
        echo "renewal: certbot.timer is enabled"
    elif systemctl enable --now certbot.timer >/dev/null 2>&1; then
        echo "changed: enabled certbot.timer (automatic renewal)"
    else
        echo "warning: certbot.timer is off and could not be enabled;" \
            "run 'certbot renew' from cron instead" >&2
    fi
else
    echo "renewal: systemd is not running here, so certbot.timer cannot be checked;" \
        "'certbot renew' must run twice a day (Debian's /etc/cron.d/certbot does without systemd)"
fi
"""

_LIB = (RELOAD_LIB + tls.SERVED_LIB).strip("\n")

# After the keep/revoke: Apache's copy of the pair goes (the conf that named it is being removed
# or no longer has an HTTPS vhost; a re-added site gets a fresh copy from certbot's files).
_FORGET_SERVED = r"""
SERVED="${APACHE_CONFDIR:-/etc/apache2}/wpfleet-tls/$CERT_NAME.pem"
if [ -e "$SERVED" ] || [ -e "$SERVED.prev" ]; then
    rm -f "$SERVED" "$SERVED.prev"
    echo "changed: removed $SERVED (Apache's copy of the certificate and key)"
fi
"""

_KEEP_BODY = r"""
echo "keeping certificate $CERT_NAME in $CONFIG_DIR/live/$CERT_NAME (acme.revokeOnDelete is" \
    "false); remove it with: certbot delete --cert-name $CERT_NAME"
"""

_REVOKE_BODY = r"""
if [ ! -f "$CONFIG_DIR/renewal/$CERT_NAME.conf" ]; then
    echo "unchanged: no certificate $CERT_NAME to revoke"
    exit 0
fi
exec 9>"$CONFIG_DIR/.wpfleet-certbot.lock"
flock -w 900 9
certbot revoke --cert-name "$CERT_NAME" --non-interactive --server "$SERVER" \
    --config-dir "$CONFIG_DIR" --reason cessationofoperation --delete-after-revoke 2>&1 \
    | sed 's/^/certbot: /'
echo "changed: revoked and deleted certificate $CERT_NAME (acme.revokeOnDelete is true)"
"""


def cert_command(stack: StackConfig, host: SiteConfig | BackendConfig) -> BoxCommand:
    """Issue (or expand, or keep) the certificate of one TLS host; runs after its Apache conf."""
    head = _assignments(stack, host)
    create = script(head + _CREATE_BODY.replace("@LIB@", _LIB).replace("@APT@", APT_GET))
    delete = script(head + (_REVOKE_BODY if stack.acme.revoke_on_delete else _KEEP_BODY)
                    + _FORGET_SERVED)
    # Changed aliases re-run `update` (= create) in place, which expands the same lineage. A new
    # primary domain is a new --cert-name, i.e. a different certificate: replace instead.
    # owns the lineage (--cert-name is the domain), not its name: a renamed site's cert-<new>
    # takes it over, and cert-<old>'s delete then keeps (never revokes) it
    return BoxCommand(name=command_name(host), create=create, update=create, delete=delete,
                      triggers=(host.domain,), owns=f"cert-{host.domain}")


def files(stack: StackConfig) -> dict[str, str]:
    """The deploy hook (also written by every cert command, so the two never diverge)."""
    return {hook_path(stack): DEPLOY_HOOK} if stack.tls_hosts else {}


def commands(stack: StackConfig) -> list[BoxCommand]:
    return [cert_command(stack, h) for h in stack.tls_hosts]


__all__ = ["DEPLOY_HOOK", "cert_command", "commands", "files", "hook_path", "live_path"]
