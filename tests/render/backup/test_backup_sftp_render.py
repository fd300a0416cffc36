"""What lands on a box for an SFTP target with a pinned host key, and per-box backups in the render CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from components.config import BackupConfig, SftpTarget, StackConfig, parse
from components.render.backup import sftp
from components.render.backup.restic import files, install
from tests.fleet_configs import fleet_config
from tests.harness import ROOT
from tests.render.test_render_fleet import SECURE, fleet_secrets, stack_file

TARGET_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAITargetHostKey"
REPO = "sftp://backup@nas.example.org:2222//srv/restic/web2"
PINNED = BackupConfig(repository=REPO, sftp=SftpTarget(user="backup", host="nas.example.org",
                                                       port=2222, host_key=TARGET_KEY))
PLAIN = BackupConfig(repository="sftp:backup@nas.example.org:/srv/restic/web2")


def bash_n(text: str) -> None:
    done = subprocess.run(["bash", "-n"], input=text, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_every_script_and_program_is_valid_bash() -> None:
    spec = install(PINNED)
    for text in (spec.create, spec.delete or "", *files(StackConfig(
            box=parse({"box": {"host": "local"}}).box, backup=PINNED)).values()):
        if text.startswith("#!/bin/bash"):
            bash_n(text)


def test_the_wrapper_runs_restic_with_the_box_key_and_the_pinned_host_key_only() -> None:
    wrapper = sftp.wrapper(PINNED.sftp, REPO)  # type: ignore[arg-type]
    assert ('SSH=(ssh -F /dev/null -i "$SSH_KEY" -o IdentitiesOnly=yes -o BatchMode=yes '
            '-o StrictHostKeyChecking=yes -o UserKnownHostsFile="$CONF_DIR"/known_hosts '
            "-o GlobalKnownHostsFile=/dev/null -o HostKeyAlias=wpfleet-backup-target "
            "-o HostKeyAlgorithms=ssh-ed25519 -o ConnectTimeout=30 -o ServerAliveInterval=60 "
            "-p 2222 backup@nas.example.org -s sftp)\n") in wrapper
    assert wrapper.endswith('exec "${WPFLEET_RESTIC_BIN:-restic}" -o "sftp.command=${SSH[*]}" "$@"\n')
    assert f"SSH_KEY=${{WPFLEET_BACKUP_SSH_KEY:-{sftp.SSH_KEY}}}" in wrapper
    assert sftp.known_hosts(PINNED.sftp) == f"wpfleet-backup-target {TARGET_KEY}\n"  # type: ignore[arg-type]


def test_the_install_makes_the_key_on_the_box_and_prints_only_its_public_half() -> None:
    create = install(PINNED).create
    assert "ssh-keygen -q -t ed25519 -N ''" in create
    assert "install -y -q openssh-client" in create  # a box without ssh gets it first
    assert '[ ! -s "$SSH_KEY" ]' in create  # made once, kept afterwards
    # the last line: the public key, read by components/backup.py for the stack output
    assert create.rstrip("\n").splitlines()[-1] == \
        f'echo "$PROG: {sftp.PUBLIC_KEY_LINE}$(cat "$SSH_KEY.pub")"'
    assert 'cat "$SSH_KEY"' not in create  # the private key is never printed
    # the repository is created (or opened) through the wrapper, with the same key
    assert ('WPFLEET_RESTIC="$BIN_DIR"/wpfleet-restic WPFLEET_BACKUP_SSH_KEY="$SSH_KEY" '
            '"$BIN_DIR"/wpfleet-backup --init') in create
    delete = install(PINNED).delete or ""
    assert '"$BIN_DIR"/wpfleet-restic "$CONF_DIR"/known_hosts' in delete
    assert "kept /root/.ssh/wpfleet-backup_ed25519" in delete


@pytest.mark.parametrize("backup", [PLAIN, BackupConfig(repository="/srv/restic")])
def test_without_sftp_host_key_nothing_of_it_is_rendered(backup: BackupConfig) -> None:
    stack = StackConfig(box=parse({"box": {"host": "local"}}).box, backup=backup)
    out = files(stack)
    assert sftp.WRAPPER_BIN not in out and not any(p.endswith("known_hosts") for p in out)
    for text in (install(backup).create, *out.values()):
        assert "wpfleet-restic" not in text and "ssh-keygen" not in text
        assert "sftp.command" not in text


def test_both_programs_call_restic_only_through_the_wrapper() -> None:
    stack = StackConfig(box=parse({"box": {"host": "local"}}).box, backup=PINNED)
    out = files(stack)
    for path in ("/usr/local/sbin/wpfleet-backup", "/usr/local/sbin/wpfleet-restore"):
        text = out[path]
        assert "RESTIC=${WPFLEET_RESTIC:-/usr/local/sbin/wpfleet-restic}" in text
        assert "RESTIC=${RESTIC:-restic}" not in text
        # the two SSH failures a user fixes get their own sentence
        assert "refused this box's key" in text and "did not present the" in text


def per_box(config: dict[str, Any]) -> dict[str, Any]:
    config["backup"] = {"repository": "/mnt/backup/restic"}
    config["boxes"]["web2"]["backup"] = {"repository": REPO, "sftpHostKey": TARGET_KEY}
    config["boxes"]["web3"]["backup"] = {"enabled": False}
    return config


def render(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "components.render", *args], cwd=ROOT,
                          capture_output=True, text=True, check=False, timeout=180)


def test_the_render_writes_each_box_s_own_backup_files(tmp_path: Path) -> None:
    secrets = {**fleet_secrets(), "resticPassword": SECURE, "resticPasswords": {"web2": SECURE}}
    out = tmp_path / "out"
    done = render(str(stack_file(tmp_path, per_box(fleet_config()), **secrets)), str(out))
    assert done.returncode == 0, done.stderr
    assert (out / "web2/usr/local/sbin/wpfleet-restic").is_file()
    assert (out / "web2/etc/wpfleet/backup/known_hosts").read_text() == \
        f"wpfleet-backup-target {TARGET_KEY}\n"
    assert f"export RESTIC_REPOSITORY={REPO}" in \
        (out / "web2/usr/local/sbin/wpfleet-backup").read_text()
    assert "export RESTIC_REPOSITORY=/mnt/backup/restic" in \
        (out / "default/usr/local/sbin/wpfleet-backup").read_text()
    assert not (out / "default/usr/local/sbin/wpfleet-restic").exists()
    assert not (out / "web3/usr/local/sbin").exists()  # web3: enabled: false
    assert "name: web2-backup-install" in (out / "web2/plan/resources.yaml").read_text()


def test_without_secrets_names_each_missing_box_password_and_renders(tmp_path: Path) -> None:
    secrets = {**fleet_secrets(), "resticPasswords": {"web2": SECURE}}  # default: none
    stack = stack_file(tmp_path, per_box(fleet_config()), **secrets)
    refused = render(str(stack), str(tmp_path / "out"))
    assert refused.returncode == 1
    assert "wpfleet:resticPasswords.default: is required by the backups of box default" \
        in refused.stderr
    assert "`pulumi config set --secret --path 'wpfleet:resticPasswords.default'`" in refused.stderr
    done = render("--without-secrets", str(stack), str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    assert any(line.startswith("note: ") and "wpfleet:resticPasswords.default: is required" in line
               for line in done.stderr.splitlines()), done.stderr
    assert (tmp_path / "out/default/usr/local/sbin/wpfleet-backup").is_file()
    assert "name: backup-install" in (tmp_path / "out/default/plan/resources.yaml").read_text()
