"""wpfleet:backup validation and the rendered backup programs and systemd units, as text."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from components.config import BackupConfig, ConfigError, SiteConfig, parse
from components.render import plan
from components.render.backup.programs import BACKUP_BIN, DUMP_IN_CONTAINER
from components.render.backup.restic import home_url, site_file, units
from components.render.backup.wpfleet_backup import backup_program
from components.render.backup.wpfleet_restore import restore_program
from components.render.wordpress.cli import wp_function
from tests.harness import BASE_CONFIG


def stack(backup: Any) -> dict[str, Any]:
    return {**BASE_CONFIG, "backup": backup}


def problems(backup: Any) -> list[str]:
    with pytest.raises(ConfigError) as e:
        parse(stack(backup))
    return e.value.problems


def test_defaults() -> None:
    b = parse(stack({"repository": "/mnt/backup/restic"})).backup
    assert b == BackupConfig(repository="/mnt/backup/restic", schedule="daily", keep_daily=7,
                             keep_weekly=4, keep_monthly=6, check_schedule="weekly")
    assert parse(BASE_CONFIG).backup is None


@pytest.mark.parametrize("backup, key, fragment", [
    ({"repository": "relative/path"}, "backup.repository", "must be a restic repository"),
    ({"repository": "/srv/x; rm -rf /"}, "backup.repository", "absolute path of letters"),
    ({"repository": "ftp://host/x"}, "backup.repository", "must be a restic repository"),
    ({"repository": "rest:https://user:hunter2@host/"}, "backup.repository", "backupEnv"),
    ({"repository": "/srv/r", "schedule": "daily\nExecStart=/bin/sh"}, "backup.schedule",
     "systemd calendar"),
    ({"repository": "/srv/r", "keepDaily": -1}, "backup.keepDaily", "between 0 and 1000"),
    ({"repository": "/srv/r", "keepWeekly": "4"}, "backup.keepWeekly", "whole number"),
    ({"repository": "/srv/r", "checkReadDataSubset": "lots"}, "backup.checkReadDataSubset",
     "percentage"),
    ({"repository": "/srv/r", "keep": 3}, "backup.keep", "not a known setting"),
    ("/srv/r", "backup", "must be a mapping"),
])
def test_bad_values_are_named(backup: Any, key: str, fragment: str) -> None:
    found = problems(backup)
    assert any(p.startswith(f"wpfleet:{key}") and fragment in p for p in found), found
    assert all("hunter2" not in p for p in found)  # a password in a URL is never echoed


def test_all_zero_retention_is_refused() -> None:
    found = problems({"repository": "/srv/r", "keepDaily": 0, "keepWeekly": 0,
                      "keepMonthly": 0})
    assert any("keep at least one snapshot" in p for p in found)


def test_dump_is_consistent_and_of_the_site_database_only() -> None:
    assert "--single-transaction" in DUMP_IN_CONTAINER
    assert DUMP_IN_CONTAINER.endswith(" wordpress")
    assert "--all-databases" not in DUMP_IN_CONTAINER and "-p" not in DUMP_IN_CONTAINER.split()
    # the password is read inside the container, from the mounted secret file (single-quoted
    # on the box): tests/render/wordpress/test_site_secrets.py, tests/e2e/images
    program = backup_program(BackupConfig(repository="/srv/r"))
    assert ("sh -c 'MYSQL_PWD=$(cat /run/secrets/wpfleet/MARIADB_ROOT_PASSWORD 2>/dev/null"
            in program)
    assert "exec mariadb-dump -uroot" in program
    assert "restic backup --json --quiet --stdin --stdin-filename" in program.replace(
        '"$RESTIC"', "restic")


def test_programs_are_valid_bash_and_carry_the_retention() -> None:
    b = BackupConfig(repository="sftp:backup@nas.example.org:/srv/restic", keep_daily=3,
                     keep_weekly=0, keep_monthly=12, check_read_data_subset="5%")
    backup, restore = backup_program(b), restore_program(b)
    for text in (backup, restore):
        assert text.startswith("#!/bin/bash\nset -euo pipefail\n")
        subprocess.run(["bash", "-n"], input=text, text=True, check=True)
        assert "export RESTIC_REPOSITORY=sftp:backup@nas.example.org:/srv/restic" in text
    assert "--keep-daily 3 --keep-monthly 12" in backup and "--keep-weekly" not in backup
    assert "check --read-data-subset 5%" in backup.replace('"$RESTIC" ', "")


def test_render_cli_plan_holds_programs_units_and_site_entries() -> None:
    p = plan(parse(stack({"repository": "/srv/r"})))
    for path in (BACKUP_BIN, "/usr/local/sbin/wpfleet-restore",
                 "/etc/systemd/system/wpfleet-backup.timer",
                 "/etc/wpfleet/backup/sites/blog", "/etc/wpfleet/backup/sites/shop"):
        assert path in p.files, path
    assert not any("password" in path for path in p.files)
    names = [c.name for c in p.commands]
    assert names[-3:] == ["backup-install", "backup-site-blog", "backup-site-shop"]


def test_timers_use_the_configured_calendars() -> None:
    u = units(BackupConfig(repository="/srv/r", schedule="*-*-* 03:30:00",
                           check_schedule="Sun *-*-* 05:00:00"))
    assert "OnCalendar=*-*-* 03:30:00\nPersistent=true" in u["/etc/systemd/system/wpfleet-backup.timer"]
    assert "OnCalendar=Sun *-*-* 05:00:00" in u["/etc/systemd/system/wpfleet-backup-check.timer"]
    assert f"ExecStart={BACKUP_BIN} --check" in u["/etc/systemd/system/wpfleet-backup-check.service"]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                    reason="systemd-analyze missing: apt-get install systemd")
def test_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    program = tmp_path / "wpfleet-backup"  # ExecStart must exist for verify
    program.write_text(backup_program(BackupConfig(repository="/srv/r")))
    program.chmod(0o755)
    written = []
    for path, text in units(BackupConfig(repository="/srv/r", schedule="Mon..Fri 02:00")).items():
        unit = tmp_path / path.rsplit("/", 1)[1]
        unit.write_text(text.replace(BACKUP_BIN, str(program)))
        written.append(str(unit))
    r = subprocess.run(["systemd-analyze", "verify", "--man=no", *written], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    # and a broken calendar is caught by the same check (so the check can fail)
    bad = tmp_path / "bad.timer"
    bad.write_text(units(BackupConfig(repository="/srv/r", schedule="nonsense"))[
        "/etc/systemd/system/wpfleet-backup.timer"])
    (tmp_path / "bad.service").write_text("[Service]\nType=oneshot\nExecStart=/bin/true\n")
    r = subprocess.run(["systemd-analyze", "verify", "--man=no", str(bad)], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode != 0 and "calendar" in r.stderr


def test_site_files_carry_the_url_restore_rewrites_and_restore_embeds_wp_cli() -> None:
    assert site_file(SiteConfig(name="blog", domain="blog.example.org", port=8082)).endswith(
        "\nurl=https://blog.example.org\n")
    assert home_url(SiteConfig(name="x", domain="x.example.org", port=8082, tls=False)) == \
        "http://x.example.org"
    with pytest.raises(ValueError, match="not a host name"):
        home_url(SiteConfig(name="x", domain="x.org'; rm -rf /", port=8082))
    restore = restore_program(BackupConfig(repository="/srv/r"))
    assert wp_function() in restore  # the shared function, not a copy of it
    assert ('wpfleet_wp "$target" search-replace "$from" "$new_url" --all-tables \\\n'
            "      --skip-columns=guid --report-changed-only </dev/null") in restore
    p = plan(parse(stack({"repository": "/srv/r"})))
    assert "url=https://" in p.files["/etc/wpfleet/backup/sites/blog"]


RESTIC_STACK_TRACE = """\
Save(<lock/55425297c8>) returned error, retrying after 552.330144ms: open /r/locks/x-tmp-1: read-only file system
open /r/locks/x-tmp-9: read-only file system
github.com/restic/restic/internal/backend/local.(*Local).Save
\tgithub.com/restic/restic/internal/backend/local/local.go:153
main.lockRepo
\tgithub.com/restic/restic/cmd/restic/lock.go:23
runtime.goexit
\truntime/asm_amd64.s:1594
unable to create lock in backend
"""


@pytest.mark.parametrize("said, words", [
    # restic 0.14 on a read-only repository: the cause and the summary, no Go stack frames
    (RESTIC_STACK_TRACE, "open /r/locks/x-tmp-9: read-only file system; unable to create lock in backend"),
    # only retries so far (write_check gave up): the last retry's cause
    ("Save(<lock/1>) returned error, retrying after 1.08s: open /r/locks/a: read-only file system\n",
     "open /r/locks/a: read-only file system"),
    # a password in a URL never comes out
    ("Fatal: unable to open repository at rest:https://backup:s3cr3t@nas/r: 500\n",
     "Fatal: unable to open repository at rest:https://backup:***@nas/r: 500"),
    ("", "(restic said nothing)"),
])
def test_restic_words_keep_what_restic_said_on_one_line(tmp_path: Path, said: str, words: str) -> None:
    """Issue 20 item 12 (the programs for real: tests/integration/test_backup_real.py)."""
    program = backup_program(BackupConfig(repository="/r"))
    func = program[program.index("restic_words() {"):]
    func = func[:func.index("\n}\n") + 3]
    (tmp_path / "err").write_text(said)
    out = subprocess.run(["bash", "-c", f'set -euo pipefail\n{func}\nrestic_words "$1"', "_",
                          str(tmp_path / "err")], capture_output=True, text=True, check=True)
    assert out.stdout == words + "\n"
