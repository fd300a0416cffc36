"""wpfleet-backup / wpfleet-restore for real: MariaDB dumps, a restic repository, restores.

See backup_env.py: real mariadbd per site, real restic, a `docker` stand-in that runs the
dump inside the "container" environment. Data is created, backed up, changed and deleted,
restored, and compared by row counts + CHECKSUM TABLE and by file hashes.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from components.config import BackupConfig
from tests.integration.backup_env import SKIP, Box, box, file_hashes, mariadb_template

pytestmark = [pytest.mark.integration, SKIP]
__all__ = ["box", "mariadb_template"]  # fixtures

PASSWORD = "restic-pw-Zq81-correct-horse"


def seed(b: Box, site: str) -> None:
    db = b.dbs[site]
    db.sql("CREATE TABLE wp_posts (ID BIGINT PRIMARY KEY AUTO_INCREMENT, post_title TEXT, "
           "post_content LONGTEXT, post_date DATETIME) ENGINE=InnoDB;"
           "CREATE TABLE wp_options (option_name VARCHAR(191) PRIMARY KEY, option_value TEXT) "
           "ENGINE=InnoDB;"
           "INSERT INTO wp_options VALUES ('siteurl', 'https://blog.example.org'), "
           "('blogname', 'Blog \\'quoted\\' é ✓');"
           "INSERT INTO wp_posts (post_title, post_content, post_date) "
           "SELECT CONCAT('Post ', seq), REPEAT(CONCAT('Body of post ', seq, '. '), 40), "
           "'2026-01-01' + INTERVAL seq HOUR FROM seq_1_to_500;")
    html = b.html(site)
    (html / "wp-content/uploads/2026/01").mkdir(parents=True)
    (html / "wp-config.php").write_text("<?php // from the image\n")
    (html / "wp-content/uploads/2026/01/photo.jpg").write_bytes(os.urandom(200_000))
    (html / "wp-content/uploads/2026/01/notes.txt").write_text("hello\n" * 1000)
    (html / ".htaccess").write_text("# BEGIN WordPress\n")


def mutate(b: Box, site: str) -> None:
    b.dbs[site].sql("DELETE FROM wp_posts WHERE ID > 400; UPDATE wp_options SET option_value="
                    "'hacked' WHERE option_name='blogname';"
                    "INSERT INTO wp_posts (post_title) VALUES ('spam');"
                    "CREATE TABLE wp_evil (x INT); INSERT INTO wp_evil VALUES (1);")
    html = b.html(site)
    (html / "wp-content/uploads/2026/01/photo.jpg").unlink()
    (html / "wp-content/uploads/2026/01/notes.txt").write_text("defaced\n")
    (html / "wp-content/uploads/shell.php").write_text("<?php system($_GET['c']);\n")


def config(repo: Path, **kw: int) -> BackupConfig:
    return BackupConfig(repository=str(repo), **kw)  # type: ignore[arg-type]


def repository(b: Box, **kw: int) -> Path:
    """The box's backup programs installed for a fresh repository under b.root, which exists."""
    repo = b.root / "repo"
    b.install(config(repo, **kw), PASSWORD)
    b.init_repo(repo, PASSWORD)
    return repo


def backed_up_then_changed(b: Box, site: str = "blog") -> tuple[Path, dict[str, str], dict[str, str]]:
    """A backup of `site`, then a change to it: the repository and the live DB/file state."""
    repo = repository(b)
    assert b.run("wpfleet-backup").returncode == 0
    mutate(b, site)
    return repo, b.dbs[site].fingerprint(), file_hashes(b.html(site))


def snapshots(b: Box, repo: Path, *args: str) -> list[dict[str, object]]:
    out: list[dict[str, object]] = json.loads(b.restic(repo, "snapshots", "--json", *args).stdout)
    return out


def assert_no_secret_on_argv(b: Box) -> None:
    logs = b.logs()
    assert "restic snapshots" in logs or "restic backup" in logs  # the log did record calls
    for secret in (PASSWORD, *(db.root_password for db in b.dbs.values())):
        assert secret not in logs


def test_round_trip_restores_rows_and_files_exactly(box: Box) -> None:
    box.add_site("blog")
    seed(box, "blog")
    repo = repository(box)
    first_db, first_files = box.dbs["blog"].fingerprint(), file_hashes(box.html("blog"))

    # a box in another time zone: restic reads --time as local time, the run tag is UTC
    r = box.run("wpfleet-backup", BACKUP_TIME="2026-03-01 03:00:00", TZ="Europe/Paris")
    assert r.returncode == 0, r.stderr
    assert "blog: backed up" in r.stdout
    assert {datetime.fromisoformat(str(s["time"])) for s in snapshots(box, repo)} == {
        datetime(2026, 3, 1, 3, 0, tzinfo=UTC)}
    status = box.status("blog")
    assert status["result"] == "ok" and status["run"] == "20260301T030000Z"
    assert oct((box.state / "blog.status").stat().st_mode & 0o777) == "0o644"
    tags = sorted(tuple(map(str, s["tags"])) for s in snapshots(box, repo))  # type: ignore[call-overload]
    assert tags == [("site=blog", "db", "run=20260301T030000Z"),
                    ("site=blog", "files", "run=20260301T030000Z")]
    dump = box.restic(repo, "dump", status["db_snapshot"], "/blog-db.sql").stdout
    assert "-- Dump completed" in dump and "CREATE DATABASE" not in dump

    mutate(box, "blog")
    second_db, second_files = box.dbs["blog"].fingerprint(), file_hashes(box.html("blog"))
    assert second_db != first_db and second_files != first_files
    assert box.run("wpfleet-backup", BACKUP_TIME="2026-03-02 03:00:00").returncode == 0
    box.dbs["blog"].sql("DROP TABLE wp_options")  # and then it gets worse

    r = box.run("wpfleet-restore", "blog", "20260301T030000Z")  # a given run
    assert r.returncode == 0, r.stderr
    assert box.dbs["blog"].fingerprint() == first_db  # wp_evil is gone too
    assert file_hashes(box.html("blog")) == first_files  # shell.php removed, photo back
    # the replicas were stopped during the restore and started again
    log = (box.fake / "docker.log").read_text()
    assert "docker stop wpfleet-blog-wp-0" in log and "docker start wpfleet-blog-wp-1" in log
    assert all((box.fake / "containers" / f"wpfleet-blog-wp-{i}" / "running").exists()
               for i in (0, 1))
    # what was live before the restore is kept beside the volume, as this restore's undo
    undos = list((box.html("blog").parent / "before-restore").iterdir())
    assert len(undos) == 1
    prev = undos[0]
    assert (prev / "files/wp-content/uploads/shell.php").exists()
    assert "wp_evil" in (prev / "db.sql").read_text()
    assert "restored=run 20260301T030000Z of blog into blog" in (prev / "restore.info").read_text()

    assert box.run("wpfleet-restore", "blog").returncode == 0  # latest = the second run
    assert box.dbs["blog"].fingerprint() == second_db
    assert file_hashes(box.html("blog")) == second_files
    r = box.run("wpfleet-restore", "blog", status["db_snapshot"])  # by snapshot ID
    assert r.returncode == 0, r.stderr
    assert box.dbs["blog"].fingerprint() == first_db
    listing = box.run("wpfleet-restore", "--list", "blog")
    assert "run=20260301T030000Z" in listing.stdout and "run=20260302T030000Z" in listing.stdout
    assert_no_secret_on_argv(box)


def test_restore_into_a_new_site_name_for_staging(box: Box) -> None:
    box.add_site("blog")
    box.add_site("staging", replicas=1)
    seed(box, "blog")
    repository(box)
    assert box.run("wpfleet-backup", "blog").returncode == 0
    live_db, live_files = box.dbs["blog"].fingerprint(), file_hashes(box.html("blog"))
    (box.html("staging") / "index.php").write_text("staging's own\n")

    r = box.run("wpfleet-restore", "--to", "staging", "blog", "latest")
    assert r.returncode == 0, r.stderr
    assert box.dbs["staging"].fingerprint() == live_db
    assert file_hashes(box.html("staging")) == live_files
    # the source site was not touched, nor stopped
    assert box.dbs["blog"].fingerprint() == live_db
    assert "stop wpfleet-blog" not in (box.fake / "docker.log").read_text()
    # staging's own DB user keeps its grants after DROP/CREATE DATABASE
    grants = box.dbs["staging"].sql("SHOW GRANTS FOR wordpress@localhost")
    assert "`wordpress`.*" in grants
    # blog's URLs rewritten to staging's by wp-cli, run against staging's replica once it is up
    assert "links in staging rewritten from https://blog.example.org (http and https) to " \
        "https://staging.example.org" in r.stdout
    log = (box.fake / "docker.log").read_text().splitlines()
    runs = [line for line in log if line.startswith("docker run ")]
    cli = ("--volumes-from wpfleet-staging-wp-0 --network container:wpfleet-staging-wp-0 "
           "-v {extra} wordpress:cli-2.12.0-php8.3 wp search-replace {old} "
           "https://staging.example.org --all-tables --skip-columns=guid --report-changed-only")
    assert len(runs) == 2 and all("wpfleet-blog" not in line for line in runs)
    for line, old in zip(runs, ("https://blog.example.org", "http://blog.example.org"), strict=True):
        extra = line.split(" -v ")[1].split()[0]
        assert line.endswith(cli.format(extra=extra, old=old)), line
        assert line.startswith("docker run --rm -i --user 33:33 --env-file /run/wpfleet-wp.")
    assert log.index("docker start wpfleet-staging-wp-0") < log.index(runs[0])
    # the DB credentials reach wp-cli through the 0600 env file only, and only staging's
    env = (box.fake / "run-env.log").read_text()
    assert f"WORDPRESS_DB_PASSWORD={box.wp_password('staging')}" in env
    assert box.wp_password("blog") not in env and "PATH=" not in env
    for secret in (box.wp_password("staging"), PASSWORD,
                   *(db.root_password for db in box.dbs.values())):
        assert secret not in "\n".join(log)
    assert not list(Path("/run").glob("wpfleet-wp*"))  # env files removed


def test_restore_under_another_name_says_when_links_cannot_be_rewritten(box: Box) -> None:
    box.add_site("blog", replicas=1)
    box.add_site("staging", replicas=1, domain="staging.example.org")
    seed(box, "blog")
    repository(box)
    assert box.run("wpfleet-backup", "blog").returncode == 0
    live_db = box.dbs["blog"].fingerprint()
    hint = "rewrite them with: wpfleet-wp staging search-replace OLD_URL NEW_URL"

    # wp-cli fails: the copy is in place, the exit is non-zero and names the command to rerun
    r = box.run("wpfleet-restore", "--to", "staging", "blog", WPFLEET_FAKE_RUN_RC="1")
    assert r.returncode != 0
    assert "rewriting https://blog.example.org to https://staging.example.org FAILED" in r.stderr
    assert "run: wpfleet-wp staging search-replace https://blog.example.org " \
        "https://staging.example.org --all-tables --skip-columns=guid" in r.stderr
    assert box.dbs["staging"].fingerprint() == live_db
    assert (box.fake / "containers/wpfleet-staging-wp-0/running").exists()

    # blog removed from the config (no site file) or a url= line that is not a plain URL: no
    # wp-cli run with a guessed or unsafe value, a warning first and a clear exit at the end
    for content in (None, "url=https://blog.example.org;touch /tmp/pwned\n"):
        (box.fake / "docker.log").unlink()
        if content is None:
            (box.conf / "sites/blog").unlink()
        else:
            (box.conf / "sites/blog").write_text(content)
        r = box.run("wpfleet-restore", "--to", "staging", "blog")
        assert r.returncode != 0 and hint in r.stderr
        assert f"warning: no valid url= line in {box.conf}/sites/blog" in r.stderr
        assert box.dbs["staging"].fingerprint() == live_db
        assert "docker run" not in (box.fake / "docker.log").read_text()
    assert not Path("/tmp/pwned").exists()


def test_wrong_password_fails_clearly_and_leaves_the_site_alone(box: Box) -> None:
    box.add_site("blog")
    seed(box, "blog")
    repo, live_db, live_files = backed_up_then_changed(box)
    # a run whose dump was cut short (no "-- Dump completed" line) is refused before any change
    run = "run=20260101T000000Z"
    subprocess.run(["restic", "-r", str(repo), "backup", "--stdin", "--stdin-filename",
                    "blog-db.sql", "--tag", f"site=blog,db,{run}"], input="DROP TABLE wp_posts;\n",
                   text=True, check=True, capture_output=True, env=box.env(
                       RESTIC_PASSWORD_FILE=str(box.conf / "restic.password")))
    subprocess.run(["restic", "-r", str(repo), "backup", "--tag", f"site=blog,files,{run}", "."],
                   cwd=box.html("blog"), check=True, capture_output=True,
                   env=box.env(RESTIC_PASSWORD_FILE=str(box.conf / "restic.password")))
    r = box.run("wpfleet-restore", "blog", "20260101T000000Z")
    assert r.returncode != 0 and "incomplete; nothing was changed" in r.stderr
    assert box.dbs["blog"].fingerprint() == live_db
    (box.conf / "restic.password").write_text("not-the-password\n")

    r = box.run("wpfleet-backup")
    assert r.returncode != 0
    assert "wrong password" in r.stderr and "wpfleet:resticPassword" in r.stderr
    assert box.status("blog")["result"] == "failed"
    r = box.run("wpfleet-restore", "blog")
    assert r.returncode != 0
    assert "wrong password" in r.stderr and "nothing was changed" in r.stderr
    assert box.dbs["blog"].fingerprint() == live_db
    assert file_hashes(box.html("blog")) == live_files
    assert "docker stop" not in (box.fake / "docker.log").read_text()


def test_unreachable_repository_fails_clearly_and_leaves_the_site_alone(box: Box) -> None:
    box.add_site("blog")
    seed(box, "blog")
    # nothing listens on port 1 of this network namespace: ssh (sftp) is refused at once
    box.install(BackupConfig(repository="sftp://nobody@127.0.0.1:1//srv/restic"), PASSWORD)
    live_db = box.dbs["blog"].fingerprint()
    r = box.run("wpfleet-backup", SSH_AUTH_SOCK="")
    assert r.returncode != 0
    assert "cannot reach the restic repository sftp://nobody@127.0.0.1:1//srv/restic" in r.stderr
    assert box.status("blog")["result"] == "failed"
    r = box.run("wpfleet-restore", "blog")
    assert r.returncode != 0 and "nothing was changed" in r.stderr
    assert box.dbs["blog"].fingerprint() == live_db
    assert "docker" not in box.logs()  # the repository is checked before anything else
    # a local repository that was never initialised says so
    box.install(config(box.root / "nowhere"), PASSWORD)
    r = box.run("wpfleet-backup")
    assert r.returncode != 0 and "no restic repository at" in r.stderr


def test_failed_dump_leaves_no_snapshot_and_is_reported(box: Box) -> None:
    box.add_site("blog")
    box.add_site("shop", replicas=1)
    seed(box, "blog")
    seed(box, "shop")
    repo = repository(box)
    # the shop container's root password no longer matches its server: the dump fails
    (box.fake / "containers/wpfleet-shop-db/root_password").write_text("wrong")
    r = box.run("wpfleet-backup")
    assert r.returncode != 0
    assert "shop: FAILED: database dump failed" in r.stderr and "Access denied" in r.stderr
    assert box.status("shop")["result"] == "failed"
    assert box.status("blog")["result"] == "ok"  # one bad site does not stop the others
    assert {t for s in snapshots(box, repo) for t in s["tags"]  # type: ignore[attr-defined]
            if str(t).startswith("site=")} == {"site=blog"}


def test_retention_keeps_exactly_the_configured_snapshots(box: Box) -> None:
    box.add_site("blog", replicas=1)
    box.add_site("old", replicas=1)
    repo = repository(box, keep_daily=3, keep_weekly=2, keep_monthly=2)
    for site in ("blog", "old"):
        (box.html(site) / "index.php").write_text("<?php\n")
    # a site that is later removed from the config: its snapshots must stay untouched
    assert box.run("wpfleet-backup", "old", BACKUP_TIME="2025-06-01 03:00:00").returncode == 0
    runs = ["2026-01-10 03:00:00", "2026-02-10 03:00:00", "2026-03-20 03:00:00",
            "2026-03-25 03:00:00", "2026-03-28 03:00:00", "2026-03-29 03:00:00",
            "2026-03-30 15:00:00"]
    for when in runs:
        r = box.run("wpfleet-backup", "blog", BACKUP_TIME=when)
        assert r.returncode == 0, r.stderr
    # 2026-03-30 is a Monday (ISO week 14); 03-25..03-29 are week 13, 03-20 week 12.
    # daily 3: 03-30, 03-29, 03-28; weekly 2: 03-30 (wk 14), 03-29 (wk 13);
    # monthly 2: 03-30 (March), 02-10 (February). Gone: 03-25, 03-20, 01-10
    expected = ["2026-02-10T03:00:00Z", "2026-03-28T03:00:00Z", "2026-03-29T03:00:00Z",
                "2026-03-30T15:00:00Z"]
    for kind in ("db", "files"):
        kept = sorted(str(s["time"]) for s in snapshots(box, repo, "--tag", f"site=blog,{kind}"))
        assert kept == expected, kind
    assert len(snapshots(box, repo, "--tag", "site=old")) == 2


def test_empty_html_volume_backs_up_the_database_and_skips_the_files(box: Box) -> None:
    box.add_site("blog", replicas=1)
    box.add_site("fresh", replicas=1)  # deployed, WordPress not copied into its volume yet
    seed(box, "blog")
    box.dbs["fresh"].sql("CREATE TABLE wp_options (option_name VARCHAR(191) PRIMARY KEY, "
                         "option_value TEXT); INSERT INTO wp_options VALUES ('siteurl', 'x');")
    repo = repository(box)
    r = box.run("wpfleet-backup", BACKUP_TIME="2026-03-01 03:00:00")
    assert r.returncode == 0, r.stderr
    assert "fresh: database backed up; files skipped (empty volume" in r.stdout
    status = box.status("fresh")
    assert status["result"] == "ok" and status["files"] == "skipped"
    assert "files skipped (empty volume" in status["message"]
    assert box.status("blog")["result"] == "ok" and "files" not in box.status("blog")
    fresh = snapshots(box, repo, "--tag", "site=fresh")
    assert [sorted(map(str, s["tags"])) for s in fresh] == [  # type: ignore[call-overload]
        ["db", "run=20260301T030000Z", "site=fresh"]]
    dump = box.restic(repo, "dump", status["db_snapshot"], "/fresh-db.sql").stdout
    assert "INSERT INTO `wp_options`" in dump and "-- Dump completed" in dump


def test_import_failing_midway_puts_the_previous_site_back(box: Box) -> None:
    box.add_site("blog")
    seed(box, "blog")
    repo = repository(box)
    assert box.run("wpfleet-backup", BACKUP_TIME="2026-03-01 03:00:00").returncode == 0
    good = box.restic(repo, "dump", box.status("blog")["db_snapshot"], "/blog-db.sql").stdout
    mutate(box, "blog")
    live_db, live_files = box.dbs["blog"].fingerprint(), file_hashes(box.html("blog"))
    # a complete-looking dump (last line intact) whose import breaks after the first tables
    cut = good.index("CREATE TABLE `wp_posts`")
    bad = good[:cut] + "INSERT INTO no_such_table VALUES (1);\n" + good[cut:]
    run = "run=20260302T030000Z"
    other = box.root / "other-files"
    other.mkdir()
    (other / "index.php").write_text("<?php // another tree\n")
    env = box.env(RESTIC_PASSWORD_FILE=str(box.conf / "restic.password"))
    subprocess.run(["restic", "-r", str(repo), "backup", "--stdin", "--stdin-filename",
                    "blog-db.sql", "--tag", f"site=blog,db,{run}"], input=bad, text=True,
                   check=True, capture_output=True, env=env)
    subprocess.run(["restic", "-r", str(repo), "backup", "--tag", f"site=blog,files,{run}", "."],
                   cwd=other, check=True, capture_output=True, env=env)

    r = box.run("wpfleet-restore", "blog", "20260302T030000Z")
    assert r.returncode != 0
    assert "no_such_table" in r.stderr  # the import did start and broke midway
    assert ("restore of blog FAILED (importing the database of run 20260302T030000Z FAILED); "
            "its previous database and files are back and its containers started again") in r.stderr
    assert box.dbs["blog"].fingerprint() == live_db  # wp_evil and all: as before the restore
    assert file_hashes(box.html("blog")) == live_files
    assert all((box.fake / "containers" / f"wpfleet-blog-wp-{i}" / "running").exists()
               for i in (0, 1))
    log = (box.fake / "docker.log").read_text()
    assert "docker stop wpfleet-blog-wp-0" in log and "docker start wpfleet-blog-wp-0" in log
    # and a good run still restores afterwards
    assert box.run("wpfleet-restore", "blog", "20260301T030000Z").returncode == 0
    assert "wp_evil" not in box.dbs["blog"].fingerprint()


# `mv` that moves its first source into the volume, then fails (a full disk, say)
FAILING_MV = """#!/bin/bash
if [ "$1" = -t ] && [[ $2 == */wpfleet-blog-html/_data ]] && [[ $3 == */.wpfleet-restore.* ]]; then
  /bin/mv -t "$2" "$3"; echo "mv: cannot move: No space left on device" >&2; exit 1
fi
exec /bin/mv "$@"
"""


def test_file_swap_failing_midway_puts_the_previous_site_back(box: Box) -> None:
    box.add_site("blog")
    seed(box, "blog")
    repo, live_db, live_files = backed_up_then_changed(box)
    shim = box.root / "shim"
    shim.mkdir()
    (shim / "mv").write_text(FAILING_MV)
    (shim / "mv").chmod(0o755)

    r = box.run("wpfleet-restore", "blog", PATH=f"{shim}:{os.environ['PATH']}")
    assert r.returncode != 0
    assert "restore of blog FAILED (moving the restored files into wpfleet-blog-html FAILED); " \
        "its previous database and files are back" in r.stderr
    assert box.dbs["blog"].fingerprint() == live_db  # the imported DB was replaced again
    assert file_hashes(box.html("blog")) == live_files  # no restored file left in the volume
    assert all((box.fake / "containers" / f"wpfleet-blog-wp-{i}" / "running").exists()
               for i in (0, 1))


def undo_dirs(b: Box, site: str = "blog") -> list[Path]:
    return sorted(p for p in (b.html(site).parent / "before-restore").iterdir()
                  if p.is_dir() and p.name[:1].isdigit())


def test_a_restore_that_cannot_go_ahead_leaves_the_earlier_undos_alone(box: Box) -> None:
    """Issue 20 item 11: the DB container stopped (or its dump failing): nothing is touched."""
    box.add_site("blog")
    seed(box, "blog")
    backed_up_then_changed(box)
    assert box.run("wpfleet-restore", "blog").returncode == 0  # an undo of that restore
    undos = box.html("blog").parent / "before-restore"
    kept = file_hashes(undos)
    assert len(kept) >= 5 and any(k.endswith("shell.php") for k in kept)
    mutate(box, "blog")  # the site changed again since: a restore would change it
    live_db, live_files = box.dbs["blog"].fingerprint(), file_hashes(box.html("blog"))

    # the database container was stopped by hand
    (box.fake / "containers/wpfleet-blog-db/running").unlink()
    (box.fake / "docker.log").unlink()
    r = box.run("wpfleet-restore", "blog")
    assert r.returncode != 0 and "nothing was changed" in r.stderr
    assert file_hashes(undos) == kept  # the previous undo, path for path
    assert "the database of blog (wpfleet-blog-db) does not answer (Error: container " \
        "wpfleet-blog-db is not running): start it (docker start wpfleet-blog-db) and try " \
        "again; nothing was changed" in r.stderr
    assert "docker stop" not in (box.fake / "docker.log").read_text()  # replicas never stopped
    assert box.dbs["blog"].fingerprint() == live_db
    assert file_hashes(box.html("blog")) == live_files

    # it answers, but the dump of the current database fails: this run's own undo goes, the
    # earlier one stays, the replicas are started again
    (box.fake / "containers/wpfleet-blog-db/running").touch()
    dump = box.fake / "in-container/mariadb-dump"
    dump.write_text("#!/bin/sh\necho 'mariadb-dump: Got error: 2013: Lost connection' >&2\nexit 2\n")
    r = box.run("wpfleet-restore", "blog")
    assert r.returncode != 0
    assert "cannot dump the current database of blog first (mariadb-dump: Got error: 2013: " \
        "Lost connection ); nothing was changed" in r.stderr
    assert file_hashes(undos) == kept
    assert all((box.fake / "containers" / f"wpfleet-blog-wp-{i}" / "running").exists()
               for i in (0, 1))
    assert box.dbs["blog"].fingerprint() == live_db
    assert file_hashes(box.html("blog")) == live_files


def test_each_restore_keeps_its_own_undo_and_the_last_three_stay(box: Box) -> None:
    """Issue 20 item 11: one undo per restore (timestamped), the newest UNDO_KEEP kept."""
    from components.render.backup.wpfleet_restore import UNDO_KEEP

    box.add_site("blog", replicas=1)
    seed(box, "blog")
    repository(box)
    assert box.run("wpfleet-backup", BACKUP_TIME="2026-03-01 03:00:00").returncode == 0
    # an undo left by an earlier wpfleet (before-restore/db.sql and files/): never touched
    legacy = box.html("blog").parent / "before-restore"
    (legacy / "files").mkdir(parents=True)
    (legacy / "db.sql").write_text("-- the previous layout\n")
    (legacy / "files/index.php").write_text("old\n")
    states = []
    for i in range(UNDO_KEEP + 2):
        box.dbs["blog"].sql(f"INSERT INTO wp_options VALUES ('marker', 'state {i}') "
                            f"ON DUPLICATE KEY UPDATE option_value='state {i}'")
        (box.html("blog") / "marker.txt").write_text(f"state {i}\n")
        states.append(f"state {i}")
        r = box.run("wpfleet-restore", "blog")
        assert r.returncode == 0, r.stderr
    undos = undo_dirs(box)
    assert len(undos) == UNDO_KEEP
    # the newest undos, in order: each holds what was live before its own restore
    for undo, state in zip(undos, states[-UNDO_KEEP:], strict=True):
        assert f"'marker','{state}'" in (undo / "db.sql").read_text()
        assert (undo / "files/marker.txt").read_text() == f"{state}\n"
        assert "restored=run 20260301T030000Z of blog into blog" in (undo / "restore.info").read_text()
    assert "removed the undo" in r.stdout
    assert (legacy / "db.sql").read_text() == "-- the previous layout\n"
    assert (legacy / "files/index.php").exists()


# --- issue 20 item 12: a repository that cannot be written ------------------------------------

def run_with_read_only(b: Box, repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The program in a private mount namespace where `repo` is a read-only bind mount of itself
    (as an NFS export mounted ro, or a backup disk remounted ro after errors, would be)."""
    return subprocess.run(
        ["unshare", "-m", "sh", "-c", 'mount --bind -o ro "$0" "$0" && exec "$@"', str(repo),
         str(b.root / "bin" / args[0]), *args[1:]],
        capture_output=True, text=True, env=b.env(), timeout=300)


def test_read_only_repository_fails_fast_in_restics_words(box: Box) -> None:
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("needs root and unshare (util-linux) for a read-only bind mount")
    box.add_site("blog")
    seed(box, "blog")
    repo = repository(box)
    before = snapshots(box, repo)
    t0 = time.monotonic()
    r = run_with_read_only(box, repo, "wpfleet-backup")
    took = time.monotonic() - t0
    assert r.returncode != 0
    assert f"cannot back up to the restic repository {repo}: cannot write to it: open " \
        f"{repo}/locks/" in r.stderr and "read-only file system" in r.stderr, r.stderr
    assert took < 20, f"took {took:.0f} s (restic alone retries for ~40 s)"
    status = box.status("blog")
    assert status["result"] == "failed"
    assert status["message"].startswith(f"repository {repo}: cannot write to it: open ")
    assert "read-only file system" in status["message"]
    assert "docker exec" not in box.logs()  # failed before any dump
    assert snapshots(box, repo) == before
    # `--check` says the same instead of retrying
    r = run_with_read_only(box, repo, "wpfleet-backup", "--check")
    assert r.returncode != 0 and "read-only file system" in r.stderr
    assert "read-only file system" in (box.state / "check.status").read_text()


def test_locked_repository_fails_fast_naming_the_lock(box: Box) -> None:
    box.add_site("blog")
    seed(box, "blog")
    repo = repository(box)
    # a live exclusive lock: `restic key passwd` holds one while it waits for the new password
    # on its stdin (never given: the key is not changed)
    holder = subprocess.Popen(
        ["restic", "-r", str(repo), "key", "passwd"], stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**box.env(), "RESTIC_PASSWORD_FILE": str(box.conf / "restic.password")})
    try:
        deadline = time.monotonic() + 60
        while not any((repo / "locks").iterdir()):
            assert holder.poll() is None and time.monotonic() < deadline, "no lock appeared"
            time.sleep(0.1)
        t0 = time.monotonic()
        r = box.run("wpfleet-backup")
        took = time.monotonic() - t0
    finally:
        holder.kill()
        holder.wait(timeout=30)
    assert r.returncode != 0
    assert f"cannot back up to the restic repository {repo}: it is locked by another restic " \
        f"process: unable to create lock in backend: repository is already locked exclusively " \
        f"by PID {holder.pid}" in r.stderr, r.stderr
    assert "remove the stale lock: restic unlock" in r.stderr
    assert took < 20
    assert box.status("blog")["result"] == "failed"
    assert f"already locked exclusively by PID {holder.pid}" in box.status("blog")["message"]
    assert "docker exec" not in box.logs()  # nothing dumped
    box.restic(repo, "unlock")
    assert box.run("wpfleet-backup").returncode == 0  # the password did not change


# a restic whose `backup --stdin` fails at once without reading the dump (a full disk, a
# repository turned read-only after the check): the dump then dies of SIGPIPE, silently
FAILING_STDIN_BACKUP = """#!/bin/sh
case " $* " in *" --stdin "*)
  echo "Fatal: unable to save snapshot: write /srv/restic/data/3f: no space left on device" >&2
  exit 1 ;;
esac
exec {restic} "$@"
"""


# `docker exec` on a box: its client dies of SIGPIPE (exit 141) without a word when restic
# stops reading; the dump inside the container says nothing either (the reported empty reason)
SILENT_CLIENT_DUMP = """#!/bin/sh
/usr/bin/mariadb-dump --defaults-file="$WPFLEET_FAKE_CNF" "$@" 2>/dev/null | cat
"""


@pytest.mark.parametrize("dump", ["epipe", "sigpipe"])
def test_restic_failing_during_the_dump_is_reported_as_restics_failure(box: Box, dump: str) -> None:
    box.add_site("blog")
    seed(box, "blog")
    if dump == "sigpipe":
        (box.fake / "in-container/mariadb-dump").write_text(SILENT_CLIENT_DUMP)
    box.dbs["blog"].sql("INSERT INTO wp_posts (post_content) SELECT REPEAT('x', 100000) "
                        "FROM seq_1_to_20")  # more than a pipe buffer: the dump gets SIGPIPE
    repo = repository(box)
    shim = box.root / "bin" / "restic-full"
    shim.write_text(FAILING_STDIN_BACKUP.format(restic=box.root / "bin" / "restic"))
    shim.chmod(0o755)
    r = box.run("wpfleet-backup", RESTIC=str(shim))
    assert r.returncode != 0
    assert f"blog: FAILED: restic backup of the database to {repo} failed: Fatal: unable to " \
        "save snapshot: write /srv/restic/data/3f: no space left on device" in r.stderr, r.stderr
    assert "database dump failed" not in r.stderr
    assert box.status("blog")["message"].startswith(f"restic backup of the database to {repo} failed: Fatal:")
