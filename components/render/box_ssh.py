"""`box-ssh`: an sshd drop-in (no passwords, root by key only, the configured port).

The drop-in is checked with `sshd -t` and `sshd -T` (the effective config must really say what
the drop-in says, i.e. sshd_config includes sshd_config.d) before sshd reloads; anything else
restores the previous drop-in and fails, so a bad change never reaches the running sshd.
"""

from __future__ import annotations

from textwrap import dedent

from components.config import StackConfig
from components.render import BoxCommand, script

# "00-": sshd keeps the FIRST value it reads, and drop-ins are read in name order, so ours must
# sort before e.g. Ubuntu cloud images' 50-cloud-init.conf (PasswordAuthentication yes).
DROP_IN = "/etc/ssh/sshd_config.d/00-wpfleet.conf"


def drop_in(stack: StackConfig) -> str:
    return dedent(f"""\
        # managed by wpfleet (box.hardenSsh); edits are overwritten
        Port {stack.box.port}
        PubkeyAuthentication yes
        PasswordAuthentication no
        KbdInteractiveAuthentication no
        PermitEmptyPasswords no
        PermitRootLogin prohibit-password
        """)


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
        for want in "port %(port)d" "passwordauthentication no" \\
                    "permitrootlogin without-password"; do
          grep -qx "$want" <<<"$effective" || restore "the effective sshd config lacks '$want':"\
" make $SSHD_CONFIG start with 'Include $DIR/*.conf' and drop conflicting earlier settings"
        done
        reload_sshd
        echo "box-ssh: wrote $TARGET (port %(port)d, keys only) and reloaded sshd"
        """) % {"conf": drop_in(stack), "port": stack.box.port}
    delete = _PATHS + dedent("""\
        # hardenSsh turned off: remove the drop-in, sshd falls back to its own sshd_config
        if [ -f "$TARGET" ]; then
          rm -f "$TARGET"
          "$SSHD" -t -f "$SSHD_CONFIG" && reload_sshd
          echo "box-ssh: removed $TARGET and reloaded sshd"
        fi
        """)
    return BoxCommand(name="box-ssh", create=script(body), update=script(body),
                      delete=script(delete))
