"""WordPressSite: the environment handed to WordPress and MariaDB, the secret files they mount."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from components.config import SiteConfig
from components.wordpress_site import SALT_NAMES, config_extra, mariadb_env, split_salts, wordpress_env

SITE = SiteConfig(name="blog", domain="blog.example.org", port=8082, replicas=2, tls=True)
CONTAINER = "docker:index/container:Container"


def test_wordpress_env_wires_db_and_all_salts_as_files() -> None:
    env = dict(e.split("=", 1) for e in wordpress_env(SITE))
    assert env["WORDPRESS_DB_HOST"] == "db:3306"  # the DB's alias on the internal network
    assert env["WORDPRESS_DB_USER"] == env["WORDPRESS_DB_NAME"] == "wordpress"
    # the secrets as the official image's NAME_FILE variables (wp-config-docker.php), never
    # their values (issue 20 item 5)
    assert env["WORDPRESS_DB_PASSWORD_FILE"] == "/run/secrets/wpfleet/WORDPRESS_DB_PASSWORD"
    assert {k: env[f"WORDPRESS_{k}_FILE"] for k in SALT_NAMES} == {
        k: f"/run/secrets/wpfleet/WORDPRESS_{k}" for k in SALT_NAMES}
    assert "WORDPRESS_DB_PASSWORD" not in env and "WORDPRESS_AUTH_KEY" not in env
    assert not any(k.startswith("WPFLEET_SMTP") for k in env)  # no smtp user: no mail secret


def _php(code: str) -> str:
    import shutil
    import subprocess

    import pytest
    php = shutil.which("php")
    if php is None:
        pytest.skip("php not installed (apt-get install php-cli)")
    return subprocess.run([php], input=code, capture_output=True, text=True, check=True).stdout


def _urls(site: SiteConfig, forwarded_proto: str | None) -> str:
    header = "" if forwarded_proto is None else \
        f"$_SERVER['HTTP_X_FORWARDED_PROTO'] = '{forwarded_proto}';\n"
    return _php("<?php\n" + header + config_extra(site)
                + "echo WP_HOME . ' ' . WP_SITEURL;")


def test_tls_site_scheme_follows_the_balancer_header() -> None:
    # before the certificate exists Apache serves the site on HTTP and says so
    assert _urls(SITE, "http") == "http://blog.example.org http://blog.example.org"
    # after issuance the port-80 vhost redirects, and the HTTPS vhost sets https
    assert _urls(SITE, "https") == "https://blog.example.org https://blog.example.org"
    assert _urls(SITE, None) == "http://blog.example.org http://blog.example.org"  # CLI, cron
    plain = SiteConfig(name="b", domain="b.example.org", port=9000, tls=False)
    assert _urls(plain, "http") == "http://b.example.org http://b.example.org"


def test_config_extra_is_valid_php() -> None:
    code = ("<?php\n$_SERVER['HTTP_X_FORWARDED_FOR'] = '1.2.3.4, 10.0.0.9';\n"
            + config_extra(SITE) + "echo 'WP_HOME=' . WP_HOME . ' ' . $_SERVER['REMOTE_ADDR'];")
    out = _php(code)
    assert "WP_HOME=http://blog.example.org" in out and out.endswith("10.0.0.9")


def test_mariadb_env() -> None:
    env = dict(e.split("=", 1) for e in mariadb_env())
    assert env == {"MARIADB_DATABASE": "wordpress", "MARIADB_USER": "wordpress",
                   "MARIADB_PASSWORD_FILE": "/run/secrets/wpfleet/MARIADB_PASSWORD",
                   "MARIADB_ROOT_PASSWORD_FILE": "/run/secrets/wpfleet/MARIADB_ROOT_PASSWORD",
                   "MARIADB_AUTO_UPGRADE": "1"}


def test_secret_files_are_written_first_and_mounted_read_only() -> None:
    """`site-secrets-<site>` writes the files before the DB container and db-user exist; the DB
    mounts the db/ directory (root password), every replica the wordpress/ one (no root
    password), read-only, at the path their _FILE variables name."""
    from tests.harness import BASE_CONFIG, run_stack
    graph = run_stack(BASE_CONFIG)
    for site, replicas in (("blog", 2), ("shop", 1)):
        secrets = graph.get(f"site-secrets-{site}", "command:remote:Command")
        assert f'DIR="$R"/etc/wpfleet/secrets/{site}\n' in secrets.inputs["delete"]
        assert graph.get(f"wp-site-{site}").urn in secrets.deps
        db = graph.get(f"{site}-db", CONTAINER)
        assert secrets.urn in db.deps and secrets.urn in graph.get(f"db-user-{site}").deps
        assert {"hostPath": f"/etc/wpfleet/secrets/{site}/db",
                "containerPath": "/run/secrets/wpfleet", "readOnly": True} in db.inputs["volumes"]
        for i in range(replicas):
            wp = graph.get(f"{site}-wp-{i}", CONTAINER)
            mounts = [v for v in wp.inputs["volumes"] if v.get("containerPath") == "/run/secrets/wpfleet"]
            assert mounts == [{"hostPath": f"/etc/wpfleet/secrets/{site}/wordpress",
                               "containerPath": "/run/secrets/wpfleet", "readOnly": True}]
        # replica 0 starts after db-user, which comes after the files: all replicas wait
        assert graph.get(f"db-user-{site}").urn in graph.get(f"{site}-wp-0").deps


def test_split_salts_gives_eight_distinct_pieces() -> None:
    block = "".join(chr(65 + i) * 64 for i in range(8))
    salts = split_salts(block)
    assert list(salts) == list(SALT_NAMES)
    assert salts["AUTH_KEY"] == "A" * 64 and salts["NONCE_SALT"] == "H" * 64
    import pytest
    with pytest.raises(ValueError, match="512"):
        split_salts(block[:-1])


def test_db_user_password_follows_the_secret_before_any_replica_starts() -> None:
    """MariaDB applies MARIADB_PASSWORD only to an empty volume: a rotated password (a --replace
    of <site>-db-password) must be set inside the database by db-user-<site>, after the DB
    container and before the replicas, the password on stdin only."""
    from tests.harness import BASE_CONFIG, SECRETS, run_stack
    graph = run_stack(BASE_CONFIG, SECRETS)
    for site in ("blog", "shop"):
        cmd = graph.get(f"db-user-{site}", "command:remote:Command")
        db = graph.get(f"{site}-db", "docker:index/container:Container")
        assert db.urn in cmd.deps and graph.get(f"site-secrets-{site}").urn in cmd.deps
        assert "stdin" in cmd.secret_inputs
        password = graph.get(f"{site}-db-password").outputs["result"]
        assert cmd.inputs["stdin"] == password + "\n"
        assert password not in cmd.inputs["create"] and password not in cmd.inputs["update"]
        assert cmd.urn in graph.get(f"{site}-wp-0", "docker:index/container:Container").deps


def test_db_user_script_reads_the_password_from_stdin_only(tmp_path: Path) -> None:
    """The script, run with a stand-in `docker`: the password reaches MariaDB's stdin as SQL,
    never an argv; a password with SQL-special characters is refused."""
    from components.config import parse
    from components.render.wordpress.db import db_user_command
    from tests.harness import BASE_CONFIG
    site = parse(BASE_CONFIG).sites[0]
    fake = tmp_path / "docker"
    fake.write_text('#!/bin/sh\necho "argv: $*" >> "$LOG"\ncat >> "$LOG"\n')
    fake.chmod(0o755)
    log = tmp_path / "log"
    script = db_user_command(site).create
    env = {"PATH": "/usr/bin:/bin", "DOCKER": str(fake), "LOG": str(log)}
    done = subprocess.run(["bash", "-c", script], input="S3cretPassw0rd\n", env=env,
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    text = log.read_text()
    argv = text.splitlines()[0]
    assert argv.startswith("argv: exec -i wpfleet-blog-db sh -c") and "S3cret" not in argv
    assert "ALTER USER 'wordpress'@'%' IDENTIFIED BY 'S3cretPassw0rd';" in text
    assert "S3cret" not in done.stdout + done.stderr
    bad = subprocess.run(["bash", "-c", script], input="x'; DROP USER root; --\n", env=env,
                         capture_output=True, text=True, timeout=30)
    assert bad.returncode == 1 and "DROP" not in log.read_text().split("S3cretPassw0rd")[-1]


def test_a_rotated_db_password_changes_two_commands_and_no_container() -> None:
    """`pulumi up --replace blog-db-password` (here: the password resource returns a new value):
    only site-secrets-blog's and db-user-blog's stdin change (both are updated in place), no
    container input does, so no container is replaced: the replicas read the new file
    (tests/e2e/images/test_wp_secrets.py shows it on running containers)."""
    from tests.harness import BASE_CONFIG, FakeCloud, run_stack

    class Rotated(FakeCloud):
        def new_resource(self, args: Any) -> tuple[str, dict]:
            rid, state = super().new_resource(args)
            if args.name == "blog-db-password":
                state["result"] = "Rotated0123456789abcdef012345678"
            return rid, state

    before, after = run_stack(BASE_CONFIG), run_stack(BASE_CONFIG, cloud=Rotated())
    changed = {r.name for r in after.resources
               if r.inputs != before.get(r.name, r.type).inputs}
    assert changed == {"site-secrets-blog", "db-user-blog"}
    assert "Rotated0123456789" in after.get("site-secrets-blog").inputs["stdin"]
