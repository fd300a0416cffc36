"""An SFTP backup target for real: a real sshd (internal-sftp) on loopback, real restic, real keys.

`backup-install` generates the box's key, fails naming the public key until it is authorised on
the target, then creates the repository over SFTP through `wpfleet-restic` (the key and the
pinned host key only); a wrong pinned host key is refused. Backup, check, restore and a manual
`wpfleet-restic snapshots` then all go through the same ssh command (the restic shim logs every
call). Box paths are redirected into tmp_path; the target is the same machine (root@127.0.0.1).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from components.backup import public_key
from components.config import BackupConfig, parse
from components.render.backup.restic import install
from tests.integration.backup_env import SKIP, Box, box, file_hashes, mariadb_template
from tests.integration.sshd_env import SshdEnv, require_ssh
from tests.integration.test_backup_install_real import env as install_env
from tests.integration.test_backup_real import mutate, seed

pytestmark = [pytest.mark.integration, SKIP]
__all__ = ["box", "mariadb_template"]  # fixtures

PORT = 22471
PASSWORD = "restic-pw-sftp-5Jq2"


@pytest.fixture
def target(tmp_path: Path) -> Iterator[SshdEnv]:
    """The SFTP target: sshd with only its test client key authorised (not the box's)."""
    require_ssh()
    sshd = SshdEnv(tmp_path / "target", port=PORT)
    sshd.write_config(extra="Subsystem sftp internal-sftp\n")
    sshd.start()
    yield sshd
    sshd.stop()


def host_key(sshd: SshdEnv) -> str:
    return " ".join(Path(f"{sshd.host_key}.pub").read_text().split()[:2])


def backup_config(sshd: SshdEnv, repo: Path, pinned: str) -> BackupConfig:
    """Through the parser, as a user writes it: the URL form with a port, a pasted keyscan line."""
    stack = parse({"box": {"host": "local"}, "backup": {
        "repository": f"sftp://root@127.0.0.1:{sshd.port}/{repo}",
        "sftpHostKey": f"[127.0.0.1]:{sshd.port} {pinned}"}})
    assert stack.backup is not None and stack.backup.sftp is not None
    return stack.backup


def run_install(backup: BackupConfig, tmp: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {**install_env(tmp), "WPFLEET_BACKUP_SSH_KEY": str(tmp / "root-ssh/wpfleet-backup_ed25519"),
           **extra}
    return subprocess.run(["bash", "-c", install(backup).create], input=f"{PASSWORD}\n",
                          capture_output=True, text=True, env=env, timeout=300)


def authorise(sshd: SshdEnv, pub: str) -> None:
    """What docs/backups.md has the user do on the target: one restricted authorized_keys line."""
    with (sshd.dir / "authorized_keys").open("a") as f:
        f.write(f"restrict {pub}\n")


def test_the_box_key_is_authorised_then_the_repository_is_created_over_sftp(
        tmp_path: Path, target: SshdEnv) -> None:
    repo = tmp_path / "nas/restic/box1"
    backup = backup_config(target, repo, host_key(target))
    key = tmp_path / "root-ssh/wpfleet-backup_ed25519"

    first = run_install(backup, tmp_path)
    # the key was made on the box; the target refuses it, and the message carries what to authorise
    assert first.returncode != 0
    pub = Path(f"{key}.pub").read_text().strip()
    assert pub.startswith("ssh-ed25519 ") and pub.endswith("@" + os.uname().nodename)
    assert "refused this box's key" in first.stderr and pub in first.stderr, first.stderr
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    private = key.read_text()
    body = "".join(private.splitlines()[1:-1])
    assert body[:40] not in first.stdout + first.stderr
    assert not repo.exists()
    known = (tmp_path / "conf/known_hosts").read_text()
    assert known == f"wpfleet-backup-target {host_key(target)}\n"

    authorise(target, pub)
    second = run_install(backup, tmp_path)
    assert second.returncode == 0, second.stderr
    assert "created the restic repository" in second.stdout
    assert (repo / "config").is_file()  # on the target, written through SFTP
    assert public_key(second.stdout) == pub  # the stack output backupSshKeys
    assert key.read_text() == private  # made once

    third = run_install(backup, tmp_path)
    assert third.returncode == 0, third.stderr
    assert "already in place; no change" in third.stdout and public_key(third.stdout) == pub
    assert known == (tmp_path / "conf/known_hosts").read_text()  # ssh added nothing to it


def test_a_target_with_another_host_key_is_refused(tmp_path: Path, target: SshdEnv) -> None:
    other = tmp_path / "other_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    wrong = " ".join(Path(f"{other}.pub").read_text().split()[:2])
    repo = tmp_path / "nas/restic/box1"
    done = run_install(backup_config(target, repo, wrong), tmp_path)
    assert done.returncode != 0
    assert "did not present the host key pinned in backup.sftpHostKey" in done.stderr, done.stderr
    assert f"ssh-keyscan -p {PORT} -t ssh-ed25519 127.0.0.1" in done.stderr
    # even an authorised key does not get past a wrong host key
    authorise(target, Path(tmp_path / "root-ssh/wpfleet-backup_ed25519.pub").read_text().strip())
    again = run_install(backup_config(target, repo, wrong), tmp_path)
    assert again.returncode != 0 and "did not present the host key" in again.stderr
    assert not repo.exists()


def test_backup_check_restore_and_a_manual_call_all_go_through_the_pinned_ssh(
        box: Box, target: SshdEnv) -> None:
    box.add_site("blog")
    seed(box, "blog")
    repo = box.root / "nas/restic/box1"
    backup = backup_config(target, repo, host_key(target))
    key = box.root / "root-ssh/wpfleet-backup_ed25519"
    paths = {"WPFLEET_BACKUP_CONF": str(box.conf), "WPFLEET_BIN_DIR": str(box.root / "bin"),
             "RESTIC": str(box.root / "bin/restic"), "WPFLEET_FAKE": str(box.fake)}
    assert run_install(backup, box.root, **paths).returncode != 0  # not authorised yet
    authorise(target, Path(f"{key}.pub").read_text().strip())
    done = run_install(backup, box.root, **paths)
    assert done.returncode == 0, done.stderr
    via = {"WPFLEET_RESTIC": str(box.root / "bin/wpfleet-restic"), "WPFLEET_BACKUP_SSH_KEY": str(key)}

    r = box.run("wpfleet-backup", **via)
    assert r.returncode == 0, r.stderr
    assert box.status("blog")["result"] == "ok"
    live_db, live_files = box.dbs["blog"].fingerprint(), file_hashes(box.html("blog"))
    r = box.run("wpfleet-backup", "--check", **via)
    assert r.returncode == 0 and "restic check of" in r.stdout, r.stderr
    mutate(box, "blog")
    r = box.run("wpfleet-restore", "blog", **via)
    assert r.returncode == 0, r.stderr
    assert box.dbs["blog"].fingerprint() == live_db
    assert file_hashes(box.html("blog")) == live_files

    # by hand, as docs/backups.md shows: the wrapper knows the repository and password file
    manual = subprocess.run([str(box.root / "bin/wpfleet-restic"), "snapshots", "--tag", "site=blog"],
                            capture_output=True, text=True, timeout=120, env={
                                **os.environ, "WPFLEET_BACKUP_CONF": str(box.conf),
                                "WPFLEET_BACKUP_SSH_KEY": str(key), "WPFLEET_FAKE": str(box.fake),
                                "WPFLEET_RESTIC_BIN": str(box.root / "bin/restic"),
                                "RESTIC_CACHE_DIR": str(box.root / "cache")})
    assert manual.returncode == 0, manual.stderr
    assert "site=blog" in manual.stdout

    # every restic call of install, backup, check, restore and by hand used the box's key and
    # the pinned host key, never root's own ssh setup
    calls = (box.fake / "restic.log").read_text().splitlines()
    commands = {ln.split(" -s sftp ", 1)[1].split()[0] for ln in calls if " -s sftp " in ln}
    assert {"init", "backup", "forget", "check", "snapshots", "dump", "restore"} <= commands
    expected = (f"-o sftp.command=ssh -F /dev/null -i {key} -o IdentitiesOnly=yes -o BatchMode=yes "
                f"-o StrictHostKeyChecking=yes -o UserKnownHostsFile={box.conf}/known_hosts")
    assert calls and all(expected in ln for ln in calls), [ln for ln in calls if expected not in ln]
