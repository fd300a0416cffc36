"""`BoxCommand`, the unit of work on the box, and the two helpers every box script uses.

Imports nothing of wpfleet: every module of render/ builds its commands with these, and the
Box component runs them (as root, directly or through sudo).
"""

from __future__ import annotations

import dataclasses
import re
import shlex
from dataclasses import dataclass, field


@dataclass(frozen=True, kw_only=True)
class BoxCommand:
    name: str  # Pulumi resource name; also OUT_DIR/commands/<name>.sh
    create: str  # bash script, run as root on the box
    update: str | None = None  # in-place re-application (defaults to create)
    delete: str | None = None  # undo; tolerates a box where nothing is left
    stdin_secret: str | None = None  # name of the secret fed on stdin (never on argv)
    # values that, when changed, must REPLACE the command (delete + create) rather than update
    triggers: tuple[str, ...] = field(default=())
    # what its delete undoes on the box, when another command may write the same thing under
    # another resource name (the certificate lineage of a domain: "cert-blog.example.org");
    # None: the command's own name (box-firewall, apache-conf-blog: the same on any box)
    owns: str | None = None


def script(body: str) -> str:
    """A box script: strict bash, the body dedented by the caller."""
    return "#!/bin/bash\nset -euo pipefail\n" + body.lstrip("\n")


def put_function(tag: str) -> str:
    """`changed=0` and a bash `put DEST MODE` that writes stdin to DEST only if it differs,
    atomically, then says `TAG: wrote DEST` and sets changed=1 (the box's unit installers)."""
    return (
        "changed=0\n"
        "# put DEST MODE: write stdin to DEST only if it differs (idempotent, atomic)\n"
        "put() {\n"
        '  local tmp; tmp=$(mktemp "$1.XXXXXX")\n'
        '  cat >"$tmp"; chmod "$2" "$tmp"\n'
        '  if [ -f "$1" ] && cmp -s "$tmp" "$1"; then rm -f "$tmp"; return 0; fi\n'
        f'  mv -f "$tmp" "$1"; echo "{tag}: wrote $1"; changed=1\n'
        "}\n")


# Where owner stamps live: one file per owned thing, holding the resource name that owns it.
OWNERS_DIR = "${WPFLEET_OWNERS:-${WPFLEET_ETC:-/etc/wpfleet}/owners}"
_HEADER = "#!/bin/bash\nset -euo pipefail\n"
_KEY_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{0,252}$")

_CLAIM = """\
# owner stamp: this resource owns %(key)s from now on; the delete of one that wrote it under
# another name (a renamed box, site or backend) leaves it alone (docs/operations.md, Renames)
wpfleet_owners=%(dir)s
wpfleet_was=$(cat "$wpfleet_owners"/%(key)s 2>/dev/null || true)
if [ "$wpfleet_was" != %(owner)s ]; then
  (umask 077 && mkdir -p "$wpfleet_owners")
  printf '%%s\\n' %(owner)s >"$wpfleet_owners"/%(key)s.tmp
  mv -f "$wpfleet_owners"/%(key)s.tmp "$wpfleet_owners"/%(key)s
  [ -z "$wpfleet_was" ] || echo "owner of %(key)s: %(owner)s (was $wpfleet_was)"
fi
"""

_GUARD = """\
# owner stamp: undo %(key)s only while this resource owns it; one created under a new name (a
# renamed box, site or backend) may have taken it over in this `up` (docs/operations.md, Renames)
wpfleet_owners=%(dir)s
wpfleet_owner=$(cat "$wpfleet_owners"/%(key)s 2>/dev/null || true)
if [ -n "$wpfleet_owner" ] && [ "$wpfleet_owner" != %(owner)s ]; then
  echo "kept %(key)s: it belongs to $wpfleet_owner now, not to %(owner)s; nothing removed"
  exit 0
fi
rm -f "$wpfleet_owners"/%(key)s
"""


def owned(cmd: BoxCommand, owner: str) -> BoxCommand:
    """CMD as resource OWNER runs it: create/update stamp OWNER as the owner of `cmd.owns`
    (its name by default), and the delete undoes nothing once another resource has taken it.

    A rename registers new resources that write the same box files, certificates and units
    as the old ones, and Pulumi deletes the old ones after creating the new: without the
    stamp, those deletes would remove what the new resources had just written. A command
    without a delete owns nothing and is returned as it is.
    """
    if cmd.delete is None:
        return cmd
    key = cmd.owns or cmd.name
    if not _KEY_RE.match(key) or not _KEY_RE.match(owner):  # validated names and domains only
        raise AssertionError(f"owner stamp {key!r} of {owner!r}: not a plain name")
    values = {"owner": shlex.quote(owner), "key": shlex.quote(key), "dir": OWNERS_DIR}
    claim, guard = _CLAIM % values, _GUARD % values
    return dataclasses.replace(
        cmd, create=_after_header(cmd.create, claim),
        update=None if cmd.update is None else _after_header(cmd.update, claim),
        delete=_after_header(cmd.delete, guard))


def _after_header(text: str, snippet: str) -> str:
    """SNIPPET placed first in a script, after its `script()` header (kept as the first lines)."""
    if text.startswith(_HEADER):
        return _HEADER + snippet + text[len(_HEADER):]
    return _HEADER + snippet + text  # not from script(): strict mode is added, harmless


def as_root(text: str, sudo: bool) -> str:
    """The command line that runs a script as root: directly, or with passwordless sudo."""
    quoted = shlex.quote(text)
    return f"sudo -n bash -c {quoted}" if sudo else f"bash -c {quoted}"


__all__ = ["OWNERS_DIR", "BoxCommand", "as_root", "owned", "script"]
