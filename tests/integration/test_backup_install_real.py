"""The rendered `backup-install` and `backup-site-<name>` scripts, run for real.

Real restic creates (or opens) the repository and real `systemd-analyze` checks the schedule;
box paths are redirected into tmp_path and `systemctl` is a stand-in that records its calls
(no systemd running here).
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from components.config import BackupConfig, SiteConfig
from components.render.backup.restic import install, site
from tests.integration.test_duckdns_real import FAKE_SYSTEMCTL  # the same recording fake

pytestmark = [pytest.mark.integration] + (
    [pytest.mark.skip(reason="restic missing: apt-get install restic")]
    if shutil.which("restic") is None else [])

PASSWORD = "pw-backup-install-Lq0x"


def env(tmp: Path) -> dict[str, str]:
    fake = tmp / "fake"
    fake.mkdir(exist_ok=True)
    (fake / "systemctl").write_text(FAKE_SYSTEMCTL)
    (fake / "systemctl").chmod(0o755)
    return {**os.environ, "WPFLEET_BACKUP_CONF": str(tmp / "conf"),
            "WPFLEET_BACKUP_STATE": str(tmp / "state"), "WPFLEET_BIN_DIR": str(tmp / "bin"),
            "SYSTEMD_UNIT_DIR": str(tmp / "units"), "SYSTEMCTL": str(fake / "systemctl"),
            "RESTIC_CACHE_DIR": str(tmp / "cache")}


def run(text: str, tmp: Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", text], input=stdin, capture_output=True, text=True,
                          env=env(tmp), timeout=120)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_install_creates_the_repository_stores_secrets_0600_and_is_idempotent(
        tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    spec = install(BackupConfig(repository=str(repo)))
    secrets = f"{PASSWORD}\nAWS_ACCESS_KEY_ID=AKIA-test\nAWS_SECRET_ACCESS_KEY=s3cr3t=x\n"
    r = run(spec.create, tmp_path, secrets)
    assert r.returncode == 0, r.stderr
    assert f"created the restic repository {repo}" in r.stdout
    assert (repo / "config").exists()
    conf = tmp_path / "conf"
    assert mode(conf) == 0o700
    assert mode(conf / "restic.password") == 0o600
    assert (conf / "restic.password").read_text() == PASSWORD + "\n"
    assert mode(conf / "env") == 0o600
    assert (conf / "env").read_text() == "AWS_ACCESS_KEY_ID=AKIA-test\nAWS_SECRET_ACCESS_KEY=s3cr3t=x\n"
    assert os.access(tmp_path / "bin/wpfleet-backup", os.X_OK)
    assert os.access(tmp_path / "bin/wpfleet-restore", os.X_OK)
    assert sorted(p.name for p in (tmp_path / "units").iterdir()) == [
        "wpfleet-backup-check.service", "wpfleet-backup-check.timer",
        "wpfleet-backup.service", "wpfleet-backup.timer"]
    log = (tmp_path / "fake/systemctl.log").read_text()
    assert "enable --now wpfleet-backup.timer" in log
    assert "enable --now wpfleet-backup-check.timer" in log
    for secret in (PASSWORD, "AKIA-test", "s3cr3t"):
        assert secret not in r.stdout + r.stderr

    again = run(spec.create, tmp_path, secrets)
    assert again.returncode == 0, again.stderr
    assert "no change" in again.stdout and "wrote" not in again.stdout
    added = (tmp_path / "fake/systemctl.log").read_text()[len(log):].splitlines()
    assert added and all(line.startswith("is-enabled") for line in added)  # no reload/enable

    # backupEnv emptied: the env file goes away
    r = run(spec.create, tmp_path, PASSWORD + "\n")
    assert r.returncode == 0 and not (conf / "env").exists()

    # a password that does not open the existing repository fails the deployment clearly
    r = run(spec.create, tmp_path, "another-password\n")
    assert r.returncode != 0
    assert "wrong password" in r.stderr and "wpfleet:resticPassword" in r.stderr

    # removing wpfleet:backup: timers off, programs and secrets gone, snapshots kept
    r = run(spec.delete or "", tmp_path)
    assert r.returncode == 0, r.stderr
    assert not (conf / "restic.password").exists() and not (tmp_path / "bin/wpfleet-backup").exists()
    assert not list((tmp_path / "units").iterdir())
    assert (repo / "config").exists()
    assert "disable --now wpfleet-backup.timer" in (tmp_path / "fake/systemctl.log").read_text()


def test_install_refuses_missing_password_bad_env_and_bad_schedule(tmp_path: Path) -> None:
    spec = install(BackupConfig(repository=str(tmp_path / "repo")))
    r = run(spec.create, tmp_path, "")
    assert r.returncode != 0 and "wpfleet:resticPassword" in r.stderr
    r = run(spec.create, tmp_path, f"{PASSWORD}\nnot an assignment\n")
    assert r.returncode != 0 and "wpfleet:backupEnv" in r.stderr
    assert not (tmp_path / "conf/restic.password").exists()  # nothing written
    # passes the config's character check but is no calendar: systemd-analyze says so
    bad = install(BackupConfig(repository=str(tmp_path / "repo"), schedule="every-day"))
    r = run(bad.create, tmp_path, PASSWORD + "\n")
    assert r.returncode != 0 and "'every-day' is not a systemd calendar expression" in r.stderr


def test_site_entry_is_added_and_removed_without_touching_snapshots(tmp_path: Path) -> None:
    spec = site(SiteConfig(name="blog", domain="blog.example.org", port=8082))
    r = run(spec.create, tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "conf/sites/blog").read_text().splitlines()[1:] == [
        "url=https://blog.example.org"]  # what wpfleet-restore --to rewrites
    assert "no change" in run(spec.create, tmp_path).stdout
    r = run(spec.delete or "", tmp_path)
    assert r.returncode == 0 and "its snapshots stay in the repository" in r.stdout
    assert not (tmp_path / "conf/sites/blog").exists()
    assert run(spec.delete or "", tmp_path).returncode == 0  # nothing left: still fine
