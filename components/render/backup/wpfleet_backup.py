"""`wpfleet-backup`, the backup program installed on the box (see programs.py for what both share).

Per site: the database dump and the html volume as two restic snapshots of one run; a failed
half is forgotten; `--check` runs `restic check`. Retention is applied per site.
"""

from __future__ import annotations

import shlex
from textwrap import dedent

from components.config import BackupConfig
from components.render.backup.programs import DUMP_IN_CONTAINER, common
from components.render.command import script


def backup_program(backup: BackupConfig) -> str:
    """`wpfleet-backup [SITE...]` backs up sites (default: all); `wpfleet-backup --check`."""
    keep = [f"--keep-{unit} {n}" for unit, n in (("daily", backup.keep_daily),
            ("weekly", backup.keep_weekly), ("monthly", backup.keep_monthly)) if n > 0]
    subset = (f"--read-data-subset {shlex.quote(backup.check_read_data_subset)}"
              if backup.check_read_data_subset else "")
    return script("# wpfleet-backup (managed by wpfleet; edits are overwritten); "
                  "docs/backups.md\n" + common(backup, "wpfleet-backup") + dedent("""\
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
        # write_check: restic's own lock taken and dropped (`restic list keys` writes a small
        # file to the repository's locks/ and refuses while another process holds an exclusive
        # lock). restic retries a failed write for ~40 s, and `restic backup` would fail only
        # after the dump was made: give up after 3 failed attempts. Prints why it cannot be used.
        write_check() {
          local err pid
          err=$(mktemp); "$RESTIC" list keys >/dev/null 2>"$err" &
          pid=$!
          while kill -0 "$pid" 2>/dev/null; do
            if [ "$(grep -c 'returned error, retrying' "$err")" -ge 3 ]; then
              kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
              echo "cannot write to it: $(restic_words "$err")"; rm -f "$err"; return 1
            fi
            sleep 0.2
          done
          if wait "$pid"; then rm -f "$err"; return 0; fi
          case "$(cat "$err")" in
            *"already locked"*)
              echo "it is locked by another restic process: $(restic_words "$err") (if no restic" \\
                "process uses it any more, remove the stale lock: restic unlock)" ;;
            *) echo "cannot lock it: $(restic_words "$err")" ;;
          esac
          rm -f "$err"; return 1
        }

        if [ "${1:-}" = --check ]; then
          open_repo || { status "$STATE_DIR/check.status" failed "repository unusable"; exit 2; }
          if ! why=$(write_check); then
            status "$STATE_DIR/check.status" failed "repository $REPO_LABEL: $why"
            die "cannot check the restic repository $REPO_LABEL: $why"
          fi
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
        # before any dump: a repository that cannot be written (read-only, full, locked) is
        # reported at once, in restic's words, for every site
        if ! why=$(write_check); then
          for site in "${sites[@]}"; do
            status "$STATE_DIR/$site.status" failed "repository $REPO_LABEL: $why" "run=$run"
          done
          die "cannot back up to the restic repository $REPO_LABEL: $why"
        fi

        snapshot_id() { grep -o '"snapshot_id":"[0-9a-f]*"' "$1" | tail -n 1 | cut -d'"' -f4; }
        forget_ids() { [ "$#" -eq 0 ] || "$RESTIC" forget "$@" >/dev/null 2>&1 || true; }

        # backup_site SITE: its database then its files; prints why it failed
        backup_site() {
          local site=$1 db="wpfleet-$1-db" vol="wpfleet-$1-html" info mnt dbid fid codes said failed_restic cut_off
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
          said=$(grep -v '^$' "$work/dump.err" | tail -n 2 | tr '\\n' ' ') || true
          failed_restic=""  # restic's words when it failed
          if [ "${codes#* }" != 0 ] || [ -z "$dbid" ]; then
            failed_restic=$(restic_words "$work/restic.err")
          fi
          # a dump cut off by a broken pipe (SIGPIPE: 141, or EPIPE: "errno 32") only shows that
          # restic stopped reading: then restic's own words say what failed
          cut_off=0
          case "${codes%%%% *}/$said" in 141/*|*"errno 32"*|*"roken pipe"*) cut_off=1 ;; esac
          if [ "${codes%%%% *}" != 0 ] && { [ "$cut_off" = 0 ] || [ -z "$failed_restic" ]; }; then
            forget_ids $dbid
            echo "database dump failed: ${said:-exit code ${codes%%%% *}, no message}"; return 1
          fi
          if [ -n "$failed_restic" ]; then
            forget_ids $dbid
            echo "restic backup of the database to $REPO_LABEL failed: $failed_restic"; return 1
          fi
          if [ -z "$(find "$mnt" -mindepth 1 -print -quit)" ]; then
            # WordPress not copied in yet: restic refuses an empty snapshot; the DB still counts
            echo "db_snapshot=$dbid files=skipped"; return 0
          fi
          if ! (cd "$mnt" && "$RESTIC" backup --json --quiet --tag "site=$site,files,run=$run" \\
                "${timeargs[@]}" . >"$work/files.json" 2>"$work/restic.err"); then
            forget_ids $dbid $(snapshot_id "$work/files.json")
            echo "restic backup of $mnt to $REPO_LABEL failed: $(restic_words "$work/restic.err")"
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


__all__ = ["backup_program"]
