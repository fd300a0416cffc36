"""The two programs installed on the box for backups: `wpfleet-backup` and `wpfleet-restore`.

Both read the site list from /etc/wpfleet/backup/sites/ (one file per site, written by that
site's own command, so adding a site never changes these scripts), the restic password from a
0600 file (RESTIC_PASSWORD_FILE) and optional extra restic environment (S3 keys...) from a 0600
`NAME=value` file that is parsed, never sourced. No secret is ever on a command line.

Per site and run, two snapshots tagged `site=<site>`, `run=<UTC time>` and `db` or `files`:
- `db`: `mariadb-dump --single-transaction` of the site's `wordpress` database, run INSIDE its
  MariaDB container (the root password is expanded there, from the container's own
  MARIADB_ROOT_PASSWORD, into MYSQL_PWD) and streamed into `restic backup --stdin`;
- `files`: the html volume, read on the box at its Docker mountpoint (local volume driver).
An empty html volume (WordPress not copied in yet) is not an error: the database is backed up
and the status file says `files=skipped` (restic refuses an empty snapshot).
A run whose dump or file backup fails leaves no half snapshot behind (it is forgotten), writes
`result=failed` to the site's status file and makes the program exit non-zero.
`wpfleet-restore` puts the previous database and files back by itself when the import or the
file swap fails midway; restoring into another site name (`--to`) then rewrites the source's
URLs to the target's with wp-cli (`wpfleet_wp`, wpcli.py), the URLs read from the `url=` lines
of the two site files (rendered from wpfleet:sites, checked again here).
Paths and tools can be redirected through the environment (tests); the defaults are the box's.
"""

from __future__ import annotations

import shlex
from textwrap import dedent

from components.config import BackupConfig
from components.render import script
from components.render.wpcli import wp_function

CONF_DIR = "/etc/wpfleet/backup"
STATE_DIR = "/var/lib/wpfleet/backup"
BACKUP_BIN = "/usr/local/sbin/wpfleet-backup"
RESTORE_BIN = "/usr/local/sbin/wpfleet-restore"
DB_NAME = "wordpress"  # components.wordpress_site.DB_NAME
# runs inside the DB container: $MARIADB_ROOT_PASSWORD is expanded there, not on the box
DUMP_IN_CONTAINER = ('MYSQL_PWD="$MARIADB_ROOT_PASSWORD" exec mariadb-dump -uroot '
                     "--single-transaction --quick --routines --triggers --events --hex-blob "
                     f"--default-character-set=utf8mb4 --skip-dump-date {DB_NAME}")
CLIENT_IN_CONTAINER = 'MYSQL_PWD="$MARIADB_ROOT_PASSWORD" exec mariadb -uroot'
DUMP_DONE = "-- Dump completed"  # mariadb-dump's last line: the dump is whole


def _common(backup: BackupConfig, prog: str) -> str:
    """Paths, secrets and the repository check shared by both programs."""
    return dedent("""\
        PROG=%(prog)s
        CONF_DIR=${WPFLEET_BACKUP_CONF:-%(conf)s}
        STATE_DIR=${WPFLEET_BACKUP_STATE:-%(state)s}
        DOCKER=${DOCKER:-docker}
        RESTIC=${RESTIC:-restic}
        export RESTIC_CACHE_DIR=${RESTIC_CACHE_DIR:-/var/cache/wpfleet/restic}
        REPO_LABEL=%(repo_label)s
        export RESTIC_REPOSITORY=%(repo)s
        export RESTIC_PASSWORD_FILE="$CONF_DIR/restic.password"
        unset RESTIC_PASSWORD RESTIC_PASSWORD_COMMAND
        SITE_RE='^[a-z][a-z0-9-]{0,30}$'

        die() { echo "$PROG: $*" >&2; exit 2; }
        # extra restic environment (wpfleet:backupEnv): NAME=value lines, parsed, never sourced
        if [ -f "$CONF_DIR/env" ]; then
          while IFS= read -r line || [ -n "$line" ]; do
            name=${line%%%%=*}
            if [[ $line == *=* && $name =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]]; then
              export "$name=${line#*=}"
            fi
          done < "$CONF_DIR/env"
        fi
        [ -r "$RESTIC_PASSWORD_FILE" ] \\
          || die "no restic password at $RESTIC_PASSWORD_FILE: has \\`pulumi up\\` set wpfleet:resticPassword?"
        [ -n "${RESTIC_REPOSITORY:-}" ] || die "no repository: set wpfleet:backup.repository"

        # open_repo: fail with one clear sentence when the repository cannot be used
        open_repo() {
          local err
          if err=$("$RESTIC" --no-lock cat config 2>&1 >/dev/null); then return 0; fi
          case "$err" in
            *"wrong password"*)
              echo "$PROG: cannot open the restic repository $REPO_LABEL: wrong password" \\
                "(wpfleet:resticPassword does not match the repository's key)" >&2 ;;
            *"Is there a repository"*|*"does not exist"*|*"no such file"*)
              echo "$PROG: no restic repository at $REPO_LABEL (not initialised or wrong" \\
                "path/URL): ${err##*Fatal: }" | head -n 2 >&2 ;;
            *)
              echo "$PROG: cannot reach the restic repository $REPO_LABEL: $(printf '%%s' "$err" \\
                | grep -v '^$' | tail -n 2 | tr '\\n' ' ')" >&2 ;;
          esac
          return 1
        }
        """) % {"prog": shlex.quote(prog), "conf": CONF_DIR, "state": STATE_DIR,
                "repo": shlex.quote(backup.repository or ""),
                "repo_label": shlex.quote(backup.repository or "(wpfleet:backupEnv)")}


def backup_program(backup: BackupConfig) -> str:
    """`wpfleet-backup [SITE...]` backs up sites (default: all); `wpfleet-backup --check`."""
    keep = [f"--keep-{unit} {n}" for unit, n in (("daily", backup.keep_daily),
            ("weekly", backup.keep_weekly), ("monthly", backup.keep_monthly)) if n > 0]
    subset = (f"--read-data-subset {shlex.quote(backup.check_read_data_subset)}"
              if backup.check_read_data_subset else "")
    return script("# wpfleet-backup (managed by wpfleet; edits are overwritten); "
                  "docs/backups.md\n" + _common(backup, "wpfleet-backup") + dedent("""\
        mkdir -p "$STATE_DIR"; chmod 0755 "$STATE_DIR"
        # one run at a time (timer, manual runs, restores)
        exec 9>"$STATE_DIR/.lock"
        flock -w 3600 9 || die "another backup or restore is still running"

        # status FILE RESULT MESSAGE [KEY=VALUE...]: readable by every user, no secret inside
        status() {
          local file=$1 tmp; tmp=$(mktemp "$file.XXXXXX")
          { echo "result=$2"; echo "time=$(date -u +%%Y-%%m-%%dT%%H:%%M:%%SZ)"
            echo "message=$3"; shift 3; printf '%%s\\n' "$@"; } > "$tmp"
          chmod 0644 "$tmp"; mv -f "$tmp" "$file"
        }

        if [ "${1:-}" = --init ]; then  # run by `pulumi up` (backup-install)
          if err=$(open_repo 2>&1); then echo "$PROG: repository $REPO_LABEL opens"; exit 0; fi
          case "$err" in
            *"no restic repository at"*)
              out=$("$RESTIC" init 2>&1) \\
                || die "cannot create the restic repository $REPO_LABEL: $out"
              echo "$PROG: created the restic repository $REPO_LABEL"; exit 0 ;;
            *) echo "$err" >&2; exit 2 ;;
          esac
        fi
        if [ "${1:-}" = --check ]; then
          open_repo || { status "$STATE_DIR/check.status" failed "repository unusable"; exit 2; }
          if out=$("$RESTIC" check %(subset)s 2>&1); then
            status "$STATE_DIR/check.status" ok "restic check passed"
            echo "$PROG: restic check of $REPO_LABEL passed"
          else
            printf '%%s\\n' "$out" >&2
            status "$STATE_DIR/check.status" failed "restic check found errors (journalctl -u wpfleet-backup-check)"
            die "restic check of $REPO_LABEL FAILED"
          fi
          exit 0
        fi

        if [ "$#" -gt 0 ]; then sites=("$@")
        else
          sites=()
          for f in "$CONF_DIR"/sites/*; do [ -f "$f" ] && sites+=("${f##*/}"); done
        fi
        for site in "${sites[@]}"; do [[ $site =~ $SITE_RE ]] || die "bad site name: $site"; done
        [ "${#sites[@]}" -gt 0 ] || { echo "$PROG: no site to back up"; exit 0; }

        # the run's time: one tag pairs a site's db and files snapshots (BACKUP_TIME, in UTC:
        # tests). restic reads --time in the box's local time zone, the run tag is UTC.
        epoch=$(date -u -d "${BACKUP_TIME:-now}" +%%s)
        run=$(date -u -d "@$epoch" +%%Y%%m%%dT%%H%%M%%SZ)
        timeargs=(--time "$(date -d "@$epoch" '+%%Y-%%m-%%d %%H:%%M:%%S')")
        work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
        if ! open_repo; then
          for site in "${sites[@]}"; do
            status "$STATE_DIR/$site.status" failed "repository $REPO_LABEL unusable" "run=$run"
          done
          exit 2
        fi

        snapshot_id() { grep -o '"snapshot_id":"[0-9a-f]*"' "$1" | tail -n 1 | cut -d'"' -f4; }
        forget_ids() { [ "$#" -eq 0 ] || "$RESTIC" forget "$@" >/dev/null 2>&1 || true; }

        # backup_site SITE: its database then its files; prints why it failed
        backup_site() {
          local site=$1 db="wpfleet-$1-db" vol="wpfleet-$1-html" info mnt dbid fid codes
          if ! "$DOCKER" inspect --type container "$db" >/dev/null 2>&1; then
            echo "container $db not found (is the site deployed?)"; return 1
          fi
          info=$("$DOCKER" volume inspect --format '{{.Driver}} {{.Mountpoint}}' "$vol" 2>&1) \\
            || { echo "volume $vol not found"; return 1; }
          mnt=${info#* }
          [ "${info%%%% *}" = local ] && [ -d "$mnt" ] \\
            || { echo "volume $vol is not a local volume readable on the box ($info)"; return 1; }
          set +e
          "$DOCKER" exec -i "$db" sh -c %(dump)s 2>"$work/dump.err" \\
            | "$RESTIC" backup --json --quiet --stdin --stdin-filename "$site-db.sql" \\
                --tag "site=$site,db,run=$run" "${timeargs[@]}" >"$work/db.json" 2>"$work/restic.err"
          codes="${PIPESTATUS[*]}"
          set -e
          dbid=$(snapshot_id "$work/db.json")
          if [ "${codes%%%% *}" != 0 ]; then
            forget_ids $dbid
            echo "database dump failed: $(tail -n 2 "$work/dump.err" | tr '\\n' ' ')"; return 1
          fi
          if [ "${codes#* }" != 0 ] || [ -z "$dbid" ]; then
            forget_ids $dbid
            echo "restic backup of the database failed: $(tail -n 2 "$work/restic.err" | tr '\\n' ' ')"
            return 1
          fi
          if [ -z "$(find "$mnt" -mindepth 1 -print -quit)" ]; then
            # WordPress not copied in yet: restic refuses an empty snapshot; the DB still counts
            echo "db_snapshot=$dbid files=skipped"; return 0
          fi
          if ! (cd "$mnt" && "$RESTIC" backup --json --quiet --tag "site=$site,files,run=$run" \\
                "${timeargs[@]}" . >"$work/files.json" 2>"$work/restic.err"); then
            forget_ids $dbid $(snapshot_id "$work/files.json")
            echo "restic backup of $mnt failed: $(tail -n 2 "$work/restic.err" | tr '\\n' ' ')"
            return 1
          fi
          fid=$(snapshot_id "$work/files.json")
          echo "db_snapshot=$dbid files_snapshot=$fid"
        }

        failed=()
        for site in "${sites[@]}"; do
          if out=$(backup_site "$site"); then
            case "$out" in
              *files=skipped*)
                msg="database backed up; files skipped (empty volume: WordPress not copied in yet)" ;;
              *) msg="backed up" ;;
            esac
            status "$STATE_DIR/$site.status" ok "$msg" "run=$run" ${out}
            echo "$PROG: $site: $msg (run=$run, $out)"
          else
            status "$STATE_DIR/$site.status" failed "$out" "run=$run"
            echo "$PROG: $site: FAILED: $out" >&2
            failed+=("$site")
          fi
        done

        # retention for the sites backed up here only (a removed site's snapshots stay as they
        # are); grouped by host and path, i.e. per site and per kind (db / files)
        tags=(); for site in "${sites[@]}"; do tags+=(--tag "site=$site"); done
        if ! "$RESTIC" forget --prune --group-by host,paths %(keep)s "${tags[@]}" \\
            >"$work/forget.out" 2>&1; then
          cat "$work/forget.out" >&2
          echo "$PROG: retention (restic forget --prune) FAILED" >&2
          exit 1
        fi
        echo "$PROG: retention applied (%(keep)s)"
        if [ "${#failed[@]}" -gt 0 ]; then
          die "${#failed[@]} site(s) FAILED: ${failed[*]} (see $STATE_DIR/<site>.status)"
        fi
        """) % {"dump": shlex.quote(DUMP_IN_CONTAINER), "keep": " ".join(keep),
                "subset": subset})


def restore_program(backup: BackupConfig) -> str:
    """`wpfleet-restore [--to TARGET] SITE [SNAPSHOT]`; `wpfleet-restore --list SITE`."""
    return script("# wpfleet-restore (managed by wpfleet; edits are overwritten); "
                  "docs/backups.md\n" + _common(backup, "wpfleet-restore") + wp_function()
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
        start_replicas() {
          for c in "${replicas[@]}"; do "$DOCKER" start "$c" >/dev/null || true; done
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

        # 2. stop the target's WordPress replicas (the balancer answers 503 meanwhile)
        i=0
        while "$DOCKER" inspect --type container "wpfleet-$target-wp-$i" >/dev/null 2>&1; do
          if [ "$("$DOCKER" inspect --format '{{.State.Running}}' "wpfleet-$target-wp-$i")" = true ]; then
            "$DOCKER" stop "wpfleet-$target-wp-$i" >/dev/null
            replicas+=("wpfleet-$target-wp-$i")
          fi
          i=$((i + 1))
        done

        # 3. keep what is live now in $voldir/before-restore (replaced by the next restore)
        prev="$voldir/before-restore"
        rm -rf "$prev"; mkdir -m 0700 "$prev" "$prev/files"
        "$DOCKER" exec -i "$db" sh -c %(dump)s > "$prev/db.sql" \\
          || die "cannot dump the current database of $target first; nothing was changed"

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
            die "restore of $target FAILED ($1); its previous database and files are back" \\
              "and its containers started again: the site is as before the restore"
          fi
          die "restore of $target FAILED ($1) and putting the previous state back FAILED too:" \\
            "recover by hand from $prev (db.sql and files/)"
        }

        # 4. the database
        load_db "$work/db.sql" || rollback "importing the database of run $run FAILED"
        echo "$PROG: database of $target restored from run $run of $site"

        # 5. the files: the volume's content swapped for the restored tree (a failure midway
        # puts the previous tree and database back)
        find "$mnt" -mindepth 1 -maxdepth 1 -exec mv -t "$prev/files" {} + \\
          || rollback "moving the current files of $target aside FAILED" aside
        find "$work/files" -mindepth 1 -maxdepth 1 -exec mv -t "$mnt" {} + \\
          || rollback "moving the restored files into $vol FAILED" swapped
        echo "$PROG: files of $target restored; the previous ones are in $prev"
        [ "$target" != "$site" ] || exit 0

        # 6. a copy under another name: rewrite the source's URLs with wp-cli, which runs in
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
                "done": shlex.quote(DUMP_DONE), "db": DB_NAME})


__all__ = ["BACKUP_BIN", "CONF_DIR", "RESTORE_BIN", "STATE_DIR", "backup_program",
           "restore_program"]
