"""`box-firewall`: ufw with default deny incoming, SSH allowed before enabling, Apache's ports.

Every rule wpfleet adds carries the ufw comment `wpfleet`, so a later run can remove the rules
it added that are no longer in the config without touching rules the operator added by hand.
The SSH port is allowed first and is never removed, so the script cannot lock the operator out.
"""

from __future__ import annotations

import shlex
from textwrap import dedent

from components.config import StackConfig
from components.render.command import BoxCommand, script

COMMENT = "wpfleet"
# Concurrent connections one client address (IPv4 /32, IPv6 /64) may hold to Apache's ports:
# far above a browser's 6-8 or an office NAT's, far below Apache's 1024 threads, so one address
# with slow/partial connections cannot stall every site. Over the cap: TCP reset.
CONN_CAP = 256
CAP_BEGIN = "# wpfleet: per-address connection cap (begin)"
CAP_END = "# wpfleet: per-address connection cap (end)"


def connlimit_args(limit: int, ports: tuple[int, ...], mask: int = 32) -> list[str]:
    """iptables match + target of the per-address cap (also applied by bench/faults.py)."""
    return ["-p", "tcp", "-m", "multiport", "--dports", ",".join(map(str, ports)),
            "-m", "connlimit", "--connlimit-above", str(limit), "--connlimit-mask", str(mask),
            "-j", "REJECT", "--reject-with", "tcp-reset"]


def _cap_rules(stack: StackConfig) -> tuple[str, str]:
    """The lines wpfleet keeps in ufw's before.rules / before6.rules (inside *filter)."""
    ports = (stack.apache.http_port, stack.apache.https_port)
    v4 = " ".join(["-A", "ufw-before-input", *connlimit_args(CONN_CAP, ports)])
    v6 = " ".join(["-A", "ufw6-before-input", *connlimit_args(CONN_CAP, ports, 64)])
    return v4, v6


# $1 file, $2 rule ('' removes the block): the marked block sits right before the first COMMIT
_CAP_FN = dedent("""\
    put_cap() {
      local f=$1 tmp; [ -f "$f" ] || return 0
      tmp=$(mktemp "$f.XXXXXX")
      awk -v rule="$2" -v b=%(begin)s -v e=%(end)s '
        $0 == b {skip = 1; next}  $0 == e {skip = 0; next}  skip {next}
        $0 == "COMMIT" && !done && rule != "" {print b; print rule; print e; done = 1}
        {print}' "$f" > "$tmp"
      if cmp -s "$tmp" "$f"; then rm -f "$tmp"; return 0; fi
      chmod --reference="$f" "$tmp"; mv -f "$tmp" "$f"; cap_changed=1
    }
    cap_changed=0
    """)

_PRELUDE = dedent("""\
    # WPFLEET_ETC may be redirected by tests; the default is the box's own.
    UFW=ufw
    ETC=${WPFLEET_ETC:-/etc/wpfleet}
    MARK=$ETC/firewall-enabled-by-wpfleet
    if ! command -v "$UFW" >/dev/null 2>&1; then
      echo "box-firewall: ufw is not installed: run 'apt-get install ufw' on the box" >&2; exit 1
    fi
    # rules this stack added earlier: lines like "ufw allow 443/tcp comment 'wpfleet'"
    ours() {
      "$UFW" show added | sed -n "s/^ufw allow \\([0-9]*\\/[a-z]*\\) comment 'wpfleet'$/\\1/p"
    }
    """)
assert "'wpfleet'" in _PRELUDE and COMMENT == "wpfleet"  # the comment ours() looks for


def rules(stack: StackConfig) -> list[str]:
    """The rules in the order they are added: SSH first, then Apache, then the extras."""
    ssh = [f"{p}/tcp" for p in (stack.box.port, stack.box.new_port) if p is not None]
    wanted = [*ssh, f"{stack.apache.http_port}/tcp",
              f"{stack.apache.https_port}/tcp", *stack.firewall.allow]
    return list(dict.fromkeys(wanted))  # de-duplicated, order kept


def firewall(stack: StackConfig) -> BoxCommand:
    wanted = rules(stack)
    ssh = f"{stack.box.port}/tcp"
    v4, v6 = _cap_rules(stack)
    cap_fn = _CAP_FN % {"begin": shlex.quote(CAP_BEGIN), "end": shlex.quote(CAP_END)}
    body = _PRELUDE + cap_fn + dedent("""\
        changed=0
        put_cap /etc/ufw/before.rules %(v4)s
        put_cap /etc/ufw/before6.rules %(v6)s
        if [ "$cap_changed" = 1 ]; then
          echo "box-firewall: per-address connection cap (%(cap)s) on Apache's ports set"
          changed=1
          if "$UFW" status | grep -q '^Status: active'; then "$UFW" reload >/dev/null; fi
        fi
        for rule in %(wanted)s; do
          out=$("$UFW" allow "$rule" comment %(comment)s)
          case "$out" in
            *Skipping*) ;;
            *) echo "box-firewall: allowed $rule"; changed=1 ;;
          esac
        done
        for rule in $(ours); do
          case " %(wanted_flat)s " in
            *" $rule "*) ;;
            *) "$UFW" delete allow "$rule" >/dev/null
               echo "box-firewall: removed $rule (no longer configured)"; changed=1 ;;
          esac
        done
        status=$("$UFW" status verbose)
        if ! grep -q 'deny (incoming)' <<<"$status"; then
          "$UFW" default deny incoming >/dev/null
          echo "box-firewall: default policy: deny incoming"; changed=1
        fi
        if ! grep -q 'allow (outgoing)' <<<"$status"; then
          "$UFW" default allow outgoing >/dev/null
          echo "box-firewall: default policy: allow outgoing"; changed=1
        fi
        if ! grep -q '^Status: active' <<<"$status"; then
          # SSH (%(ssh)s) was allowed above, before this point: enabling cannot lock us out
          "$UFW" --force enable >/dev/null
          mkdir -p -m 0700 "$ETC" && chmod 0700 "$ETC" && touch "$MARK"
          echo "box-firewall: ufw enabled"; changed=1
        fi
        [ "$changed" = 1 ] \\
          || echo "box-firewall: ufw already active with %(wanted_flat)s allowed; no change"
        """) % {"wanted": " ".join(map(shlex.quote, wanted)), "wanted_flat": " ".join(wanted),
                "comment": shlex.quote(COMMENT), "ssh": ssh, "v4": shlex.quote(v4),
                "v6": shlex.quote(v6), "cap": CONN_CAP}
    delete = _PRELUDE + cap_fn + dedent("""\
        # firewall.enabled turned off: undo what wpfleet did, but keep SSH reachable
        put_cap /etc/ufw/before.rules ''
        put_cap /etc/ufw/before6.rules ''
        if [ "$cap_changed" = 1 ]; then echo "box-firewall: per-address connection cap removed"; fi
        if [ -e "$MARK" ]; then
          "$UFW" --force disable >/dev/null; rm -f "$MARK"
          echo "box-firewall: ufw disabled (wpfleet had enabled it)"
        fi
        for rule in $(ours); do
          [ "$rule" = %(ssh)s ] && continue
          "$UFW" delete allow "$rule" >/dev/null; echo "box-firewall: removed $rule"
        done
        """) % {"ssh": shlex.quote(ssh)}
    # A new rule set re-applies in place (update): no delete that would drop the firewall.
    return BoxCommand(name="box-firewall", create=script(body), update=script(body),
                      delete=script(delete))
