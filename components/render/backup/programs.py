"""The two programs installed on the box for backups: `wpfleet-backup` and `wpfleet-restore`.

Both read the site list from /etc/wpfleet/backup/sites/ (one file per site, written by that
site's own command, so adding a site never changes these scripts), the restic password from a
0600 file (RESTIC_PASSWORD_FILE) and optional extra restic environment (S3 keys...) from a 0600
`NAME=value` file that is parsed, never sourced. No secret is ever on a command line.

Per site and run, two snapshots tagged `site=<site>`, `run=<UTC time>` and `db` or `files`:
- `db`: `mariadb-dump --single-transaction` of the site's `wordpress` database, run INSIDE its
  MariaDB container (the root password is read there, from the secret file mounted into the
  container, into MYSQL_PWD: wordpress/secrets.as_db_root) and streamed into
  `restic backup --stdin`;
- `files`: the html volume, read on the box at its Docker mountpoint (local volume driver).
An empty html volume (WordPress not copied in yet) is not an error: the database is backed up
and the status file says `files=skipped` (restic refuses an empty snapshot).
Before any dump a run checks that the repository can be written (restic's own lock taken and
dropped, given up after 3 failed writes instead of restic's ~40 s of retries): a read-only or
locked repository is reported at once, in restic's words (`restic_words`: no stack frames, no
password of a URL); a restic failure while a dump streams into it is reported as restic's.
A run whose dump or file backup fails leaves no half snapshot behind (it is forgotten), writes
`result=failed` to the site's status file and makes the program exit non-zero.
`wpfleet-restore` puts the previous database and files back by itself when the import or the
file swap fails midway; restoring into another site name (`--to`) then rewrites the source's
URLs to the target's with wp-cli (`wpfleet_wp`, wordpress/cli.py), the URLs read from the `url=` lines
of the two site files (rendered from wpfleet:sites, checked again here).
Paths and tools can be redirected through the environment (tests); the defaults are the box's.
"""

from __future__ import annotations

import shlex
from textwrap import dedent, indent

from components.config import BackupConfig
from components.render.backup import sftp
from components.render.wordpress.secrets import as_db_root

CONF_DIR = "/etc/wpfleet/backup"
STATE_DIR = "/var/lib/wpfleet/backup"
BACKUP_BIN = "/usr/local/sbin/wpfleet-backup"
RESTORE_BIN = "/usr/local/sbin/wpfleet-restore"
DB_NAME = "wordpress"  # components.wordpress_site.DB_NAME
# run inside the DB container: the root password is read there, never on the box
DUMP_IN_CONTAINER = as_db_root("mariadb-dump -uroot --single-transaction --quick --routines "
                               "--triggers --events --hex-blob --default-character-set=utf8mb4 "
                               f"--skip-dump-date {DB_NAME}")
CLIENT_IN_CONTAINER = as_db_root("mariadb -uroot")
DUMP_DONE = "-- Dump completed"  # mariadb-dump's last line: the dump is whole


def common(backup: BackupConfig, prog: str) -> str:
    """Paths, secrets and the repository check shared by both programs."""
    return dedent("""\
        PROG=%(prog)s
        CONF_DIR=${WPFLEET_BACKUP_CONF:-%(conf)s}
        STATE_DIR=${WPFLEET_BACKUP_STATE:-%(state)s}
        DOCKER=${DOCKER:-docker}
        %(restic)s
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
          || die "no restic password at $RESTIC_PASSWORD_FILE: has \\`pulumi up\\` set wpfleet:%(password_key)s?"
        [ -n "${RESTIC_REPOSITORY:-}" ] || die "no repository: set wpfleet:backup.repository"

        # open_repo: fail with one clear sentence when the repository cannot be used
        open_repo() {
          local err
          if err=$("$RESTIC" --no-lock cat config 2>&1 >/dev/null); then return 0; fi
          %(sftp_probe)scase "$err" in
            *"wrong password"*)
              echo "$PROG: cannot open the restic repository $REPO_LABEL: wrong password" \\
                "(wpfleet:%(password_key)s does not match the repository's key)" >&2 ;;
            *"Is there a repository"*|*"does not exist"*|*"no such file"*)
              echo "$PROG: no restic repository at $REPO_LABEL (not initialised or wrong" \\
                "path/URL): ${err##*Fatal: }" | head -n 2 >&2 ;;
        %(sftp_cases)s    *)
              echo "$PROG: cannot reach the restic repository $REPO_LABEL: $(printf '%%s' "$err" \\
                | grep -v '^$' | tail -n 2 | tr '\\n' ' ')" >&2 ;;
          esac
          return 1
        }

        # restic_words FILE: what restic said, on one line: no Go stack frames, no retry chatter
        # (the last retry's cause when that is all there is), no password of a URL
        restic_words() {
          local words
          words=$(grep -v -e '^[[:space:]]' -e '^[^[:space:]]*$' \\
            -e 'returned error, retrying after' "$1" 2>/dev/null || true)
          [ -n "$words" ] || words=$(sed -n 's/.* returned error, retrying after [^:]*: //p' \\
            "$1" 2>/dev/null | tail -n 1)
          [ -n "$words" ] || words="(restic said nothing)"
          printf '%%s\\n' "$words" | awk 'NF && !seen[$0]++' | head -n 3 \\
            | sed -E 's#(://[^/@:[:space:]]*):[^/@[:space:]]*@#\\1:***@#g' | paste -sd '|' \\
            | sed 's/|/; /g'
        }
        """) % {"prog": shlex.quote(prog), "conf": CONF_DIR, "state": STATE_DIR,
                "password_key": backup.password_key,
                # an sftp: repository with a pinned host key: restic through wpfleet-restic
                "restic": sftp.program_setup().rstrip("\n") if backup.sftp
                else "RESTIC=${RESTIC:-restic}",
                "sftp_cases": indent(sftp.open_repo_cases(backup.sftp), "    ")
                if backup.sftp else "",
                "sftp_probe": sftp.OPEN_REPO_PROBE if backup.sftp else "",
                "repo": shlex.quote(backup.repository or ""),
                "repo_label": shlex.quote(backup.repository or "(wpfleet:backupEnv)")}


__all__ = ["BACKUP_BIN", "CONF_DIR", "CLIENT_IN_CONTAINER", "DB_NAME", "DUMP_DONE", "DUMP_IN_CONTAINER", "RESTORE_BIN",
           "STATE_DIR", "common"]
