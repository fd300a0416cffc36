"""`box-ssh`: an sshd drop-in (no passwords, root by key only, the configured port).

The drop-in is checked with `sshd -t` and `sshd -T` (the effective config must really say what
the drop-in says, i.e. sshd_config includes sshd_config.d) before sshd reloads; anything else
restores the previous drop-in and fails, so a bad change never reaches the running sshd.
"""

from __future__ import annotations

from textwrap import dedent

from components.config import StackConfig
from components.render.command import BoxCommand, script

# "00-": sshd keeps the FIRST value it reads, and drop-ins are read in name order, so ours must
# sort before e.g. Ubuntu cloud images' 50-cloud-init.conf (PasswordAuthentication yes).
DROP_IN = "/etc/ssh/sshd_config.d/00-wpfleet.conf"


# ssh-audit's hardened OpenSSH server policy (weak KEX, MAC and host-key algorithms removed).
# Pulumi's own clients (pulumi-command's Go SSH, OpenSSH for the Docker provider) speak these.
KEX = ("curve25519-sha256,curve25519-sha256@libssh.org,diffie-hellman-group16-sha512,"
       "diffie-hellman-group18-sha512,diffie-hellman-group-exchange-sha256")
CIPHERS = ("chacha20-poly1305@openssh.com,aes256-gcm@openssh.com,aes128-gcm@openssh.com,"
           "aes256-ctr,aes192-ctr,aes128-ctr")
MACS = "hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com,umac-128-etm@openssh.com"
HOST_KEY_ALGORITHMS = "rsa-sha2-512,rsa-sha2-256,ssh-ed25519"


def ports(stack: StackConfig) -> list[int]:
    """The ports sshd listens on: box.port (where Pulumi connects) and box.newPort if set."""
    return list(dict.fromkeys(p for p in (stack.box.port, stack.box.new_port) if p is not None))


def drop_in(stack: StackConfig) -> str:
    port_lines = "".join(f"Port {p}\n" for p in ports(stack))
    return port_lines.join(dedent(f"""\
        # managed by wpfleet (box.hardenSsh); edits are overwritten
        @PORTS@PubkeyAuthentication yes
        AuthenticationMethods publickey
        PasswordAuthentication no
        KbdInteractiveAuthentication no
        PermitEmptyPasswords no
        PermitRootLogin prohibit-password
        X11Forwarding no
        AllowAgentForwarding no
        AllowTcpForwarding no
        AllowStreamLocalForwarding no
        PermitTunnel no
        MaxAuthTries 3
        LoginGraceTime 30
        # Pulumi runs many commands at once (one connection each) and the Docker provider
        # multiplexes its sessions over one connection: room for both
        MaxStartups 40:30:100
        MaxSessions 40
        KexAlgorithms {KEX}
        Ciphers {CIPHERS}
        MACs {MACS}
        HostKeyAlgorithms {HOST_KEY_ALGORITHMS}
        """).split("@PORTS@"))


def files(stack: StackConfig) -> dict[str, str]:
    return {DROP_IN: drop_in(stack)} if stack.box.harden_ssh else {}


_PATHS = dedent(f"""\
    # paths and tools may be redirected by tests; the defaults are the box's own
    DIR=${{SSHD_CONFIG_DIR:-{DROP_IN.rsplit("/", 1)[0]}}}
    SSHD_CONFIG=${{SSHD_CONFIG:-/etc/ssh/sshd_config}}
    SSHD=${{SSHD:-/usr/sbin/sshd}}
    SYSTEMCTL=${{SYSTEMCTL:-systemctl}}
    TARGET=$DIR/{DROP_IN.rsplit("/", 1)[1]}
    reload_sshd() {{
      # Ubuntu >= 22.10 starts sshd from ssh.socket, which owns the port: restart the socket
      if "$SYSTEMCTL" is-active --quiet ssh.socket 2>/dev/null; then
        "$SYSTEMCTL" daemon-reload && "$SYSTEMCTL" restart ssh.socket
      else
        "$SYSTEMCTL" reload ssh 2>/dev/null || "$SYSTEMCTL" reload sshd
      fi
    }}
    """)


def ssh(stack: StackConfig) -> BoxCommand | None:
    if not stack.box.harden_ssh:
        return None
    body = _PATHS + dedent("""\
        mkdir -p "$DIR"
        new=$(mktemp "$DIR/.wpfleet.XXXXXX")  # no .conf suffix: sshd's Include ignores it
        trap 'rm -f "$new" "$new.prev"' EXIT
        cat >"$new" <<'WPFLEET_EOF'
        %(conf)sWPFLEET_EOF
        chmod 0644 "$new"
        if [ -f "$TARGET" ] && cmp -s "$new" "$TARGET"; then
          echo "box-ssh: $TARGET already in place; no change"; exit 0
        fi
        had_prev=0
        if [ -f "$TARGET" ]; then cp -p "$TARGET" "$new.prev"; had_prev=1; fi
        mv -f "$new" "$TARGET"
        restore() {
          if [ "$had_prev" = 1 ]; then mv -f "$new.prev" "$TARGET"; else rm -f "$TARGET"; fi
          echo "box-ssh: $1; restored the previous $TARGET, sshd unchanged" >&2
          exit 1
        }
        if ! out=$("$SSHD" -t -f "$SSHD_CONFIG" 2>&1); then
          restore "sshd -t rejected the configuration: $out"
        fi
        effective=$("$SSHD" -T -f "$SSHD_CONFIG" 2>&1 || true)
        for want in %(port_wants)s "passwordauthentication no" \\
                    "permitrootlogin without-password" "maxauthtries 3"; do
          grep -qx "$want" <<<"$effective" || restore "the effective sshd config lacks '$want':"\
" make $SSHD_CONFIG start with 'Include $DIR/*.conf' and drop conflicting earlier settings"
        done
        reload_sshd
        echo "box-ssh: wrote $TARGET (port %(port_list)s, keys only) and reloaded sshd"
        """) % {"conf": drop_in(stack), "port_list": " ".join(map(str, ports(stack))),
                "port_wants": " ".join(f'"port {p}"' for p in ports(stack))}
    delete = _PATHS + dedent("""\
        # hardenSsh turned off: drop the hardening. sshd keeps listening on the ports Pulumi
        # connects to and ufw allows (box.port): if sshd's own config would not, they stay.
        if [ -f "$TARGET" ]; then
          keep=$(grep -E '^Port [0-9]+$' "$TARGET" || true)
          rm -f "$TARGET"
          effective=$("$SSHD" -T -f "$SSHD_CONFIG" 2>/dev/null || true)
          missing=""
          while read -r _ port; do
            [ -n "$port" ] || continue
            grep -qx "port $port" <<<"$effective" || missing="$missing $port"
          done <<<"$keep"
          if [ -n "$missing" ]; then
            { echo "# kept by wpfleet when box.hardenSsh was turned off: sshd keeps listening"
              echo "# where Pulumi connects and ufw allows; remove it after moving SSH yourself"
              printf '%s\\n' "$keep"; } >"$TARGET"
            chmod 0644 "$TARGET"
            echo "box-ssh: kept Port${missing} in $TARGET (sshd_config alone would not listen there)"
          fi
          "$SSHD" -t -f "$SSHD_CONFIG" && reload_sshd
          echo "box-ssh: removed the hardening from $TARGET and reloaded sshd"
        fi
        """)
    return BoxCommand(name="box-ssh", create=script(body), update=script(body),
                      delete=script(delete))
