"""`site-secrets-<site>` run for real under a scratch root: files, modes, owners, idempotence,
what it prints; the in-container root client (`as_db_root`). The containers reading the files
are in tests/e2e/images (test_secret_files.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from components.config import SiteConfig, parse
from components.render import plan
from components.render.wordpress import secrets
from components.wordpress_site import SALT_NAMES
from tests.harness import BASE_CONFIG

SALTS = {k: f"{k.lower()}-!#%()*+,-./:;<=>?@[]^_{{|}}~-" + "x" * 20 for k in SALT_NAMES}
DB_PW, ROOT_PW, SMTP_PW = "DbPassw0rd0123456789", "R00tPassw0rd0123456789", "smtp pa55 'w\"= x"


def site(smtp: bool = False) -> SiteConfig:
    extra: dict[str, Any] = {"smtp": {"host": "smtp.example.org", "user": "u@example.org",
                                      "from": "blog@example.org"}} if smtp else {}
    return parse({"box": {"host": "local"}, "acme": {"email": "a@example.org"}, "sites": [
        {"name": "blog", "domain": "blog.example.org", "port": 8082, **extra}]}).sites[0]


def stdin(s: SiteConfig, db: str = DB_PW) -> str:
    return secrets.stdin_text(s, db_password=db, root_password=ROOT_PW, salts=SALTS,
                              smtp_password=SMTP_PW if s.smtp else None)


def run(script: str, root: Path, text: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", script], input=text, capture_output=True, text=True,
                          timeout=60, env={**os.environ, "WPFLEET_ROOT": str(root)})


def tree(root: Path) -> dict[str, tuple[str, int, int, str]]:
    """relative path -> (mode, uid, gid, content) of everything under the secrets dir."""
    top = root / secrets.SECRETS_DIR.lstrip("/")
    out = {}
    for p in sorted([top, *top.rglob("*")]):
        st = p.stat()
        out[str(p.relative_to(root))] = (oct(st.st_mode & 0o7777), st.st_uid, st.st_gid,
                                         p.read_text() if p.is_file() else "")
    return out


@pytest.fixture
def root_only() -> None:
    if os.geteuid() != 0:
        pytest.skip("the script sets owners (root, gid 33): run as root")


def test_writes_each_secret_once_root_only_and_readable_by_the_web_group(
        tmp_path: Path, root_only: None) -> None:
    s = site(smtp=True)
    cmd = secrets.secrets_command(s)
    done = run(cmd.create, tmp_path, stdin(s))
    assert done.returncode == 0, done.stderr
    for value in (DB_PW, ROOT_PW, SMTP_PW, *SALTS.values()):
        assert value not in done.stdout + done.stderr + cmd.create  # names only, never values
    assert done.stdout.count("site-secrets-blog: wrote ") == 2 + 10
    got = tree(tmp_path)
    base = "etc/wpfleet/secrets"
    assert got[base][:3] == got[f"{base}/blog"][:3] == got[f"{base}/blog/db"][:3] == ("0o700", 0, 0)
    assert got[f"{base}/blog/wordpress"][:3] == ("0o750", 0, 33)
    assert got[f"{base}/blog/db/MARIADB_PASSWORD"] == ("0o400", 0, 0, DB_PW)  # no newline added
    assert got[f"{base}/blog/db/MARIADB_ROOT_PASSWORD"] == ("0o400", 0, 0, ROOT_PW)
    assert got[f"{base}/blog/wordpress/WORDPRESS_DB_PASSWORD"] == ("0o440", 0, 33, DB_PW)
    assert got[f"{base}/blog/wordpress/WPFLEET_SMTP_PASSWORD"] == ("0o440", 0, 33, SMTP_PW)
    for k in SALT_NAMES:
        assert got[f"{base}/blog/wordpress/WORDPRESS_{k}"] == ("0o440", 0, 33, SALTS[k])
    # the replicas get no root password; the file names are the _FILE variables' targets
    assert not any("ROOT" in p for p in got if "/wordpress/" in p)
    assert {f"{secrets.IN_CONTAINER}/{p.rsplit('/', 1)[1]}" for p in got if "/wordpress/" in p} \
        == {e.split("=", 1)[1] for e in secrets.wordpress_env(s)}
    assert {f"{secrets.IN_CONTAINER}/{p.rsplit('/', 1)[1]}" for p in got if "/db/" in p} \
        == {e.split("=", 1)[1] for e in secrets.db_env()}


def test_idempotent_and_a_rotated_secret_rewrites_only_its_files_by_rename(
        tmp_path: Path, root_only: None) -> None:
    s = site()
    script = secrets.secrets_command(s).update or ""
    assert run(script, tmp_path, stdin(s)).returncode == 0
    wp_dir = tmp_path / secrets.site_dir(s).lstrip("/") / "wordpress"
    inodes = {p.name: p.stat().st_ino for p in wp_dir.iterdir()}
    before = tree(tmp_path)
    again = run(script, tmp_path, stdin(s))
    assert again.returncode == 0, again.stderr
    assert again.stdout == "site-secrets-blog: the site's secret files are up to date; no change\n"
    assert tree(tmp_path) == before
    # `pulumi up --replace blog-db-password`: the two copies of it change, by rename (a new
    # inode in the same directory: what a container with the directory mounted sees at once)
    rotated = run(script, tmp_path, stdin(s, db="NewDbPassw0rd987654321"))
    assert rotated.returncode == 0, rotated.stderr
    assert sorted(rotated.stdout.splitlines()) == [
        "site-secrets-blog: wrote db/MARIADB_PASSWORD",
        "site-secrets-blog: wrote wordpress/WORDPRESS_DB_PASSWORD"]
    assert (wp_dir / "WORDPRESS_DB_PASSWORD").read_text() == "NewDbPassw0rd987654321"
    assert (wp_dir / "WORDPRESS_DB_PASSWORD").stat().st_ino != inodes["WORDPRESS_DB_PASSWORD"]
    assert (wp_dir / "WORDPRESS_AUTH_KEY").stat().st_ino == inodes["WORDPRESS_AUTH_KEY"]
    assert not list(wp_dir.glob(".tmp.*"))


def test_a_mode_edited_by_hand_is_put_back_and_an_unused_secret_removed(
        tmp_path: Path, root_only: None) -> None:
    with_smtp, without = site(smtp=True), site()
    assert run(secrets.secrets_command(with_smtp).create, tmp_path, stdin(with_smtp)).returncode == 0
    wp_dir = tmp_path / secrets.site_dir(without).lstrip("/") / "wordpress"
    (wp_dir / "WORDPRESS_AUTH_KEY").chmod(0o644)
    (wp_dir / ".tmp.abc123").write_text("left by an interrupted run")
    done = run(secrets.secrets_command(without).update or "", tmp_path, stdin(without))
    assert done.returncode == 0, done.stderr
    assert "removed wordpress/WPFLEET_SMTP_PASSWORD (no longer used)" in done.stdout
    assert not (wp_dir / "WPFLEET_SMTP_PASSWORD").exists() and not (wp_dir / ".tmp.abc123").exists()
    assert oct((wp_dir / "WORDPRESS_AUTH_KEY").stat().st_mode & 0o777) == "0o440"


@pytest.mark.parametrize(("text", "message"), [
    ("", "site-secrets-blog: no "),
    ("db/MARIADB_PASSWORD=x\nwordpress/WPFLEET_SMTP_PASSWORD=leaked-value\n",
     "a line on stdin is not one of this site's secrets (not shown)"),
    ("no-equals-sign-leaked-value\n", "not one of this site's secrets"),
    ("db/$(touch${IFS}/tmp/pwned)=leaked-value\n", "not one of this site's secrets"),
    ("db/MARIADB_PASSWORD=\n", "db/MARIADB_PASSWORD is empty on stdin"),
])
def test_wrong_input_writes_nothing_and_shows_no_value(tmp_path: Path, text: str,
                                                        message: str) -> None:
    full = stdin(site())
    done = run(secrets.secrets_command(site()).create, tmp_path,
               text if not text.startswith("db/MARIADB_PASSWORD=x") else full + text)
    assert done.returncode == 1 and message in done.stderr, done.stderr
    assert "leaked-value" not in done.stdout + done.stderr
    assert not (tmp_path / "etc").exists()


def test_delete_removes_the_sites_directory_only(tmp_path: Path, root_only: None) -> None:
    blog = site()
    other = tmp_path / "etc/wpfleet/secrets/shop/db"
    other.mkdir(parents=True)
    assert run(secrets.secrets_command(blog).create, tmp_path, stdin(blog)).returncode == 0
    cmd = secrets.secrets_command(blog)
    done = run(cmd.delete or "", tmp_path, "")
    assert done.returncode == 0 and "removed /etc/wpfleet/secrets/blog" in done.stdout
    assert not (tmp_path / "etc/wpfleet/secrets/blog").exists() and other.is_dir()
    again = run(cmd.delete or "", tmp_path, "")  # nothing left: still fine
    assert again.returncode == 0 and again.stdout == ""


def test_stdin_text_refuses_a_value_on_two_lines_without_showing_it() -> None:
    with pytest.raises(ValueError, match="wordpress/WPFLEET_SMTP_PASSWORD is empty or not one line") as e:
        secrets.stdin_text(site(smtp=True), db_password=DB_PW, root_password=ROOT_PW,
                           salts=SALTS, smtp_password="two\nlines-secret")
    assert "lines-secret" not in str(e.value)
    with pytest.raises(ValueError, match="no SMTP password"):
        secrets.stdin_text(site(smtp=True), db_password=DB_PW, root_password=ROOT_PW, salts=SALTS)


def test_the_plan_runs_the_secrets_before_the_db_user_and_renders_no_secret_file() -> None:
    stack = parse(BASE_CONFIG)
    p = plan(stack)
    names = [c.name for c in p.commands]
    for s in stack.sites:
        assert names.index(f"site-secrets-{s.name}") < names.index(f"db-user-{s.name}")
    assert not [path for path in p.files if path.startswith(secrets.SECRETS_DIR)]


def test_root_client_reads_the_mounted_file_else_an_old_containers_environment(
        tmp_path: Path) -> None:
    """`sh -c as_db_root(...)` as it runs inside the DB container: with the file mounted
    (tests/e2e/images) it is read; a container created before (no file) still has
    MARIADB_ROOT_PASSWORD in its environment. The password reaches mariadb as MYSQL_PWD."""
    if Path(secrets.ROOT_PASSWORD_FILE).exists():
        pytest.skip(f"{secrets.ROOT_PASSWORD_FILE} exists on this machine")
    fake = tmp_path / "mariadb"
    fake.write_text('#!/bin/sh\necho "argv=$* pwd=$MYSQL_PWD"\n')
    fake.chmod(0o755)
    sh = shutil.which("dash") or "sh"
    done = subprocess.run([sh, "-c", secrets.as_db_root("mariadb -uroot")], capture_output=True,
                          text=True, timeout=30, env={"PATH": f"{tmp_path}:/usr/bin:/bin",
                                                      "MARIADB_ROOT_PASSWORD": "old-env-pw"})
    assert done.stdout == "argv=-uroot pwd=old-env-pw\n", done.stderr
    assert "old-env-pw" not in secrets.as_db_root("mariadb -uroot")
    # the file wins, read inside a private mount namespace (a tmpfs over /run) like the mount
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("the file case needs root and unshare (util-linux)")
    inner = (f"mount -t tmpfs wpfleet-test /run && mkdir -p {secrets.IN_CONTAINER} && "
             f"printf %s file-pw > {secrets.ROOT_PASSWORD_FILE} && exec {sh} -c \"$SNIPPET\"")
    done = subprocess.run(["unshare", "-m", "--propagation", "private", sh, "-c", inner],
                          capture_output=True, text=True, timeout=30,
                          env={"PATH": f"{tmp_path}:/usr/bin:/bin:/usr/sbin:/sbin",
                               "MARIADB_ROOT_PASSWORD": "old-env-pw",
                               "SNIPPET": secrets.as_db_root("mariadb -uroot")})
    assert done.stdout == "argv=-uroot pwd=file-pw\n", done.stderr
