"""The certificate + key Apache serves for a TLS host: a wpfleet-owned copy, replaced whole.

certbot renews by writing new archive files and then re-pointing its four `live/<name>/*.pem`
links one after the other (cert, privkey, chain, fullchain). A renewal that dies between the
privkey and the fullchain link (killed, OOM, power loss, full disk) leaves `fullchain.pem` and
`privkey.pem` of different generations: an Apache reading them directly dies at its next
graceful reload (logrotate's, nightly) — issue 21 item 2.

So Apache never reads certbot's files. It reads one file per host,
`<ServerRoot>/wpfleet-tls/<domain>.pem` (`/etc/apache2/wpfleet-tls/` on the box): the private
key followed by the full chain, mode 0600. A new copy is staged from certbot's live files,
kept only if the certificate's public key is the key's (`openssl x509 -pubkey` vs
`openssl pkey -pubout`), then moved over the old one in one rename (no reader ever sees half a
pair), configtested, checked and reloaded with verification; any failure puts the previous copy
back (and restarts Apache on it if the reload went wrong). The file exists only once a valid pair
was put in place, so it is also what the HTTPS vhost's `<IfFile>` guard names (vhost.py).

The paths in the confs are relative, so Apache resolves them against its ServerRoot: the box's
/etc/apache2, or the private root (APACHE_CONFDIR) of an integration test. The shell functions
below expect CONFDIR and RELOAD_LIB's functions (reload.py) to be defined.
"""

from __future__ import annotations

TLS_DIR = "wpfleet-tls"


def served_rel(domain: str) -> str:
    """The served pair of `domain`, relative to Apache's ServerRoot (how the confs name it)."""
    return f"{TLS_DIR}/{domain}.pem"


def served_box_path(domain: str) -> str:
    return f"/etc/apache2/{served_rel(domain)}"


SERVED_LIB = r"""
TLS_DIR="$CONFDIR/wpfleet-tls"
served_ok() {  # $1 served file: present, and its certificate matches its key
  [ -f "$1" ] && pair_matches "$1" "$1"
}
stage_pair() {  # $1 certbot's live dir: prints a new temp file (key + full chain) in TLS_DIR,
  local tmp     # only when certbot's certificate and key match
  mkdir -p "$TLS_DIR"; chmod 700 "$TLS_DIR"
  tmp=$(mktemp "$TLS_DIR/.staged.XXXXXX")  # 0600: it holds a private key
  if cat "$1/privkey.pem" "$1/fullchain.pem" > "$tmp" 2>/dev/null \
      && pair_matches "$tmp" "$tmp"; then
    echo "$tmp"
  else
    rm -f "$tmp"; return 1
  fi
}
seed_served() {  # $1 live dir, $2 served file: put certbot's pair in place when the served copy
  local tmp      # is missing or broken (no reload here: the caller's gate reloads, or not)
  served_ok "$2" && return 0
  [ -e "$1/fullchain.pem" ] || [ -e "$1/privkey.pem" ] || return 0  # not issued yet
  if tmp=$(stage_pair "$1"); then
    mv -f "$tmp" "$2"
    echo "changed: $2 holds the certificate and key from $1 (they match)"
  else
    echo "warning: the certificate and key in $1 do not match (or cannot be read): not" \
      "served; the cert command says what to do" >&2
  fi
}
restore_served() {  # $1 served file: the copy saved by swap_served comes back (or none)
  if [ -f "$1.prev" ]; then mv -f "$1.prev" "$1"; else rm -f "$1"; fi
}
swap_served() {  # $1 live dir, $2 served file. Puts certbot's current pair in front of Apache:
  local tmp out  # 0 = replaced, configtested, reloaded and verified; 3 = already served;
                 # 1 = refused or failed, the previous copy back in place (Apache on it)
  if ! tmp=$(stage_pair "$1"); then
    echo "error: the certificate and key in $1 do not match (or cannot be read);" \
      "Apache keeps serving the previous pair ($2)" >&2
    return 1
  fi
  if [ -f "$2" ] && cmp -s "$tmp" "$2"; then rm -f "$tmp"; return 3; fi
  rm -f "$2.prev"; if [ -f "$2" ]; then cp -p "$2" "$2.prev"; fi
  mv -f "$tmp" "$2"
  if ! out=$(apache2ctl configtest 2>&1) || ! out=$(check_cert_pairs 2>&1); then
    restore_served "$2"
    echo "error: Apache refused the new certificate from $1; previous pair restored," \
      "Apache not reloaded:" >&2
    echo "$out" >&2
    return 1
  fi
  if ! reload_apache; then
    restore_served "$2"
    recover_apache "Apache did not come back after loading the new certificate from $1"
    return 1
  fi
  rm -f "$2.prev"
}
"""
