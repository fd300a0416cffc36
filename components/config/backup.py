"""Rules for `wpfleet:backup` (restic backups of every site; docs/backups.md)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from components.config.checks import (
    HOST_KEY_RE,
    Problems,
    is_ip,
    keyscan_hint,
    normalise_host_key,
    take,
    unknown_keys,
)
from components.config.model import BACKUP_ENV_KEY, BackupConfig, SftpTarget

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
# the parts of an sftp: repository that reach the ssh command wpfleet gives restic
SFTP_USER_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$")
SFTP_HOST_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$")
KEYS = {"enabled", "repository", "schedule", "keepDaily", "keepWeekly", "keepMonthly",
        "checkSchedule", "checkReadDataSubset", "sftpHostKey"}


def parse(p: Problems, raw: Any) -> BackupConfig | None:
    """The backup settings, or None when they are invalid or turned off (`enabled: false`)."""
    k = f"{NS}:backup"
    if not isinstance(raw, dict):
        p.add(k, raw, "must be a mapping with at least repository (see docs/backups.md)")
        return None
    unknown_keys(p, k, raw, KEYS)
    before = len(p.items)
    enabled = take(p, k, raw, "enabled", bool, True)
    repo = take(p, k, raw, "repository", str)
    if repo is not None:
        _check_repository(p, f"{k}.repository", repo)
    host_key = take(p, k, raw, "sftpHostKey", str)
    sftp = _sftp(p, k, repo, normalise_host_key(host_key)) if host_key is not None else None
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
    if len(p.items) > before or not enabled:
        return None
    return BackupConfig(repository=repo, schedule=schedules["schedule"],
                        keep_daily=keep["keepDaily"], keep_weekly=keep["keepWeekly"],
                        keep_monthly=keep["keepMonthly"],
                        check_schedule=schedules["checkSchedule"],
                        check_read_data_subset=subset, sftp=sftp)


def _sftp(p: Problems, k: str, repo: str | None, host_key: str) -> SftpTarget | None:
    """backup.sftpHostKey: the target of an `sftp:` repository, as restic reads its URL."""
    key = f"{k}.sftpHostKey"
    if repo is None or not repo.startswith("sftp:"):
        p.add(key, host_key, f"pins the host key of an sftp: repository, but {k}.repository is "
              f"{'not set' if repo is None else repr(repo)}; set repository to the sftp: URL "
              "(sftp:USER@HOST:/PATH), or remove sftpHostKey")
        return None
    target = _sftp_target(repo)
    if target is None:
        p.add(f"{k}.repository", repo, "is not an sftp: URL wpfleet can connect to: use "
              "sftp:USER@HOST:/PATH or sftp://USER@HOST:PORT//PATH (user: letters, digits, "
              ". _ -; host: a name or an IPv4 address)")
        return None
    user, host, port = target
    hint = keyscan_hint(host, port)
    if host_key.startswith("ssh-rsa "):
        p.add(key, host_key, f"is an ssh-rsa key; pin the target's ed25519 key: `{hint}`")
    elif len([ln for ln in host_key.splitlines() if ln.strip()]) > 1:
        p.add(key, host_key, "holds several lines (ssh-keyscan prints one per key type); keep "
              f"only the ssh-ed25519 one, or paste the output of `{hint}`")
    elif not HOST_KEY_RE.match(host_key):
        p.add(key, host_key, "must be one public host key \"TYPE BASE64\" (e.g. \"ssh-ed25519 "
              f"AAAAC3...\"), nothing else on the line; paste the output of `{hint}`")
    else:
        return SftpTarget(host=host, port=port, user=user, host_key=host_key)
    return None


def _sftp_target(repo: str) -> tuple[str | None, str, int] | None:
    """(user, host, port) of `sftp:[USER@]HOST:PATH` or `sftp://[USER@]HOST[:PORT]/PATH`."""
    if repo.startswith("sftp://"):
        try:
            parts = urlsplit(repo)
            user, host, port, path = parts.username, parts.hostname or "", parts.port, parts.path
        except ValueError:
            return None
        if parts.password is not None or parts.query or parts.fragment:
            return None
        path = path[1:]  # restic: a path after the host is relative unless it starts with //
    else:
        where, colon, path = repo[len("sftp:"):].partition(":")
        user, at, host = where.rpartition("@")
        port = None
        if not colon or (at and not user):
            return None
    user = user or None
    if (user is not None and not SFTP_USER_RE.match(user)) or not SFTP_HOST_RE.match(host) \
            or (host.replace(".", "").isdigit() and not is_ip(host)) \
            or not path or path.startswith("~") or (port is not None and not 1 <= port <= 65535):
        return None
    return user, host, port or 22


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
