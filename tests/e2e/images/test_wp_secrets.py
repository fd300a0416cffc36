"""The site's secrets as files (issue 20 item 5), on real containers: no secret in `docker
inspect` (the output the Docker provider logs into Pulumi's automatic log), the DB initialised
from the files, WordPress (as www-data), its mail plugin and wp-cli reading them, a backup dump
through the mounted root password, and a rotated DB password reaching the running replicas
without re-creating them. Runs after test_wp_cli.py (installs WordPress when alone)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from components.render.backup.programs import DUMP_DONE, DUMP_IN_CONTAINER
from components.render.wordpress import db, install, secrets
from tests.e2e.images.stand_ins import ADMIN_PASSWORD, SMTP_PASSWORD, docker, http, secret_values, sh, wp

pytestmark = pytest.mark.e2e

CONTAINERS = ("wpfleet-blog-db", "wpfleet-blog-wp-0", "wpfleet-blog-wp-1")
PROBE = ("<?php require __DIR__ . '/wp-load.php';\n"
         "require_once ABSPATH . WPINC . '/PHPMailer/PHPMailer.php';  // as wp_mail() does\n"
         "$m = new PHPMailer\\PHPMailer\\PHPMailer();\n"
         "do_action_ref_array('phpmailer_init', [&$m]);\n"
         "echo md5(DB_PASSWORD), ' ', md5(AUTH_KEY . NONCE_SALT), ' ', md5($m->Password);\n")


def installed(site: dict[str, Any]) -> None:
    if wp(site, "core", "is-installed").returncode != 0:  # this file alone
        done = sh(site, install.install_command(site["stack"], site["site"]).create,
                  stdin=ADMIN_PASSWORD + "\n")
        assert done.returncode == 0, done.stdout + done.stderr


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()  # noqa: S324 - a comparison, not security


def probe(site: dict[str, Any], port: int) -> tuple[int, str]:
    """What WordPress read, served by Apache's PHP as www-data (md5s, never the values)."""
    put = docker(site, "exec", "-i", "-u", "33:33", "wpfleet-blog-wp-0", "sh", "-c",
                 "cat > secrets-probe.php", stdin=PROBE)
    assert put.returncode == 0, put.stderr
    try:
        return http(site, port, "/secrets-probe.php", "Host: blog.example.org")
    finally:
        docker(site, "exec", "wpfleet-blog-wp-0", "rm", "-f", "secrets-probe.php")


def test_no_secret_in_docker_inspect_and_the_files_mounted_read_only(site: dict[str, Any]) -> None:
    values = secret_values(site)
    assert len(values) == 2 + 10 and values["wordpress/WPFLEET_SMTP_PASSWORD"] == SMTP_PASSWORD
    for name in CONTAINERS:
        seen = json.dumps(site["api"].inspect(name))  # what the provider's stateFunc logs
        leaked = [k for k, v in values.items() if v in seen or json.dumps(v)[1:-1] in seen]
        assert not leaked, f"{name}: {leaked} in docker inspect"
        env = dict(e.split("=", 1) for e in site["api"].inspect(name)["Config"]["Env"])
        assert not [k for k in env if k.endswith(("_PASSWORD", "_KEY", "_SALT"))], name
        mount = next(m for m in site["api"].inspect(name)["Mounts"]
                     if m["Destination"] == secrets.IN_CONTAINER)
        role = "db" if name.endswith("-db") else "wordpress"
        assert mount["Source"] == f"{site['root']}{secrets.site_dir(site['site'])}/{role}"
        assert mount["RW"] is False, name
    # the replicas get no root password; in the DB container only root reads the files
    ls = docker(site, "exec", "wpfleet-blog-wp-1", "ls", secrets.IN_CONTAINER).stdout.split()
    assert "MARIADB_ROOT_PASSWORD" not in ls and len(ls) == 10
    assert docker(site, "exec", "-u", "999", "wpfleet-blog-db", "cat",
                  secrets.ROOT_PASSWORD_FILE).returncode != 0
    assert docker(site, "exec", "-u", "33:33", "wpfleet-blog-wp-1", "sh", "-c",
                  f"echo x > {secrets.IN_CONTAINER}/x").returncode != 0  # read-only


def test_database_wordpress_mail_plugin_and_wp_cli_read_the_files(site: dict[str, Any]) -> None:
    values = secret_values(site)
    # the DB was initialised from the files: root and the site's user log in with them
    for user, key in (("root", "db/MARIADB_ROOT_PASSWORD"), ("wordpress", "db/MARIADB_PASSWORD")):
        done = docker(site, "exec", "-e", f"MYSQL_PWD={values[key]}", "wpfleet-blog-db", "mariadb",
                      f"-u{user}", "-h127.0.0.1", "-N", "-e", "SELECT 1")
        assert done.stdout.strip() == "1", (user, done.stderr)
    installed(site)
    salts = "".join(values[f"wordpress/WORDPRESS_{k}"] for k in ("AUTH_KEY", "NONCE_SALT"))
    expect = f"{md5(values['wordpress/WORDPRESS_DB_PASSWORD'])} {md5(salts)} {md5(SMTP_PASSWORD)}"
    for port in (8082, 8083):  # both replicas, as www-data, at each request
        code, body = probe(site, port)
        assert (code, body) == (200, expect), body[-2000:]
    # wp-cli: the _FILE variables from the replica, the mount through --volumes-from
    assert wp(site, "core", "is-installed").returncode == 0
    got = wp(site, "eval", "echo md5(DB_PASSWORD), ' ', md5(AUTH_KEY . NONCE_SALT);")
    assert got.stdout == expect.rsplit(" ", 1)[0], got.stderr
    # a backup's dump, as root inside the DB container with the mounted root password
    dump = docker(site, "exec", "-i", "wpfleet-blog-db", "sh", "-c", DUMP_IN_CONTAINER)
    assert dump.returncode == 0 and dump.stdout.rstrip().splitlines()[-1].startswith(DUMP_DONE)


def test_a_rotated_db_password_reaches_the_running_replicas(site: dict[str, Any]) -> None:
    """`pulumi up --replace blog-db-password` updates site-secrets-blog (the files), then
    db-user-blog (ALTER USER); the containers' inputs do not change, so they are not re-created:
    the replicas read the new file at the next request."""
    installed(site)
    api, values = site["api"], secret_values(site)
    before = {n: (api.inspect(n)["Id"], api.inspect(n)["State"]["StartedAt"]) for n in CONTAINERS}
    command = secrets.secrets_command(site["site"])
    rotated = "Rotated0123456789abcdefXYZ"  # generated passwords: letters and digits

    def stdin(password: str) -> str:
        new = {**values, "db/MARIADB_PASSWORD": password, "wordpress/WORDPRESS_DB_PASSWORD": password}
        return "".join(f"{k}={v}\n" for k, v in new.items())

    try:
        done = sh(site, command.update or "", stdin=stdin(rotated))
        assert done.returncode == 0 and rotated not in done.stdout + done.stderr, done.stderr
        assert sorted(done.stdout.splitlines()) == ["site-secrets-blog: wrote db/MARIADB_PASSWORD",
                                                    "site-secrets-blog: wrote wordpress/WORDPRESS_DB_PASSWORD"]
        # the running replica reads the new file at once (the database does not know it yet)
        code, body = http(site, 8083, "/", "Host: blog.example.org")
        assert code == 500 and "Error establishing a database connection" in body, (code, body[:300])
        done = sh(site, db.db_user_command(site["site"]).update or "", stdin=rotated + "\n")
        assert done.returncode == 0, done.stderr
        for port in (8082, 8083):
            code, body = http(site, port, "/", "Host: blog.example.org")
            assert code == 200 and "blog.example.org" in body, (port, code, body[:300])
        assert wp(site, "core", "is-installed").returncode == 0
        after = {n: (api.inspect(n)["Id"], api.inspect(n)["State"]["StartedAt"]) for n in CONTAINERS}
        assert after == before  # nothing re-created or restarted
    finally:  # back to the program's values (the mocks' password has dashes: db-user refuses it)
        done = sh(site, command.update or "", stdin=stdin(values["db/MARIADB_PASSWORD"]))
        assert done.returncode == 0, done.stderr
        back = docker(site, "exec", "-i", "wpfleet-blog-db", "sh", "-c", secrets.as_db_root("mariadb -uroot"),
                      stdin=f"ALTER USER 'wordpress'@'%' IDENTIFIED BY '{values['db/MARIADB_PASSWORD']}';\n")
        assert back.returncode == 0, back.stderr
    assert http(site, 8082, "/", "Host: blog.example.org")[0] == 200
