"""`wpfleet-restore`, the restore program installed on the box (see programs.py for what both share).

Puts a site's database and files back from a run's snapshots, undoing its own half-done work
when the import or the file swap fails; `--to` restores into another site and rewrites its URLs.
"""

from __future__ import annotations

import shlex
from textwrap import dedent

from components.config import BackupConfig
from components.render.backup.programs import (
    CLIENT_IN_CONTAINER,
    DB_NAME,
    DUMP_DONE,
    DUMP_IN_CONTAINER,
    common,
)
from components.render.command import script
from components.render.wordpress.cli import wp_function

UNDO_KEEP = 3  # before-restore/<time>/ of a site's last 3 restores stay on the box (docs/backups.md)


def restore_program(backup: BackupConfig) -> str:
    """`wpfleet-restore [--to TARGET] SITE [SNAPSHOT]`; `wpfleet-restore --list SITE`."""
    return script("# wpfleet-restore (managed by wpfleet; edits are overwritten); "
                  "docs/backups.md\n" + common(backup, "wpfleet-restore") + wp_function()
                  + dedent("""\
        usage() {
          echo "usage: $PROG [--to TARGET_SITE] SITE [latest|SNAPSHOT_ID|RUN]" >&2
          echo "       $PROG --list SITE" >&2
          exit 64
        }
        target=""; list=0
        while [ "$#" -gt 0 ]; do
          case "$1" in
            --to) [ "$#" -ge 2 ] || usage; target=$2; shift 2 ;;
            --list) list=1; shift ;;
            -h|--help) usage ;;
            -*) usage ;;
            *) break ;;
          esac
        done
        [ "$#" -ge 1 ] && [ "$#" -le 2 ] || usage
        site=$1; want=${2:-latest}; target=${target:-$site}
        [[ $site =~ $SITE_RE ]] || die "bad site name: $site"
        [[ $target =~ $SITE_RE ]] || die "bad target site name: $target"
        [[ $want =~ ^(latest|[0-9a-f]{8,64}|[0-9]{8}T[0-9]{6}Z)$ ]] \\
          || die "bad snapshot: $want (latest, a snapshot ID or a run such as 20260101T033000Z)"

        # a copy under another name: the links naming the source's URL are rewritten to the
        # target's (url= lines of the site files, rendered from wpfleet:sites)
        site_url() {
          local u
          u=$(sed -n 's/^url=//p' "$CONF_DIR/sites/$1" 2>/dev/null | head -n 1) || true
          if [[ $u =~ ^https?://[a-z0-9]([a-z0-9.-]*[a-z0-9])?$ ]]; then echo "$u"; fi
        }
        old_url=""; new_url=""
        if [ "$target" != "$site" ] && [ "$list" = 0 ]; then
          old_url=$(site_url "$site"); new_url=$(site_url "$target")
          for name in "$site" "$target"; do
            [ -n "$(site_url "$name")" ] || echo "$PROG: warning: no valid url= line in" \\
              "$CONF_DIR/sites/$name (run \\`pulumi up\\`): links will not be rewritten" >&2
          done
        fi

        open_repo || die "nothing was changed on $target"
        if [ "$list" = 1 ]; then exec "$RESTIC" snapshots --tag "site=$site"; fi
        mkdir -p "$STATE_DIR"
        exec 9>"$STATE_DIR/.lock"
        flock -w 3600 9 || die "a backup or restore is still running"

        # runs: the run= tags of the site's snapshots of one kind, sorted
        runs() {
          "$RESTIC" snapshots --json --tag "site=$site,$1" | grep -o '"run=[0-9TZ]*"' \\
            | tr -d '"' | cut -d= -f2 | sort -u
        }
        case "$want" in
          latest) run=$(comm -12 <(runs db) <(runs files) | tail -n 1) ;;
          *T*Z) run=$want ;;
          *) run=$("$RESTIC" snapshots --json "$want" 2>/dev/null | grep -o '"run=[0-9TZ]*"' \\
                   | head -n 1 | tr -d '"' | cut -d= -f2) || true ;;
        esac
        [ -n "$run" ] || die "no complete backup of $site matches '$want' ($PROG --list $site)"

        KEEP_UNDOS=%(keep_undos)d  # the undos of a site's last restores kept on the box
        db="wpfleet-$target-db"; vol="wpfleet-$target-html"
        "$DOCKER" inspect --type container "$db" >/dev/null 2>&1 \\
          || die "container $db not found: deploy site '$target' first (add it to wpfleet:sites)"
        info=$("$DOCKER" volume inspect --format '{{.Driver}} {{.Mountpoint}}' "$vol") \\
          || die "volume $vol not found: deploy site '$target' first"
        mnt=${info#* }
        [ "${info%%%% *}" = local ] && [ -d "$mnt" ] || die "volume $vol is not a local volume ($info)"
        voldir=$(dirname "$mnt")

        # 1. fetch everything before touching the live site: a failure here changes nothing
        work=$(mktemp -d "$voldir/.wpfleet-restore.XXXXXX")  # same filesystem as the volume
        chmod 0700 "$work"
        replicas=()
        # the replicas this restore stops are held: box-keeper leaves them stopped meanwhile
        HOLD=${WPFLEET_HOLD_DIR:-/run/wpfleet/hold}
        start_replicas() {
          for c in "${replicas[@]}"; do
            "$DOCKER" start "$c" >/dev/null || true; rm -f "$HOLD/$c"
          done
          replicas=()
        }
        cleanup() { rm -rf "$work"; start_replicas; }
        trap cleanup EXIT
        sel="site=$site,run=$run"
        "$RESTIC" dump --tag "$sel,db" latest "/$site-db.sql" > "$work/db.sql" \\
          || die "cannot read the database of run $run from the repository; nothing was changed"
        tail -n 1 "$work/db.sql" | grep -q -- %(done)s \\
          || die "the database dump of run $run is incomplete; nothing was changed"
        "$RESTIC" restore --tag "$sel,files" latest --target "$work/files" >"$work/restore.out" \\
          || die "cannot restore the files of run $run; nothing was changed"
        echo "$PROG: fetched run $run of $site ($(wc -c < "$work/db.sql") bytes of SQL," \\
          "$(find "$work/files" -type f | wc -l) files)"

        # 2. the target's database must answer before anything changes: its dump is the undo
        if ! out=$(printf 'SELECT 1;\\n' | "$DOCKER" exec -i "$db" sh -c %(client)s 2>&1 >/dev/null); then
          die "the database of $target ($db) does not answer ($(printf '%%s' "$out" | grep -v '^$' \\
            | tail -n 1)): start it (docker start $db) and try again; nothing was changed"
        fi

        # 3. stop the target's WordPress replicas (the balancer answers 503 meanwhile)
        i=0
        while "$DOCKER" inspect --type container "wpfleet-$target-wp-$i" >/dev/null 2>&1; do
          if [ "$("$DOCKER" inspect --format '{{.State.Running}}' "wpfleet-$target-wp-$i")" = true ]; then
            mkdir -p "$HOLD" && touch "$HOLD/wpfleet-$target-wp-$i"
            replicas+=("wpfleet-$target-wp-$i")
            "$DOCKER" stop "wpfleet-$target-wp-$i" >/dev/null
          fi
          i=$((i + 1))
        done

        # 4. this restore's undo: what is live now, in a directory of its own
        # ($undos/<UTC time>/db.sql and files/). The undos of earlier restores are not touched
        # here: only once this restore went through are the oldest beyond $KEEP_UNDOS removed
        undos="$voldir/before-restore"
        mkdir -p -m 0700 "$undos"
        stamp=$(date -u +%%Y%%m%%dT%%H%%M%%SZ); prev="$undos/$stamp"; n=1
        while [ -e "$prev" ]; do n=$((n + 1)); prev="$undos/$stamp-$n"; done
        mkdir -m 0700 "$prev" "$prev/files" || die "cannot create $prev; nothing was changed"
        if ! "$DOCKER" exec -i "$db" sh -c %(dump)s > "$prev/db.sql" 2>"$work/dump.err" \\
            || ! tail -n 1 "$prev/db.sql" | grep -q -- %(done)s; then
          rm -rf "$prev"  # this run's own, incomplete undo only
          die "cannot dump the current database of $target first" \\
            "($(grep -v '^$' "$work/dump.err" | tail -n 2 | tr '\\n' ' ')); nothing was changed"
        fi

        # load_db FILE: the database recreated from FILE (grants on it survive a DROP DATABASE)
        load_db() {
          { printf 'DROP DATABASE IF EXISTS `%(db)s`; CREATE DATABASE `%(db)s`; USE `%(db)s`;\\n'
            cat "$1"; } | "$DOCKER" exec -i "$db" sh -c %(client)s
        }
        # rollback WHAT [aside|swapped]: put back the database (and the files) kept in $prev,
        # start the replicas again and stop with one clear sentence. aside: some current files
        # were moved to $prev/files (move them back); swapped: all of them were, and the volume
        # holds restored files only (remove those first)
        rollback() {
          echo "$PROG: $1; putting the previous database${2:+ and files} of $target back" >&2
          local ok=1
          load_db "$prev/db.sql" || ok=0
          if [ "${2:-}" = swapped ]; then
            find "$mnt" -mindepth 1 -maxdepth 1 -exec rm -rf {} + || ok=0
          fi
          if [ -n "${2:-}" ]; then
            find "$prev/files" -mindepth 1 -maxdepth 1 -exec mv -t "$mnt" {} + || ok=0
          fi
          start_replicas
          if [ "$ok" = 1 ]; then
            rm -rf "$prev"  # the site is as before: this restore left nothing to undo
            die "restore of $target FAILED ($1); its previous database and files are back" \\
              "and its containers started again: the site is as before the restore"
          fi
          die "restore of $target FAILED ($1) and putting the previous state back FAILED too:" \\
            "recover by hand from $prev (db.sql and files/)"
        }

        # 5. the database
        load_db "$work/db.sql" || rollback "importing the database of run $run FAILED"
        echo "$PROG: database of $target restored from run $run of $site"

        # 6. the files: the volume's content swapped for the restored tree (a failure midway
        # puts the previous tree and database back)
        find "$mnt" -mindepth 1 -maxdepth 1 -exec mv -t "$prev/files" {} + \\
          || rollback "moving the current files of $target aside FAILED" aside
        find "$work/files" -mindepth 1 -maxdepth 1 -exec mv -t "$mnt" {} + \\
          || rollback "moving the restored files into $vol FAILED" swapped
        echo "$PROG: files of $target restored; the previous ones are in $prev"

        # 7. the restore went through: note what it was, then keep the newest $KEEP_UNDOS undos
        # (names are UTC times, a -N suffix for a second restore in the same second)
        printf 'restored=run %%s of %%s into %%s\\ntime=%%s\\nundo=%%s\\n' "$run" "$site" "$target" \\
          "$stamp" "db.sql and files/ are the database and files from before this restore" \\
          > "$prev/restore.info"
        find "$undos" -mindepth 1 -maxdepth 1 -type d -regextype posix-extended \\
            -regex '.*/[0-9]{8}T[0-9]{6}Z(-[0-9]+)?' -printf '%%f\\n' \\
          | LC_ALL=C sort -t - -k 1,1 -k 2,2n | head -n "-$KEEP_UNDOS" \\
          | while read -r old; do
              rm -rf "${undos:?}/$old"; echo "$PROG: removed the undo $undos/$old (older than the last $KEEP_UNDOS)"
            done
        [ "$target" != "$site" ] || exit 0

        # 8. a copy under another name: rewrite the source's URLs with wp-cli, which runs in
        # the network of the target's replica 0 (so the replicas are started first)
        start_replicas
        manual="wpfleet-wp $target search-replace OLD_URL NEW_URL --all-tables --skip-columns=guid"
        if [ -z "$old_url" ] || [ -z "$new_url" ]; then
          die "$target now holds a copy of $site, but its links still name $site's URL, which" \\
            "is unknown here (see the warning above); rewrite them with: $manual"
        fi
        old_host=${old_url#*://}
        if [ "$old_host" != "${new_url#*://}" ]; then
          for from in "https://$old_host" "http://$old_host"; do
            wpfleet_wp "$target" search-replace "$from" "$new_url" --all-tables \\
              --skip-columns=guid --report-changed-only </dev/null \\
              || die "$target holds a copy of $site, but rewriting $from to $new_url FAILED;" \\
                "once the site is up, run: ${manual/OLD_URL NEW_URL/$from $new_url}"
          done
        fi
        echo "$PROG: links in $target rewritten from $old_url (http and https) to $new_url"
        """) % {"dump": shlex.quote(DUMP_IN_CONTAINER), "client": shlex.quote(CLIENT_IN_CONTAINER),
                "done": shlex.quote(DUMP_DONE), "db": DB_NAME,
                "keep_undos": UNDO_KEEP})


__all__ = ["restore_program"]
