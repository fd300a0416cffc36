"""Backups with restic: the install command, one command per site, systemd units (docs/backups.md).

- `backup-install` (one per stack): receives the restic password and the optional extra restic
  environment on stdin, stores them root-only (0600), installs restic if missing, installs
  `wpfleet-backup`/`wpfleet-restore` and the timers, and initialises the repository (or checks
  that the password opens it), so a wrong password fails `pulumi up`, not a night's backup.
- `backup-site-<name>` (one per site): writes /etc/wpfleet/backup/sites/<name>, which puts the
  site in the next backup run. Adding or removing a site touches only its own command; removing
  it stops its backups but never deletes its snapshots.
"""

from __future__ import annotations

import re
import shlex
from textwrap import dedent

from components.config import RESTIC_PASSWORD_KEY, BackupConfig, SiteConfig, StackConfig
from components.render.backup import sftp
from components.render.backup.programs import BACKUP_BIN, CONF_DIR, RESTORE_BIN
from components.render.backup.wpfleet_backup import backup_program
from components.render.backup.wpfleet_restore import restore_program
from components.render.command import BoxCommand, script
from components.render.constants import APT_GET

UNIT_DIR = "/etc/systemd/system"
UNIT = "wpfleet-backup"
CHECK_UNIT = "wpfleet-backup-check"


def units(backup: BackupConfig) -> dict[str, str]:
    """A oneshot service + timer for backups, and the same for `restic check`."""
    def service(description: str, command: str) -> str:
        return dedent(f"""\
            [Unit]
            Description={description}
            Wants=network-online.target docker.service
            After=network-online.target docker.service

            [Service]
            Type=oneshot
            ExecStart={command}
            Nice=10
            IOSchedulingClass=best-effort
            IOSchedulingPriority=7
            """)

    def timer(description: str, calendar: str) -> str:
        return dedent(f"""\
            [Unit]
            Description={description}

            [Timer]
            OnCalendar={calendar}
            Persistent=true
            RandomizedDelaySec=10min

            [Install]
            WantedBy=timers.target
            """)

    return {
        f"{UNIT_DIR}/{UNIT}.service": service("wpfleet: back up every site with restic",
                                              BACKUP_BIN),
        f"{UNIT_DIR}/{UNIT}.timer": timer("wpfleet: site backups", backup.schedule),
        f"{UNIT_DIR}/{CHECK_UNIT}.service": service("wpfleet: check the restic repository",
                                                    f"{BACKUP_BIN} --check"),
        f"{UNIT_DIR}/{CHECK_UNIT}.timer": timer("wpfleet: restic repository check",
                                                backup.check_schedule),
    }


def files(stack: StackConfig) -> dict[str, str]:
    """Every backup file on the box except the secrets (they are only ever sent on stdin)."""
    if stack.backup is None:
        return {}
    out = {**programs(stack.backup), **units(stack.backup)}
    if stack.backup.sftp is not None:
        out[f"{CONF_DIR}/{sftp.KNOWN_HOSTS}"] = sftp.known_hosts(stack.backup.sftp)
    out.update({f"{CONF_DIR}/sites/{s.name}": site_file(s) for s in stack.sites})
    return out


URL_RE = re.compile(r"https?://[a-z0-9]([a-z0-9.-]*[a-z0-9])?")


def home_url(site: SiteConfig) -> str:
    """The site's URL as WordPress writes it into posts (WP_HOME: scheme://domain, no port)."""
    url = f"{'https' if site.tls else 'http'}://{site.domain}"
    if not URL_RE.fullmatch(url):  # the config parser checks domains; a guard for direct callers
        raise ValueError(f"site {site.name!r}: domain {site.domain!r} is not a host name")
    return url


def site_file(site: SiteConfig) -> str:
    """`url=` is what `wpfleet-restore --to` rewrites in a copy (this site as source or target)."""
    return (f"# backed up by wpfleet-backup; written by the backup-site-{site.name} command\n"
            f"url={home_url(site)}\n")


_PATHS = dedent(f"""\
    # paths and tools may be redirected by tests; the defaults are the box's own
    CONF_DIR=${{WPFLEET_BACKUP_CONF:-{CONF_DIR}}}
    BIN_DIR=${{WPFLEET_BIN_DIR:-{BACKUP_BIN.rsplit("/", 1)[0]}}}
    UNIT_DIR=${{SYSTEMD_UNIT_DIR:-{UNIT_DIR}}}
    SYSTEMCTL=${{SYSTEMCTL:-systemctl}}
    RESTIC=${{RESTIC:-restic}}
    changed=0
    # put DEST MODE: write stdin to DEST only if it differs (idempotent, atomic; mktemp is 0600)
    put() {{
      local tmp; tmp=$(mktemp "$1.XXXXXX")
      cat >"$tmp"; chmod "$2" "$tmp"
      if [ -f "$1" ] && cmp -s "$tmp" "$1"; then rm -f "$tmp"; return 0; fi
      mv -f "$tmp" "$1"; echo "$PROG: wrote $1"; changed=1
    }}
    """)


def programs(backup: BackupConfig) -> dict[str, str]:
    """The programs installed in /usr/local/sbin (wpfleet-restic only for a pinned SFTP target)."""
    out = {BACKUP_BIN: backup_program(backup), RESTORE_BIN: restore_program(backup)}
    if backup.sftp is not None and backup.repository is not None:
        out[sftp.WRAPPER_BIN] = sftp.wrapper(backup.sftp, backup.repository)
    return out


def _password_hint(backup: BackupConfig) -> str:
    """The command that sets this box's restic password (box names need no quoting)."""
    if backup.password_key == RESTIC_PASSWORD_KEY:
        return f"pulumi config set --secret wpfleet:{RESTIC_PASSWORD_KEY}"
    return f"pulumi config set --secret --path wpfleet:{backup.password_key}"


def install(backup: BackupConfig) -> BoxCommand:
    """stdin: the restic password on line 1, then `NAME=value` lines of wpfleet:backupEnv."""
    installs = []
    bins = programs(backup)
    for path, content in {**bins, **units(backup)}.items():
        name = path.rsplit("/", 1)[1]
        dest = f'"$BIN_DIR"/{name}' if path in bins else f'"$UNIT_DIR"/{name}'
        mode = "0755" if path in bins else "0644"
        installs.append(f"put {dest} {mode} <<'WPFLEET_EOF'\n{content}WPFLEET_EOF\n")
    if backup.sftp is not None:  # the box's own key and the target's pinned host key
        installs.insert(0, sftp.install_key() + f'put "$CONF_DIR"/{sftp.KNOWN_HOSTS} 0644 '
                        f"<<'WPFLEET_EOF'\n{sftp.known_hosts(backup.sftp)}WPFLEET_EOF\n")
    timers = f"{UNIT}.timer {CHECK_UNIT}.timer"
    body = "PROG=backup-install\n" + _PATHS + dedent("""\
        IFS= read -r password || true
        if [ -z "$password" ]; then
          echo "$PROG: no restic password on stdin: set it with" \\
            "'%(password_hint)s' (it asks for it)" >&2
          exit 1
        fi
        extra=$(cat)
        while IFS= read -r line; do
          [ -z "$line" ] && continue
          [[ $line =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || {
            echo "$PROG: a wpfleet:backupEnv entry is not NAME=value (names: letters, digits, _)" >&2
            exit 1; }
        done <<<"$extra"
        for c in %(calendars)s; do
          if command -v systemd-analyze >/dev/null \\
              && ! systemd-analyze calendar "$c" >/dev/null 2>&1; then
            echo "$PROG: wpfleet:backup schedule '$c' is not a systemd calendar expression" \\
              "(try: systemd-analyze calendar '$c')" >&2
            exit 1
          fi
        done
        if ! command -v "$RESTIC" >/dev/null; then
          apt_install() {
            DEBIAN_FRONTEND=noninteractive %(apt)s install -y -q restic
          }
          apt_install || { DEBIAN_FRONTEND=noninteractive %(apt)s update -q && apt_install; }
          echo "$PROG: installed restic"; changed=1
        fi
        mkdir -p -m 0700 "$CONF_DIR"; chmod 0700 "$CONF_DIR"
        mkdir -p "$CONF_DIR/sites" "$BIN_DIR" "$UNIT_DIR"
        # here-strings, not echo | ...: the secrets stay off every command line
        put "$CONF_DIR/restic.password" 0600 <<<"$password"
        if [ -n "$extra" ]; then
          put "$CONF_DIR/env" 0600 <<<"$extra"
        elif [ -e "$CONF_DIR/env" ]; then
          rm -f "$CONF_DIR/env"; echo "$PROG: removed $CONF_DIR/env"; changed=1
        fi
        """) % {"calendars": " ".join(shlex.quote(c) for c in
                                      (backup.schedule, backup.check_schedule)),
                "apt": APT_GET, "password_hint": _password_hint(backup)} \
        + "".join(installs) + dedent("""\
        # the repository: created when missing; a wrong password fails here, not at night
        out=$(WPFLEET_BACKUP_CONF="$CONF_DIR" RESTIC="$RESTIC" %(init_env)s"$BIN_DIR"/wpfleet-backup --init) \\
          || exit 1
        case "$out" in *created*) echo "${out//wpfleet-backup:/$PROG:}"; changed=1 ;; esac
        if [ "$changed" = 1 ]; then "$SYSTEMCTL" daemon-reload; fi
        for t in %(timers)s; do
          if ! "$SYSTEMCTL" is-enabled --quiet "$t" 2>/dev/null; then
            "$SYSTEMCTL" enable --now "$t"; echo "$PROG: enabled $t"; changed=1
          fi
        done
        [ "$changed" = 1 ] || echo "$PROG: restic, programs, secrets and timers already in place; no change"
        """) % {"timers": timers, "init_env": 'WPFLEET_RESTIC="$BIN_DIR"/wpfleet-restic '
                'WPFLEET_BACKUP_SSH_KEY="$SSH_KEY" ' if backup.sftp else ""} + (
        # the last line, every run: the stack output backupSshKeys (components/backup.py)
        f'echo "$PROG: {sftp.PUBLIC_KEY_LINE}$(cat "$SSH_KEY.pub")"\n' if backup.sftp else "")
    delete = "PROG=backup-install\n" + _PATHS + dedent("""\
        # wpfleet:backup removed: stop the timers, remove programs, units and secrets.
        # The repository and its snapshots are NOT touched (docs/backups.md).
        for t in %(timers)s; do
          if "$SYSTEMCTL" is-enabled --quiet "$t" 2>/dev/null; then
            "$SYSTEMCTL" disable --now "$t"; echo "$PROG: disabled $t"
          fi
        done
        for f in "$UNIT_DIR"/%(unit)s.service "$UNIT_DIR"/%(unit)s.timer \\
                 "$UNIT_DIR"/%(check)s.service "$UNIT_DIR"/%(check)s.timer \\
                 "$BIN_DIR"/wpfleet-backup "$BIN_DIR"/wpfleet-restore \\
                 "$CONF_DIR"/restic.password "$CONF_DIR"/env%(sftp_files)s; do
          if [ -e "$f" ]; then rm -f "$f"; echo "$PROG: removed $f"; fi
        done
        "$SYSTEMCTL" daemon-reload || true
        echo "$PROG: backups disabled; the repository and its snapshots are kept"
        """) % {"timers": timers, "unit": UNIT, "check": CHECK_UNIT,
                "sftp_files": f' \\\n         "$BIN_DIR"/wpfleet-restic "$CONF_DIR"/{sftp.KNOWN_HOSTS}'
                if backup.sftp else ""} + (
        # the key stays: a replaced install command must not take away an authorised key
        f'echo "$PROG: kept {sftp.SSH_KEY} (authorised on the backup target; remove it '
        'there and here by hand if it is no longer needed)"\n' if backup.sftp else "")
    create = script(body)
    return BoxCommand(name="backup-install", create=create, update=create,
                      delete=script(delete), stdin_secret=RESTIC_PASSWORD_KEY)


def site(s: SiteConfig) -> BoxCommand:
    """Puts one site in the backup runs; removing it keeps its snapshots in the repository."""
    name = shlex.quote(s.name)
    body = (f"PROG=backup-site-{s.name}\n" + _PATHS + dedent(f"""\
        mkdir -p "$CONF_DIR/sites"
        put "$CONF_DIR/sites/"{name} 0644 <<'WPFLEET_EOF'
        """) + site_file(s) + dedent(f"""\
        WPFLEET_EOF
        [ "$changed" = 1 ] || echo "$PROG: {s.name} already in the backup runs; no change"
        """))
    delete = f"PROG=backup-site-{s.name}\n" + _PATHS + dedent(f"""\
        if [ -e "$CONF_DIR/sites/"{name} ]; then
          rm -f "$CONF_DIR/sites/"{name}
          echo "$PROG: {s.name} is no longer backed up; its snapshots stay in the repository"
        fi
        """)
    return BoxCommand(name=f"backup-site-{s.name}", create=script(body), update=script(body),
                      delete=script(delete))


def commands(stack: StackConfig) -> list[BoxCommand]:
    if stack.backup is None:
        return []
    return [install(stack.backup), *(site(s) for s in stack.sites)]


__all__ = ["commands", "files", "install", "site", "units"]
