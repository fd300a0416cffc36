"""The wordpress:cli stand-in through wpfleet's rendered scripts: the install (wordpress-SITE),
`wpfleet-wp`, the WP-Cron runner, the restore's search-replace, the backup's dump and client;
WordPress's own functions on the real database; anything else refused (exit 2)."""

from __future__ import annotations

import json
import re
import subprocess
from typing import Any

import pytest

from components.render.backup.programs import CLIENT_IN_CONTAINER, DUMP_DONE, DUMP_IN_CONTAINER
from components.render.wordpress import install, tools
from tests.e2e.images.stand_ins import ADMIN_PASSWORD, docker, http, sh, wp

pytestmark = pytest.mark.e2e


def test_install_script_installs_through_wp_install_then_upgrades_nothing(site: dict[str, Any]) -> None:
    script = install.install_command(site["stack"], site["site"]).create
    done = sh(site, script, stdin=ADMIN_PASSWORD + "\n")
    assert done.returncode == 0, done.stdout + done.stderr
    admin = site["site"].admin_user
    assert f"WordPress installed, admin user {admin}" in done.stdout
    assert wp(site, "core", "is-installed").returncode == 0
    assert wp(site, "user", "check-password", admin, ADMIN_PASSWORD).returncode == 0
    assert wp(site, "user", "check-password", admin, "wrong").returncode == 1
    assert wp(site, "option", "get", "blogname").stdout == "blog.example.org\n"
    again = sh(site, script, stdin=ADMIN_PASSWORD + "\n")
    assert again.returncode == 0, again.stderr
    assert re.search(r"WordPress core 6\.1\.\d+ matches the image", again.stdout)
    assert "Success: WordPress database already at latest db version" in again.stdout
    # a volume holding an older core gets the image's (docker exec into replica 0, as uid 33);
    # one holding a newer core is refused (no downgrades)
    version = "wp-includes/version.php"
    for fake, expect, rc in (("6.0.0", "WordPress core 6.0.0 -> 6.1.", 0),
                             ("9.9.9", "downgrades are not supported", 1)):
        docker(site, "exec", "-u", "33:33", "wpfleet-blog-wp-0", "sed", "-i",
               f"s/^\\$wp_version = .*/$wp_version = '{fake}';/", version)
        done = sh(site, script, stdin=ADMIN_PASSWORD + "\n")
        assert done.returncode == rc and expect in done.stdout + done.stderr, done.stdout + done.stderr
    docker(site, "exec", "-u", "33:33", "wpfleet-blog-wp-0", "cp", f"/usr/src/wordpress/{version}", version)
    # served over the balancer's path, HTTPS announced by the header the balancer sets
    code, body = http(site, 8082, "/", "Host: blog.example.org", "X-Forwarded-Proto: https")
    assert code == 200 and "https://blog.example.org/" in body
    code, body = http(site, 8083, "/", "Host: blog.example.org")
    assert code == 200 and "http://blog.example.org/" in body and "https://blog.example.org/" not in body


def test_cron_runner_runs_due_events_with_wordpress_code(site: dict[str, Any]) -> None:
    # as the e2e scenario checks the box timer: an event scheduled now is gone after a run
    done = wp(site, "cron", "event", "schedule", "wpfleet_probe", "now")
    assert done.stdout.startswith("Success: Scheduled event with hook 'wpfleet_probe' for "), done.stderr
    listed = wp(site, "cron", "event", "list", "--fields=hook").stdout.splitlines()
    assert listed[0] == "hook" and "wpfleet_probe" in listed  # wp-cli's table, piped
    runner = site["root"] / tools.CRON_RUNNER.lstrip("/")
    done = subprocess.run([str(runner), "blog"], env=site["env"], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert re.search(r"Success: Executed a total of \d+ cron events?\.", done.stdout)
    print(done.stdout)
    assert "Executed the cron event 'wpfleet_probe'" in done.stdout
    assert "wpfleet_probe" not in wp(site, "cron", "event", "list", "--fields=hook").stdout
    assert wp(site, "eval", 'echo wp_next_scheduled("wp_version_check") > time() ? "later" : "due";'
              ).stdout == "later"


def test_search_replace_rewrites_plain_and_serialized_values(site: dict[str, Any]) -> None:
    old, new = "http://old.example.org", "https://blog.example.org"
    post = wp(site, "post", "create", "--post_title=Links", f"--post_content=see {old}/a and {old}/b",
              "--post_status=publish", "--porcelain")
    assert post.returncode == 0, post.stderr
    pid = post.stdout.strip()
    value = json.dumps({"home": f"{old}/x", "nested": [f"{old}/y", "other"]})
    assert wp(site, "option", "update", "wpfleet_links", value, "--format=json").returncode == 0
    wp(site, "eval", f'global $wpdb; $wpdb->update($wpdb->posts, ["guid" => "{old}/?p={pid}"], ["ID" => {pid}]);')
    dry = wp(site, "search-replace", old, new, "--all-tables", "--skip-columns=guid", "--dry-run")
    assert "Success: 2 replacements to be made." in dry.stdout, dry.stdout + dry.stderr
    done = wp(site, "search-replace", old, new, "--all-tables", "--skip-columns=guid",
              "--report-changed-only")
    assert done.returncode == 0 and "Success: Made 2 replacements." in done.stdout, done.stdout + done.stderr
    content = wp(site, "post", "get", pid, "--field=post_content").stdout
    assert content == f"see {new}/a and {new}/b\n"
    assert json.loads(wp(site, "option", "get", "wpfleet_links", "--format=json").stdout) == {
        "home": f"{new}/x", "nested": [f"{new}/y", "other"]}  # re-serialized: lengths fixed
    assert wp(site, "post", "get", pid, "--field=guid").stdout == f"{old}/?p={pid}\n"


def test_anything_else_is_refused_loudly(site: dict[str, Any]) -> None:
    for argv in (["plugin", "install", "classic-editor"], ["db", "export", "-"], ["shell"],
                 ["search-replace", "a", "b", "--regex"], ["core", "install", "--url=x", "--bogus"],
                 ["option", "get", "home", "--format=yaml"], ["user", "list", "--format=yaml"],
                 ["cron", "event", "delete", "wp_version_check"]):
        done = wp(site, *argv)
        assert done.returncode == 2 and "wp stand-in: unsupported: " in done.stderr, (argv, done)
        assert "Success" not in done.stdout


def test_backup_dump_and_restore_client_run_inside_the_database(site: dict[str, Any]) -> None:
    dump = docker(site, "exec", "-i", "wpfleet-blog-db", "sh", "-c", DUMP_IN_CONTAINER)
    assert dump.returncode == 0, dump.stderr
    assert dump.stdout.rstrip().splitlines()[-1].startswith(DUMP_DONE)
    posts = wp(site, "post", "list", "--format=count").stdout
    wp(site, "post", "delete", "1", "--force")
    assert wp(site, "post", "list", "--format=count").stdout != posts
    sql = "DROP DATABASE IF EXISTS `wordpress`; CREATE DATABASE `wordpress`; USE `wordpress`;\n"
    load = docker(site, "exec", "-i", "wpfleet-blog-db", "sh", "-c", CLIENT_IN_CONTAINER,
                  stdin=sql + dump.stdout)
    assert load.returncode == 0, load.stderr
    assert wp(site, "post", "list", "--format=count").stdout == posts


def test_update_db_runs_wordpress_upgrade(site: dict[str, Any]) -> None:
    current = wp(site, "option", "get", "db_version").stdout.strip()
    assert wp(site, "option", "update", "db_version", "50000").returncode == 0
    done = wp(site, "core", "update-db")
    assert done.stdout == (f"Success: WordPress database upgraded successfully from db version 50000"
                           f" to {current}.\n"), done.stderr
    assert wp(site, "option", "get", "db_version").stdout.strip() == current


def test_user_and_post_commands_use_wordpress_functions(site: dict[str, Any]) -> None:
    admin = site["site"].admin_user
    table = wp(site, "user", "list").stdout.splitlines()  # wp-cli's default table, piped
    assert table[0] == "ID\tuser_login\tdisplay_name\tuser_email\tuser_registered\troles"
    assert table[1].split("\t")[1] == admin and len(table) == 2
    users = json.loads(wp(site, "user", "list", "--format=json").stdout)
    assert [u["user_login"] for u in users] == [admin] and users[0]["roles"] == "administrator"
    assert wp(site, "user", "get", admin, "--field=ID").stdout == f"{users[0]['ID']}\n"
    done = wp(site, "user", "update", admin, "--user_pass=rotated pw 2", "--skip-email")
    assert done.stdout == f"Success: Updated user {users[0]['ID']}.\n", done.stderr
    assert wp(site, "user", "check-password", admin, "rotated pw 2").returncode == 0
    assert wp(site, "user", "check-password", admin, ADMIN_PASSWORD).returncode == 1
    nobody = wp(site, "user", "get", "nobody", "--field=ID")
    assert (nobody.returncode, nobody.stderr) == (1, "Error: Invalid user ID, email or login: 'nobody'\n")
    pid = wp(site, "post", "create", "--post_title=Short-lived", "--porcelain").stdout.strip()
    assert wp(site, "post", "delete", pid).stdout == f"Success: Trashed post {pid}.\n"
    assert wp(site, "post", "get", pid, "--field=post_status").stdout == "trash\n"
    assert wp(site, "post", "delete", pid, "--force").stdout == f"Success: Deleted post {pid}.\n"
    assert wp(site, "post", "get", pid, "--field=ID").returncode == 1
    assert wp(site, "core", "version").stdout == wp(site, "eval", "echo get_bloginfo('version'), \"\\n\";").stdout
