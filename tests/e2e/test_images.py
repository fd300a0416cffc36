"""The stand-in images (tests/e2e/images) keep the official images' contract wpfleet relies on.

One private dockerd for the module (own network namespace, vfs), the images loaded by load.sh,
and one site ("blog", two replicas) created from the program's own recorded inputs (mocks): its
networks, volumes, environment, mounts, health checks, stop timeouts, exactly as declared; only
the health checks' interval is shortened. Then wpfleet's own rendered scripts run against it:
the site files (wp-site-blog), the install (wordpress-blog), `wpfleet-wp`, the WP-Cron runner,
the backup's dump and the restore's client inside the database container.
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from components.config import parse
from components.render.backup.programs import CLIENT_IN_CONTAINER, DUMP_DONE, DUMP_IN_CONTAINER
from components.render.wordpress import install, tools
from components.render.wordpress.php import MAIL_IN_CONTAINER, post_max_mb
from tests.e2e import stand_ins
from tests.e2e.stand_ins import DockerApi, create_container, wait_healthy
from tests.harness import BASE_CONFIG, run_stack
from tests.integration import docker_env, sshd_env

pytestmark = pytest.mark.e2e
ADMIN_PASSWORD = "stand-in admin pw 1"  # noqa: S105 - a throwaway test site's
NETNS = f"wpf-test-img{os.getpid()}"
SSH_PORT = 22226  # not the other sshd tests' ports: they may run in one session


def storage_driver() -> str:
    """overlay2 where /tmp is a plain disk file system (a container starts in a fraction of a
    second; vfs copies its 200-300 MB image each time), else vfs."""
    mounts = [line.split() for line in Path("/proc/mounts").read_text().splitlines()]
    fstype = max((m for m in mounts if "/tmp/".startswith(m[1].rstrip("/") + "/")),
                 key=lambda m: len(m[1]))[2]
    return "overlay2" if fstype in ("ext4", "xfs", "btrfs") else "vfs"


@pytest.fixture(scope="module")
def daemon() -> Iterator[dict[str, Any]]:
    """A private dockerd holding the stand-in images (built or found in the cache)."""
    missing = stand_ins.missing_tools() or docker_env.missing_tools()
    if missing:
        pytest.skip(missing)
    cache_dir, missing = stand_ins.build_images()
    if cache_dir is None:
        pytest.skip(missing)
    with docker_env.private_dockerd(NETNS, storage=storage_driver()) as sock:
        subprocess.run(["ip", "-n", NETNS, "link", "set", "lo", "up"], check=True, timeout=30)
        start = time.monotonic()
        first = stand_ins.load_images(cache_dir, sock)
        loaded = time.monotonic() - start
        env = {**os.environ, "DOCKER_HOST": f"unix://{sock}"}
        yield {"sock": sock, "cache": cache_dir, "api": DockerApi(sock), "env": env,
               "first_load": first, "load_seconds": loaded}
        for c in DockerApi(sock).call("GET", "/containers/json?all=1"):  # else dockerd waits
            DockerApi(sock).call("DELETE", f"/containers/{c['Id']}?force=1")


@pytest.fixture(scope="module")
def site(daemon: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Site "blog" as the program declares it: files, networks, volumes, DB, two replicas."""
    config = copy.deepcopy(BASE_CONFIG)
    config["sites"] = [{**config["sites"][0], "php": {"uploadMaxMb": 16},
                        # no egress here: WordPress would wait on api.wordpress.org in WP-Cron
                        "wpConfig": {"WP_HTTP_BLOCK_EXTERNAL": True}}]
    stack = parse(copy.deepcopy(config))
    blog = stack.sites[0]
    graph = run_stack(config)
    root = tmp_path_factory.mktemp("box")
    env = {**daemon["env"], "WPFLEET_ROOT": str(root)}
    for cmd in (tools.tools_command(), tools.site_command(blog)):
        done = subprocess.run(["bash", "-c", cmd.create], env=env, capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 0, done.stderr
    api = daemon["api"]
    for net in graph.of_type("docker:index/network:Network"):
        api.call("POST", "/networks/create", {"Name": net.inputs["name"], "Driver": "bridge",
                                              "Internal": net.inputs["internal"]})
    for vol in graph.of_type("docker:index/volume:Volume"):
        api.call("POST", "/volumes/create", {"Name": vol.inputs["name"]})
    # the site's own name resolves on its web network, as on a real box (here to a container
    # that listens nowhere): WordPress's requests to itself (HTTPS detection in WP-Cron, the
    # permalink test of the install) are refused at once instead of waiting on resolvers this
    # namespace cannot reach (10 s per lookup)
    api.call("POST", "/containers/create?name=blog-name", {
        "Image": blog.mariadb_image, "Entrypoint": ["sleep", "infinity"],
        "HostConfig": {"NetworkMode": "wpfleet-blog-web"}, "NetworkingConfig": {"EndpointsConfig": {
            "wpfleet-blog-web": {"Aliases": list(blog.domains)}}}})
    api.call("POST", "/containers/blog-name/start")
    timings = {}
    for name, image in (("blog-db", blog.mariadb_image), ("blog-wp-0", blog.wordpress_image),
                        ("blog-wp-1", blog.wordpress_image)):
        inputs = graph.get(name).inputs
        create_container(api, inputs, image, root, health_interval="1s")
        timings[name] = wait_healthy(api, inputs["name"], float(inputs["waitTimeout"]))
    return {"stack": stack, "site": blog, "graph": graph, "root": root, "env": env,
            "api": api, "timings": timings}


def sh(site: dict[str, Any], script: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", script], input=stdin, env=site["env"], capture_output=True,
                          text=True, timeout=600)


def docker(site: dict[str, Any], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], input=stdin, env=site["env"], capture_output=True,
                          text=True, timeout=300)


def wp(site: dict[str, Any], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """`wpfleet-wp blog ARGS...`: the rendered wrapper, as an operator runs it on the box."""
    return subprocess.run([str(site["root"] / tools.WP_BIN.lstrip("/")), "blog", *args], input=stdin,
                          env=site["env"], capture_output=True, text=True, timeout=300)


def http(site: dict[str, Any], port: int, path: str, *headers: str) -> tuple[int, str]:
    """GET from inside the daemon's network namespace, where the published ports listen."""
    argv = ["nsenter", f"--net=/run/netns/{NETNS}", "curl", "-sS", "-o", "-", "-w", "\n%{http_code}"]
    for h in headers:
        argv += ["-H", h]
    done = subprocess.run([*argv, f"http://127.0.0.1:{port}{path}"], capture_output=True,
                          text=True, timeout=60, check=True)
    body, _, code = done.stdout.rpartition("\n")
    return int(code), body


def test_images_carry_the_official_config_and_load_idempotently(daemon: dict[str, Any]) -> None:
    manifest = [line.split("\t") for line in (daemon["cache"] / "manifest").read_text().splitlines()]
    assert {m[0] for m in manifest} == {"wordpress:6.8.3-php8.3-apache", "mariadb:11.4.8",
                                        "wordpress:cli-2.12.0-php8.3"}
    config = {m[0]: daemon["api"].call("GET", f"/images/{m[0]}/json")["Config"] for m in manifest}
    wordpress, mariadb, cli = (config[t] for t in ("wordpress:6.8.3-php8.3-apache", "mariadb:11.4.8",
                                                    "wordpress:cli-2.12.0-php8.3"))
    assert wordpress["StopSignal"] == "SIGWINCH"  # Apache's graceful stop
    assert wordpress["Entrypoint"] == ["docker-entrypoint.sh"] and wordpress["Cmd"] == ["apache2-foreground"]
    assert wordpress["Volumes"] == {"/var/www/html": {}} and wordpress["WorkingDir"] == "/var/www/html"
    assert mariadb["Volumes"] == {"/var/lib/mysql": {}} and mariadb["Cmd"] == ["mariadbd"]
    assert "3306/tcp" in mariadb["ExposedPorts"] and "80/tcp" in wordpress["ExposedPorts"]
    assert cli["User"] == "www-data" and cli["Cmd"] == ["wp", "shell"]
    again = stand_ins.load_images(daemon["cache"], daemon["sock"])
    assert again.count("already loaded") == 3, again
    print(f"first load {daemon['load_seconds']:.1f} s:\n{daemon['first_load']}")


def test_database_initialises_its_volume_and_serves_the_site(site: dict[str, Any]) -> None:
    db = site["api"].inspect("wpfleet-blog-db")
    assert db["State"]["Health"]["Status"] == "healthy"
    assert db["Config"]["Healthcheck"]["Test"] == ["CMD", "healthcheck.sh", "--connect", "--innodb_initialized"]
    logs = docker(site, "logs", "wpfleet-blog-db").stderr
    assert logs.count("Initializing database files") == 1
    # the application user reaches its database over the network as "db" (from a replica)
    done = docker(site, "exec", "wpfleet-blog-wp-0", "php", "-r",
                  '$m = new mysqli("db", getenv("WORDPRESS_DB_USER"), getenv("WORDPRESS_DB_PASSWORD"),'
                  ' getenv("WORDPRESS_DB_NAME")); echo $m->query("SELECT DATABASE()")->fetch_row()[0];')
    assert done.stdout == "wordpress", done.stderr
    print(f"healthy after (s): {site['timings']}")


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
    runner = site["root"] / tools.CRON_RUNNER.lstrip("/")
    done = subprocess.run([str(runner), "blog"], env=site["env"], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert re.search(r"Success: Executed a total of \d+ cron events?\.", done.stdout)
    print(done.stdout)
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
                 ["option", "get", "home", "--format=yaml"], ["user", "list"]):
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


def test_restart_keeps_data_and_stops_are_graceful(site: dict[str, Any]) -> None:
    api = site["api"]
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
    assert wp(site, "core", "is-installed").returncode == 0


def test_update_db_runs_wordpress_upgrade(site: dict[str, Any]) -> None:
    current = wp(site, "option", "get", "db_version").stdout.strip()
    assert wp(site, "option", "update", "db_version", "50000").returncode == 0
    done = wp(site, "core", "update-db")
    assert done.stdout == (f"Success: WordPress database upgraded successfully from db version 50000"
                           f" to {current}.\n"), done.stderr
    assert wp(site, "option", "get", "db_version").stdout.strip() == current


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


def test_wordpress_file_variants_prefix_and_debug(site: dict[str, Any]) -> None:
    """A second WordPress on the site's database: *_FILE variables, table prefix, WP_DEBUG."""
    secrets = site["root"] / "wp-secrets"
    secrets.mkdir()
    db_password = next(e.split("=", 1)[1] for e in site["graph"].get("blog-wp-0").inputs["envs"]
                       if e.startswith("WORDPRESS_DB_PASSWORD="))
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


def test_load_over_ssh_adds_a_second_tag(daemon: dict[str, Any], tmp_path: Path) -> None:
    """DOCKER_HOST=ssh://…, as the box is reached: a tag a test stack adds is loaded over ssh."""
    sshd_env.require_ssh()
    cache, _ = stand_ins.build_images("--cli", "wordpress:cli-2.12.0-php8.3", "--cli", "wpfleet-test/cli:ssh")
    assert cache is not None
    lines = (cache / "manifest").read_text().splitlines()
    assert [line.split("\t")[0] for line in lines if line.split("\t")[1] == "cli"] == [
        "wordpress:cli-2.12.0-php8.3", "wpfleet-test/cli:ssh"]
    with sshd_env.SshdEnv(tmp_path, port=SSH_PORT) as env:
        env.write_config(set_env={"DOCKER_HOST": f"unix://{daemon['sock']}"})
        env.start()
        env_vars = {**os.environ, "DOCKER_HOST": f"ssh://root@127.0.0.1:{SSH_PORT}",
                    "LOAD_SSH_OPTS": f"-i {env.key} -o IdentitiesOnly=yes -o BatchMode=yes"
                                     f" -o UserKnownHostsFile={env.known_hosts} -o StrictHostKeyChecking=yes"}
        done = subprocess.run([str(stand_ins.IMAGES / "load.sh"), str(cache)], env=env_vars,
                              capture_output=True, text=True, timeout=600, check=False)
        assert done.returncode == 0, done.stderr
    assert "load.sh: wpfleet-test/cli:ssh: loaded sha256:" in done.stdout, done.stdout
    assert done.stdout.count("already loaded") == 3  # the three pinned tags were not sent again
    api = daemon["api"]
    assert (api.call("GET", "/images/wpfleet-test/cli:ssh/json")["Id"]
            == api.call("GET", "/images/wordpress:cli-2.12.0-php8.3/json")["Id"])


def test_user_and_post_commands_use_wordpress_functions(site: dict[str, Any]) -> None:
    admin = site["site"].admin_user
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
