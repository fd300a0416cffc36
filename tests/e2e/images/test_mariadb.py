"""The mariadb stand-in: the first start initialises the volume; MARIADB_* and MYSQL_*, *_FILE,
auto-upgrade; what it does not implement stops it with a sentence."""

from __future__ import annotations

import time
from typing import Any

import pytest

from components.render.backup.programs import CLIENT_IN_CONTAINER
from components.render.wordpress import db
from tests.e2e.images.stand_ins import docker, secret_values, sh

pytestmark = pytest.mark.e2e


def run_db(site: dict[str, Any], name: str, *env: str, volume: str) -> None:
    done = docker(site, "run", "-d", "--name", name, "--network", "none", "-v", f"{volume}:/var/lib/mysql",
                  "-v", f"{site['root']}/secrets:/run/secrets:ro", *(f"--env={e}" for e in env),
                  site["site"].mariadb_image)
    assert done.returncode == 0, done.stderr


def sql(site: dict[str, Any], name: str, user: str, password: str, query: str) -> str:
    done = docker(site, "exec", "-e", f"MYSQL_PWD={password}", name, "mariadb", f"-u{user}",
                  "-h127.0.0.1", "-N", "-e", query)
    return done.stdout.strip() if done.returncode == 0 else f"ERROR {done.stderr.strip()}"


def wait_sql(site: dict[str, Any], name: str, user: str, password: str, query: str) -> str:
    for _ in range(120):
        out = sql(site, name, user, password, query)
        if not out.startswith("ERROR"):
            return out
        time.sleep(0.5)
    raise AssertionError(docker(site, "logs", name).stderr[-3000:])


def test_database_initialises_its_volume_and_serves_the_site(site: dict[str, Any]) -> None:
    db = site["api"].inspect("wpfleet-blog-db")
    assert db["State"]["Health"]["Status"] == "healthy"
    assert db["Config"]["Healthcheck"]["Test"] == ["CMD", "healthcheck.sh", "--connect", "--innodb_initialized"]
    logs = docker(site, "logs", "wpfleet-blog-db").stderr
    assert logs.count("Initializing database files") == 1
    # the application user reaches its database over the network as "db" (from a replica, as
    # the web user, with the password from the mounted file its _FILE variable names)
    done = docker(site, "exec", "-u", "33:33", "wpfleet-blog-wp-0", "php", "-r",
                  '$m = new mysqli("db", getenv("WORDPRESS_DB_USER"),'
                  ' file_get_contents(getenv("WORDPRESS_DB_PASSWORD_FILE")),'
                  ' getenv("WORDPRESS_DB_NAME")); echo $m->query("SELECT DATABASE()")->fetch_row()[0];')
    assert done.stdout == "wordpress", done.stderr
    print(f"healthy after (s): {site['timings']}")


def test_mariadb_file_variants_aliases_auto_upgrade_and_refusals(site: dict[str, Any]) -> None:
    secrets = site["root"] / "secrets"
    secrets.mkdir()
    (secrets / "root").write_text("r00t-from-file\n")
    (secrets / "user").write_text("user-pw-from-file")
    run_db(site, "t-files", "MARIADB_ROOT_PASSWORD_FILE=/run/secrets/root", "MYSQL_DATABASE=appdb",
           "MARIADB_USER=app", "MARIADB_PASSWORD_FILE=/run/secrets/user", volume="t-files")
    assert wait_sql(site, "t-files", "app", "user-pw-from-file", "SELECT DATABASE()") == "NULL"
    assert sql(site, "t-files", "app", "user-pw-from-file", "SHOW DATABASES LIKE 'appdb'") == "appdb"
    assert sql(site, "t-files", "root", "r00t-from-file", "SELECT 1") == "1"
    assert sql(site, "t-files", "root", "wrong", "SELECT 1").startswith("ERROR")
    # a data directory of another version: upgraded once with MARIADB_AUTO_UPGRADE, then kept
    docker(site, "exec", "t-files", "sh", "-c", "echo 10.6.0-MariaDB > /var/lib/mysql/mariadb_upgrade_info")
    docker(site, "rm", "-f", "t-files")
    run_db(site, "t-files", "MARIADB_ROOT_PASSWORD_FILE=/run/secrets/root", "MARIADB_AUTO_UPGRADE=1",
           volume="t-files")
    wait_sql(site, "t-files", "root", "r00t-from-file", "SELECT 1")
    logs = docker(site, "logs", "t-files").stderr
    assert "upgrading the data directory from 10.6.0 to 10.11." in logs
    assert "Initializing database files" not in logs
    info = docker(site, "exec", "t-files", "cat", "/var/lib/mysql/mariadb_upgrade_info").stdout
    assert info.startswith("10.11.")
    docker(site, "rm", "-f", "t-files")
    # what the stand-in does not implement stops the container with a sentence, never ignored
    run_db(site, "t-refused", "MARIADB_ROOT_PASSWORD=x", "MARIADB_REPLICATION_USER=repl", volume="t-refused")
    assert docker(site, "wait", "t-refused").stdout.strip() == "1"
    assert "mariadb stand-in: unsupported: MARIADB_REPLICATION_USER" in docker(site, "logs", "t-refused").stderr
    assert docker(site, "exec", "wpfleet-blog-db", "healthcheck.sh", "--galera_online").returncode == 1


def test_db_user_command_rotates_the_password_through_root(site: dict[str, Any]) -> None:
    """db-user-<site> (render/wordpress/db.py) runs `mariadb -uroot` inside the container."""
    script = db.db_user_command(site["site"]).create
    original = secret_values(site)["db/MARIADB_PASSWORD"]
    login = ('try { new mysqli("db", "wordpress", getenv("PW"), "wordpress"); echo "ok"; }'
             ' catch (mysqli_sql_exception $e) { echo "refused"; }')
    rotated = "Rotated0123456789abcdef"  # generated passwords are letters and digits
    try:
        done = sh(site, script, stdin=rotated + "\n")
        assert done.returncode == 0 and "matches the stack's secret" in done.stdout, done.stderr
        for password, expect in ((rotated, "ok"), (original, "refused")):
            seen = docker(site, "exec", "-e", f"PW={password}", "wpfleet-blog-wp-0", "php", "-r", login)
            assert seen.stdout == expect, (password, seen.stderr)
    finally:  # back to the replicas' password (the mocks' has dashes, which db-user refuses)
        back = docker(site, "exec", "-i", "wpfleet-blog-db", "sh", "-c", CLIENT_IN_CONTAINER,
                      stdin=f"ALTER USER 'wordpress'@'%' IDENTIFIED BY '{original}';\n")
        assert back.returncode == 0, back.stderr
