"""Rules for `wpfleet:backup` (restic backups of every site; docs/backups.md)."""

from __future__ import annotations

import re
from typing import Any

from components.config.checks import Problems, take, unknown_keys
from components.config.model import BACKUP_ENV_KEY, BackupConfig

NS = "wpfleet"
# restic's backends: a local path on the box, or one of these URL schemes
REPOSITORY_SCHEMES = ("sftp:", "rest:", "s3:", "b2:", "azure:", "gs:", "swift:", "rclone:")
LOCAL_REPOSITORY_RE = re.compile(r"^/[A-Za-z0-9._/@+-]*$")
REMOTE_REPOSITORY_RE = re.compile(r"^[a-z0-9]+:[A-Za-z0-9._~:/@%+=,-]+$")
# user:password@ inside a URL: that would be a secret in plaintext config
URL_PASSWORD_RE = re.compile(r"//[^/@:]+:[^/@]+@")
# systemd calendar expressions ("daily", "Mon *-*-* 03:00", "*-*-* 02,14:30:00"); the box
# re-checks the value with `systemd-analyze calendar` before enabling the timer
CALENDAR_RE = re.compile(r"^[A-Za-z0-9*:,./~][A-Za-z0-9*:,./~ -]{0,99}$")
READ_DATA_SUBSET_RE = re.compile(r"^(?:\d{1,3}(?:\.\d{1,3})?%|\d{1,4}/\d{1,4}|\d{1,6}[KMGT])$")


def parse(p: Problems, raw: Any) -> BackupConfig | None:
    k = f"{NS}:backup"
    if not isinstance(raw, dict):
        p.add(k, raw, "must be a mapping with at least repository (see docs/backups.md)")
        return None
    unknown_keys(p, k, raw, {"repository", "schedule", "keepDaily", "keepWeekly", "keepMonthly",
                             "checkSchedule", "checkReadDataSubset"})
    before = len(p.items)
    repo = take(p, k, raw, "repository", str)
    if repo is not None:
        _check_repository(p, f"{k}.repository", repo)
    schedules = {f: take(p, k, raw, f, str, default)
                 for f, default in (("schedule", "daily"), ("checkSchedule", "weekly"))}
    for f, value in schedules.items():
        if not CALENDAR_RE.match(value):
            p.add(f"{k}.{f}", value, "must be a systemd calendar expression such as daily, "
                  "weekly or \"*-*-* 03:30:00\" (see `man systemd.time`)")
    keep = {f: take(p, k, raw, f, int, default)
            for f, default in (("keepDaily", 7), ("keepWeekly", 4), ("keepMonthly", 6))}
    for f, n in keep.items():
        if not 0 <= n <= 1000:
            p.add(f"{k}.{f}", n, "must be between 0 and 1000 (snapshots to keep)")
    if keep and all(n == 0 for n in keep.values()):
        p.items.append(f"{k}: keepDaily, keepWeekly and keepMonthly are all 0; keep at least "
                       "one snapshot (e.g. keepDaily: 7)")
    subset = take(p, k, raw, "checkReadDataSubset", str)
    if subset is not None and not READ_DATA_SUBSET_RE.match(subset):
        p.add(f"{k}.checkReadDataSubset", subset, "must be a percentage (\"5%\"), a fraction "
              "(\"1/10\") or a size (\"500M\") as restic check --read-data-subset takes")
    if len(p.items) > before:
        return None
    return BackupConfig(repository=repo, schedule=schedules["schedule"],
                        keep_daily=keep["keepDaily"], keep_weekly=keep["keepWeekly"],
                        keep_monthly=keep["keepMonthly"],
                        check_schedule=schedules["checkSchedule"],
                        check_read_data_subset=subset)


def _check_repository(p: Problems, key: str, repo: str) -> None:
    if URL_PASSWORD_RE.search(repo):
        p.add(key, "<hidden: it holds a password>", "puts a password in plaintext config; "
              f"remove repository and set the whole URL as a secret: `pulumi config set --secret "
              f"--path '{NS}:{BACKUP_ENV_KEY}.RESTIC_REPOSITORY'` (it asks for the URL)")
    elif repo.startswith("/"):
        if not LOCAL_REPOSITORY_RE.match(repo) or "/../" in repo + "/":
            p.add(key, repo, "must be an absolute path of letters, digits and . _ / @ + - "
                  "(a directory on the box, ideally another disk)")
    elif not repo.startswith(REPOSITORY_SCHEMES) or not REMOTE_REPOSITORY_RE.match(repo):
        p.add(key, repo, "must be a restic repository: an absolute path on the box or a URL "
              f"starting with one of {', '.join(REPOSITORY_SCHEMES)} (no spaces or quotes)")
