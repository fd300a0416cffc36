"""An `sftp:` repository reached with the box's own key and the target's pinned host key.

With `backup.sftpHostKey`, restic never uses root's own SSH setup: `backup-install` generates
an ed25519 key on the box (SSH_KEY, once; the private key never leaves the box), writes the
target's host key to a known_hosts file of its own, and installs `wpfleet-restic`, which runs
restic with `-o sftp.command=ssh ...` using exactly that key and host key. Both programs run
every restic call (init, backup, forget, check, snapshots, dump, restore) through it.
The public key is printed by `backup-install` (PUBLIC_KEY_LINE) and becomes a stack output, so
the user can authorise it on the target.
"""

from __future__ import annotations

import shlex
from textwrap import dedent

from components.config import SftpTarget
from components.render.constants import APT_GET

CONF_DIR = "/etc/wpfleet/backup"  # programs.CONF_DIR
WRAPPER_BIN = "/usr/local/sbin/wpfleet-restic"
SSH_KEY = "/root/.ssh/wpfleet-backup_ed25519"
KNOWN_HOSTS = "known_hosts"  # in CONF_DIR
# the name the pinned key is filed under, whatever the target's host and port
HOST_KEY_ALIAS = "wpfleet-backup-target"
PUBLIC_KEY_LINE = "public key of this box for the backup target: "


def known_hosts(target: SftpTarget) -> str:
    return f"{HOST_KEY_ALIAS} {target.host_key}\n"


def ssh_command(target: SftpTarget, key: str, known: str) -> str:
    """restic's sftp.command: ssh with this key and host key only (no ~/.ssh, no ssh_config).

    restic splits it at blanks, so every part is free of blanks and quotes (the parser checked
    user and host; `key` and `known` are paths checked by the wrapper, or shell variables).
    """
    key_type = target.host_key.split(" ", 1)[0]
    dest = f"{target.user}@{target.host}" if target.user else target.host
    return (f"ssh -F /dev/null -i {key} -o IdentitiesOnly=yes -o BatchMode=yes "
            f"-o StrictHostKeyChecking=yes -o UserKnownHostsFile={known} "
            f"-o GlobalKnownHostsFile=/dev/null -o HostKeyAlias={HOST_KEY_ALIAS} "
            f"-o HostKeyAlgorithms={key_type} -o ConnectTimeout=30 -o ServerAliveInterval=60 "
            f"-p {target.port} {dest} -s sftp")


# `wpfleet-restic --ssh-check`: ssh's own words on connecting. restic may exit before it relays
# what ssh said ("unable to start the sftp session" only), so open_repo asks ssh itself.
SSH_CHECK = "--ssh-check"
OPEN_REPO_PROBE = ('[[ $err != *"unable to start the sftp session"* ]] '
                   "|| err+=$'\\n'$(\"$RESTIC\" " + SSH_CHECK + " 2>&1)\n  ")


def wrapper(target: SftpTarget, repository: str) -> str:
    """/usr/local/sbin/wpfleet-restic: restic for this box's SFTP repository, by hand too."""
    command = ssh_command(target, '"$SSH_KEY"', f'"$CONF_DIR"/{KNOWN_HOSTS}')
    return dedent(f"""\
        #!/bin/bash
        set -euo pipefail
        # wpfleet-restic (managed by wpfleet; edits are overwritten): restic with the SFTP
        # target reached by this box's own key and the target's pinned host key (docs/backups.md).
        # By hand: `sudo wpfleet-restic snapshots` (the repository and password of wpfleet:backup).
        CONF_DIR=${{WPFLEET_BACKUP_CONF:-{CONF_DIR}}}
        SSH_KEY=${{WPFLEET_BACKUP_SSH_KEY:-{SSH_KEY}}}
        for path in "$CONF_DIR" "$SSH_KEY"; do
          # restic splits sftp.command at blanks: plain characters only
          [[ $path =~ ^/[A-Za-z0-9._/@+-]+$ ]] \\
            || {{ echo "wpfleet-restic: unusable path: $path" >&2; exit 2; }}
        done
        [ -r "$SSH_KEY" ] || {{ echo "wpfleet-restic: no key at $SSH_KEY: has \\`pulumi up\\`" \\
          "(backup-install) run?" >&2; exit 2; }}
        export RESTIC_REPOSITORY=${{RESTIC_REPOSITORY:-{shlex.quote(repository)}}}
        export RESTIC_PASSWORD_FILE=${{RESTIC_PASSWORD_FILE:-$CONF_DIR/restic.password}}
        export RESTIC_CACHE_DIR=${{RESTIC_CACHE_DIR:-/var/cache/wpfleet/restic}}
        SSH=({command})
        if [ "${{1:-}}" = {SSH_CHECK} ]; then  # what ssh says (open_repo's diagnosis)
          "${{SSH[@]}}" </dev/null >/dev/null && echo "wpfleet-restic: ssh connects"; exit
        fi
        exec "${{WPFLEET_RESTIC_BIN:-restic}}" -o "sftp.command=${{SSH[*]}}" "$@"
        """)


def program_setup() -> str:
    """Replaces `RESTIC=${RESTIC:-restic}` in both programs: restic through the wrapper."""
    return dedent(f"""\
        # every restic call goes through wpfleet-restic: the SFTP target with this box's key
        # and its pinned host key (RESTIC, if set, is the restic the wrapper runs)
        export WPFLEET_RESTIC_BIN=${{RESTIC:-restic}}
        RESTIC=${{WPFLEET_RESTIC:-{WRAPPER_BIN}}}
        SSH_KEY=${{WPFLEET_BACKUP_SSH_KEY:-{SSH_KEY}}}
        """)


def open_repo_cases(target: SftpTarget) -> str:
    """open_repo's words for the two SSH failures a user fixes on the target or in the config."""
    dest = f"{target.user}@{target.host}" if target.user else target.host
    scan = f"ssh-keyscan -p {target.port} -t {target.host_key.split(' ', 1)[0]} {target.host}"
    return dedent(f"""\
        *"Permission denied (publickey"*)
          echo "$PROG: the SFTP target {dest} (port {target.port}) refused this box's key" \\
            "$SSH_KEY: authorise it there (docs/backups.md), then run pulumi up again; the" \\
            "public key: $(cat "$SSH_KEY.pub" 2>/dev/null || echo "missing: run pulumi up")" >&2 ;;
        *"Host key verification failed"*|*"IDENTIFICATION HAS CHANGED"*)
          echo "$PROG: the SFTP target {target.host} (port {target.port}) did not present the" \\
            "host key pinned in backup.sftpHostKey: if the server is the right one, pin its key" \\
            "(the output of: {scan} 2>/dev/null | cut -d' ' -f2-)" >&2 ;;
        """)


def install_key() -> str:
    """backup-install's part: the box's key, made once if missing (it never leaves the box)."""
    return dedent(f"""\
        if ! command -v ssh-keygen >/dev/null || ! command -v ssh >/dev/null; then
          DEBIAN_FRONTEND=noninteractive {APT_GET} install -y -q openssh-client \\
            || {{ DEBIAN_FRONTEND=noninteractive {APT_GET} update -q \\
                  && DEBIAN_FRONTEND=noninteractive {APT_GET} install -y -q openssh-client; }}
          echo "$PROG: installed openssh-client (restic reaches the SFTP target with ssh)"; changed=1
        fi
        SSH_KEY=${{WPFLEET_BACKUP_SSH_KEY:-{SSH_KEY}}}
        if [ ! -s "$SSH_KEY" ]; then
          mkdir -p -m 0700 "${{SSH_KEY%/*}}"
          rm -f "$SSH_KEY.pub"
          ssh-keygen -q -t ed25519 -N '' -C "wpfleet-backup@$(hostname)" -f "$SSH_KEY" </dev/null
          echo "$PROG: generated $SSH_KEY, this box's key for the backup target"; changed=1
        fi
        [ -s "$SSH_KEY.pub" ] || ssh-keygen -y -f "$SSH_KEY" >"$SSH_KEY.pub"
        """)


__all__ = ["HOST_KEY_ALIAS", "KNOWN_HOSTS", "OPEN_REPO_PROBE", "PUBLIC_KEY_LINE", "SSH_CHECK",
           "SSH_KEY", "WRAPPER_BIN",
           "install_key", "known_hosts", "open_repo_cases", "program_setup", "ssh_command",
           "wrapper"]
