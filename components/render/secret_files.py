"""The one script that writes secrets from stdin into files on the box, for the sites
(wordpress/secrets.py: `site-secrets-<site>`) and the backends (box/backend_secrets.py:
`backend-secrets-<backend>`), each giving its own directories, names, modes and messages.

What it does, the same for both: read every `KEY=value` line of stdin first and write nothing
unless exactly the expected keys came, each non-empty (an error names the key, never a value);
write a file only when its content changed, atomically (a temporary file in the same directory,
then a rename: a container that mounts the directory sees the new inode at once); print the keys
it wrote; remove files no longer expected. The values travel only on stdin and through
`printf`, a builtin: never on an argv, never printed.

Imports nothing of wpfleet.
"""

from __future__ import annotations

from textwrap import dedent

_BODY = dedent("""\
    TAG=%(tag)s
    R=${WPFLEET_ROOT:-}  # tests write under a scratch root; on the box: /
    TOP="$R"%(top)s
    DIR="$R"%(dir)s
    umask 077
    declare -A want=(%(want)s) value=()
    # read every line first: nothing is written unless exactly the expected names came
    while IFS= read -r line || [ -n "$line" ]; do
      [ -n "$line" ] || continue
      key=${line%%%%=*}
      if ! [[ $key =~ %(key_re)s ]] || [ "$key" = "$line" ] \\
          || [ -z "${want[$key]:-}" ]; then
        echo "$TAG: a line on stdin is not one of %(whose)s (not shown)" >&2; exit 1
      fi
      [ -n "${line#*=}" ] || { echo "$TAG: $key is empty on stdin" >&2; exit 1; }
      value[$key]=${line#*=}
    done
    for key in "${!want[@]}"; do
      [ -n "${value[$key]:-}" ] || { echo "$TAG: no $key on stdin" >&2; exit 1; }
    done
    %(setup)s
    rm -f %(tmp_globs)s  # left by an interrupted run
    changed=0
    for key in $(printf '%%s\\n' "${!want[@]}" | sort); do
      %(mode)s
      dest="$DIR/$key"
      tmp=$(mktemp "${dest%%/*}/.tmp.XXXXXX")  # 0600 root from the start, same directory
      printf '%%s' "${value[$key]}" > "$tmp"  # a builtin: the value is on no argv
      chown "0:$group" "$tmp"; chmod "$mode" "$tmp"
      if [ -f "$dest" ] && cmp -s "$tmp" "$dest"; then
        rm -f "$tmp"; chown "0:$group" "$dest"; chmod "$mode" "$dest"
      else
        mv -f "$tmp" "$dest"; echo "$TAG: wrote $key"; changed=1
      fi
    done
    for f in %(file_globs)s; do
      key=${f#"$DIR/"}
      if [ -e "$f" ] && [ -z "${want[$key]:-}" ]; then
        rm -rf "$f"; echo "$TAG: removed $key (%(why_removed)s)"; changed=1
      fi
    done
    [ "$changed" = 1 ] || echo "$TAG: %(whose_files)s are up to date; no change"
    """)

_DELETE = dedent("""\
    R=${WPFLEET_ROOT:-}
    DIR="$R"%(dir)s
    if [ -e "$DIR" ]; then rm -rf "$DIR"; echo "%(tag)s: removed %(shown)s"; fi
    """)


def writer_body(*, tag: str, top: str, dir: str, keys: list[str], key_re: str, whose: str,
                setup: str, tmp_globs: str, mode: str, file_globs: str, why_removed: str,
                whose_files: str) -> str:
    """The script's body. `tag`, `top` and `dir` come shell-quoted; `keys` are validated names
    (`sub/NAME` or `NAME`); `setup` makes the directories ($TOP, $DIR); `mode` is a line that
    sets `mode` and `group` for `$key`; the globs are of $DIR's files and leftovers."""
    return _BODY % {"tag": tag, "top": top, "dir": dir, "want": " ".join(f"[{k}]=1" for k in keys),
                    "key_re": key_re, "whose": whose, "setup": setup, "tmp_globs": tmp_globs,
                    "mode": mode, "file_globs": file_globs, "why_removed": why_removed,
                    "whose_files": whose_files}


def delete_body(*, tag: str, dir: str, shown: str) -> str:
    """Removes the directory (`dir` shell-quoted) and says so."""
    return _DELETE % {"tag": tag, "dir": dir, "shown": shown}


__all__ = ["delete_body", "writer_body"]
