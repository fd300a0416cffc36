"""The wordpress stand-in: core copied once into the shared docroot, wp-config.php from the
WORDPRESS_* variables (also *_FILE), the balancer's health check, mounted PHP ini and mail
plugin, graceful stops (SIGWINCH for Apache, SIGTERM for MariaDB), data kept on restart."""

from __future__ import annotations

import time
from typing import Any

import pytest

from components.render.wordpress.php import MAIL_IN_CONTAINER, post_max_mb
from components.render.wordpress.secrets import as_db_root
from tests.e2e.images.docker_api import wait_healthy
from tests.e2e.images.stand_ins import docker, http, secret_values

pytestmark = pytest.mark.e2e


def test_replicas_copy_wordpress_once_and_answer_the_balancer(site: dict[str, Any]) -> None:
    logs0 = docker(site, "logs", "wpfleet-blog-wp-0").stderr
    logs1 = docker(site, "logs", "wpfleet-blog-wp-1").stderr
    assert "WordPress not found in /var/www/html - copying now..." in logs0
    assert "copying now" not in logs1  # replica 1 found replica 0's copy in the shared volume
    config = docker(site, "exec", "wpfleet-blog-wp-0", "cat", "wp-config.php").stdout
    assert "getenv_docker('WORDPRESS_DB_HOST'" in config and "eval($configExtra)" in config
    owner = docker(site, "exec", "wpfleet-blog-wp-0", "stat", "-c", "%u:%g", "wp-includes/version.php")
    assert owner.stdout.strip() == "33:33"
    # the health check of the balancer: PHP answers wp-content/index.php (2xx, no PHP source)
    code, body = http(site, 8082, "/wp-content/index.php")
    assert code == 200 and "<?php" not in body
    code, _ = http(site, 8083, "/wp-content/index.php")
    assert code == 200
    # the mounted ini is read by Apache's PHP (PHP_INI_SCAN_DIR) and the CLI's; the mail plugin
    probe = "echo ini_get('post_max_size');"
    assert docker(site, "exec", "-u", "33:33", "wpfleet-blog-wp-0", "sh", "-c",
                  f'echo "<?php {probe}" > ini-probe.php').returncode == 0
    code, body = http(site, 8082, "/ini-probe.php")
    docker(site, "exec", "wpfleet-blog-wp-0", "rm", "ini-probe.php")
    assert (code, body) == (200, f"{post_max_mb(site['site'])}M")
    assert docker(site, "exec", "wpfleet-blog-wp-0", "php", "-r", probe).stdout == body
    assert docker(site, "exec", "wpfleet-blog-wp-0", "test", "-s", MAIL_IN_CONTAINER).returncode == 0


def test_wordpress_file_variants_prefix_and_debug(site: dict[str, Any]) -> None:
    """A second WordPress on the site's database: *_FILE variables, table prefix, WP_DEBUG."""
    secrets = site["root"] / "wp-secrets"
    secrets.mkdir()
    db_password = secret_values(site)["wordpress/WORDPRESS_DB_PASSWORD"]
    (secrets / "db").write_text(db_password + "\n")
    (secrets / "extra").write_text("define('WPFLEET_PROBE', 'from-file');\n")
    done = docker(site, "run", "-d", "--name", "t-wp", "--network", "wpfleet-blog-db",
                  "-v", f"{secrets}:/run/secrets:ro", "-e", "WORDPRESS_DB_HOST=db",
                  "-e", "WORDPRESS_DB_USER=wordpress", "-e", "WORDPRESS_DB_PASSWORD_FILE=/run/secrets/db",
                  "-e", "WORDPRESS_CONFIG_EXTRA_FILE=/run/secrets/extra", "-e", "WORDPRESS_TABLE_PREFIX=t2_",
                  "-e", "WORDPRESS_DEBUG=1", site["site"].wordpress_image)
    assert done.returncode == 0, done.stderr
    # wp-config.php read alone: ABSPATH points at an empty wp-settings.php
    probe = ('define("ABSPATH", "/tmp/probe/"); require "wp-config.php"; echo DB_PASSWORD === trim('
             'file_get_contents("/run/secrets/db")) ? "pw" : "no", " ", DB_HOST, " ", $table_prefix, " ",'
             ' WP_DEBUG ? "debug" : "-", " ", WPFLEET_PROBE;')
    for _ in range(60):
        out = docker(site, "exec", "t-wp", "sh", "-c", "mkdir -p /tmp/probe && touch /tmp/probe/wp-settings.php"
                     f" && php -r '{probe}'")
        if out.returncode == 0 and out.stdout:
            break
        time.sleep(0.5)
    assert out.stdout == "pw db t2_ debug from-file", out.stderr
    keys = docker(site, "exec", "t-wp", "grep", "-c", "put your unique phrase here", "wp-config.php")
    assert keys.stdout.strip() == "0"  # each default key/salt replaced by its own random string
    docker(site, "rm", "-f", "t-wp")


def test_restart_keeps_data_and_stops_are_graceful(site: dict[str, Any]) -> None:
    api = site["api"]
    root_sql = as_db_root('mariadb -uroot -N wordpress -e "$0"')  # the mounted root password
    mark = "CREATE TABLE IF NOT EXISTS restart_mark (id INT PRIMARY KEY); REPLACE INTO restart_mark VALUES (7)"
    assert docker(site, "exec", "wpfleet-blog-db", "sh", "-c", root_sql, mark).returncode == 0
    for name, signal_seen in (("wpfleet-blog-wp-1", "caught SIGWINCH, shutting down gracefully"),
                              ("wpfleet-blog-db", "Shutdown complete")):
        start = time.monotonic()
        api.call("POST", f"/containers/{name}/stop?t=60", timeout=90)
        assert time.monotonic() - start < 15, f"{name} did not stop on its signal"
        state = api.inspect(name)["State"]
        logs = docker(site, "logs", name)
        assert signal_seen in logs.stdout + logs.stderr, name
        assert state["ExitCode"] == 0, (name, state)
    api.call("POST", "/containers/wpfleet-blog-db/start")
    wait_healthy(api, "wpfleet-blog-db", 120)
    assert docker(site, "logs", "wpfleet-blog-db").stderr.count("Initializing database files") == 1
    kept = docker(site, "exec", "wpfleet-blog-db", "sh", "-c", root_sql, "SELECT id FROM restart_mark")
    assert kept.stdout == "7\n", kept.stderr
    docker(site, "exec", "wpfleet-blog-db", "sh", "-c", root_sql, "DROP TABLE restart_mark")
    # replica 1 starts again on the docroot it shares (nothing copied); both serve PHP
    api.call("POST", "/containers/wpfleet-blog-wp-1/start")
    wait_healthy(api, "wpfleet-blog-wp-1", 120)
    assert "copying now" not in docker(site, "logs", "wpfleet-blog-wp-1").stderr
    assert http(site, 8082, "/wp-content/index.php")[0] == http(site, 8083, "/wp-content/index.php")[0] == 200
