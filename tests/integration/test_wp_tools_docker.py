"""`wpfleet-wp`, the WP-Cron runner and `wpfleet-logs` against a real Docker engine.

The replica is replayed from the program's own declared inputs (mocks): its environment, its
volume and the read-only ini/mail-plugin/secret-files mounts, whose files are written by the
rendered `wp-site-<site>` and `site-secrets-<site>` commands. Nothing can be pulled here, so the
wp-cli image is a stand-in built on the spot under the pinned tag: a `wp` that reports what it
sees (user, environment, wp-config extra, mounted files, secret files). Every docker argv of
the scripts is recorded: no secret on any.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from components.config import parse
from components.render.wordpress import secrets as site_secrets
from components.render.wordpress import tools as wp_tools
from components.render.wordpress.cli import WPCLI_IMAGE
from components.wordpress_site import config_extra
from tests.harness import BASE_CONFIG, SECRETS, run_stack
from tests.integration.docker_env import docker

pytestmark = pytest.mark.integration

SMTP_PW = "smtp-Pa55-word-42"
WP_STANDIN = """#!/bin/bash
echo "uid=$(id -u)"
echo "args=$*"
env | grep -E '^(WORDPRESS_|WPFLEET_)' | grep -v '^WORDPRESS_CONFIG_EXTRA=' | sort | sed 's/^/env:/'
echo "--extra--"; cat "$WORDPRESS_CONFIG_EXTRA_FILE"; echo "--end--"
echo "--ini--"; cat /usr/local/etc/php/conf.d/zz-wpfleet.ini; echo "--end--"
echo "--mail--"; cat /var/www/html/wp-content/mu-plugins/wpfleet-mail.php; echo "--end--"
for f in /run/secrets/wpfleet/*; do echo "secret:${f##*/}=$(cat "$f" || echo UNREADABLE)"; done
"""


def build_image(sock: Path, tag: str, tools: list[str], files: dict[str, str]) -> None:
    """An image holding these host binaries (with their libraries) and files."""
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        root.chmod(0o755)  # the image's / (mkdtemp made it 0700: closed to uid 33)
        for tool in tools:
            path = Path(shutil.which(tool) or tool).resolve()
            libs = re.findall(r"(/\S+\.so[.\d]*)", subprocess.run(
                ["ldd", str(path)], capture_output=True, text=True, check=False).stdout)
            for src in [str(path), *libs]:
                dest = root / src.lstrip("/")
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dest)
            (root / "bin").mkdir(exist_ok=True)
            if not (root / "bin" / tool).exists():
                (root / "bin" / tool).symlink_to(path)
        for name, text in files.items():
            dest = root / name.lstrip("/")
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_text(text)
            dest.chmod(0o755)
        (root / "lib64").mkdir(exist_ok=True)  # the loader's path in every binary
        if not (root / "lib64/ld-linux-x86-64.so.2").exists():
            shutil.copy2("/lib64/ld-linux-x86-64.so.2", root / "lib64")
        (root / "run").mkdir(exist_ok=True)
        (root / "tmp").mkdir(exist_ok=True)
        tar = subprocess.run(["tar", "-C", d, "-c", "."], capture_output=True, check=True,
                             timeout=60).stdout
    subprocess.run(["docker", "-H", f"unix://{sock}", "import", "--change",
                    "ENV PATH=/usr/local/bin:/usr/bin:/bin", "-", tag], input=tar,
                   capture_output=True, check=True, timeout=120)


@pytest.fixture
def box(dockerd: Path, tmp_path: Path) -> Iterator[dict[str, Any]]:
    config = copy.deepcopy(BASE_CONFIG)
    config["sites"][0].update(smtp={"host": "smtp.example.org", "user": "u@example.org",
                                    "from": "blog@example.org"},
                              wpConfig={"WP_POST_REVISIONS": 4}, php={"uploadMaxMb": 16})
    stack = parse(copy.deepcopy(config))
    graph = run_stack(config, secrets={**SECRETS, "smtpPassword": json.dumps({"blog": SMTP_PW})})
    root = tmp_path / "root"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    argv_log = tmp_path / "docker-argv"
    wrapper = bin_dir / "docker"  # the scripts' docker: records argv, runs the real client
    wrapper.write_text(f'#!/bin/bash\nprintf "%s\\n" "$*" >> {argv_log}\n'
                       f'exec {shutil.which("docker")} -H unix://{dockerd} "$@"\n')
    wrapper.chmod(0o755)
    env = {**os.environ, "WPFLEET_ROOT": str(root), "DOCKER": str(wrapper),
           "PATH": f"{bin_dir}:{os.environ['PATH']}", "APACHE_LOG_DIR": str(tmp_path / "logs")}
    secrets_stdin = graph.get("site-secrets-blog").inputs["stdin"]
    for cmd, stdin in ((wp_tools.tools_command(), ""), (wp_tools.site_command(stack.sites[0]), ""),
                       (site_secrets.secrets_command(stack.sites[0]), secrets_stdin)):
        out = subprocess.run(["bash", "-c", cmd.create], env=env, capture_output=True,
                             text=True, timeout=60, input=stdin)
        assert out.returncode == 0, out.stderr
    build_image(dockerd, "wpfleet-test/replica:1", ["bash", "sleep"], {})
    build_image(dockerd, WPCLI_IMAGE, ["bash", "cat", "id", "env", "grep", "sort", "sed"],
                {"/usr/local/bin/wp": WP_STANDIN})
    replica = graph.get("blog-wp-0").inputs
    docker(dockerd, "volume", "create", "wpfleet-blog-html")
    start_replica(dockerd, root, replica)
    files = {k.split("/", 1)[1]: v for k, v in (line.split("=", 1)
                                                for line in secrets_stdin.splitlines())
             if k.startswith("wordpress/")}
    secrets = list(files.values())
    assert SMTP_PW in secrets and len(secrets) == 10
    yield {"env": env, "root": root, "argv": argv_log, "secrets": secrets, "files": files,
           "stack": stack,
           "replica": replica, "replica1": graph.get("blog-wp-1").inputs, "dockerd": dockerd}
    for name in ("wpfleet-blog-wp-0", "wpfleet-blog-wp-1"):  # else dockerd waits 10 s on them
        docker(dockerd, "rm", "-f", name, check=False)


def start_replica(sock: Path, root: Path, replica: dict[str, Any]) -> None:
    """A replica as the program declares it (env, volumes, labels), running a stand-in image."""
    run = ["run", "-d", "--name", replica["name"], "--network", "none"]
    run += [f"--env={e}" for e in replica["envs"]]
    for v in replica["volumes"]:
        if "volumeName" in v:
            run += ["-v", f"{v['volumeName']}:{v['containerPath']}"]
        else:  # the box path, under the scratch root the rendered command wrote to
            run += ["-v", f"{root}{v['hostPath']}:{v['containerPath']}:ro"]
    run += [f"--label={x['label']}={x['value']}" for x in replica["labels"]]
    docker(sock, *run, "wpfleet-test/replica:1", "/bin/bash", "-c",
           "echo replica up; exec sleep 600")


def test_wpfleet_wp_runs_the_cli_as_the_web_user_with_the_sites_config(box: dict[str, Any]) -> None:
    wp = box["root"] / wp_tools.WP_BIN.lstrip("/")
    before = set(Path("/run").glob("wpfleet-wp*"))
    out = subprocess.run([str(wp), "blog", "option", "get", "home"], env=box["env"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "uid=33\n" in text and "args=option get home\n" in text
    env = dict(line[4:].split("=", 1) for line in text.splitlines() if line.startswith("env:"))
    # no secret in the cli's environment: the replica's _FILE variables, and the files they
    # name readable by the cli's www-data through --volumes-from (punctuated salts intact)
    assert not [k for k in env if re.search(r"(PASSWORD|KEY|SALT)$", k)]
    seen = dict(line[7:].split("=", 1) for line in text.splitlines() if line.startswith("secret:"))
    assert seen == box["files"]
    for name in box["files"]:
        assert env[f"{name}_FILE"] == f"{site_secrets.IN_CONTAINER}/{name}"
    assert seen["WPFLEET_SMTP_PASSWORD"] == SMTP_PW
    assert env["WORDPRESS_DB_HOST"] == "db:3306"
    # the multi-line wp-config extra, through a file the web user can read
    extra = text.split("--extra--\n")[1].split("--end--")[0]
    assert extra.rstrip("\n") == config_extra(box["stack"].sites[0]).rstrip("\n")
    assert "define('WP_POST_REVISIONS', 4);" in extra
    # the replica's read-only mounts come along (--volumes-from): same PHP limits, mail plugin
    assert "upload_max_filesize = 16M" in text.split("--ini--")[1]
    assert "$mailer->Host = 'smtp.example.org';" in text.split("--mail--")[1]
    recorded = box["argv"].read_text()
    for secret in box["secrets"]:
        assert secret not in recorded
    assert set(Path("/run").glob("wpfleet-wp*")) == before  # temp files removed
    # one engine per test costs ~12 s: the cron runner, the logs and a stopped replica 0 on it
    cron_runner_and_logs(box)
    replica_zero_stopped(box)


def cron_runner_and_logs(box: dict[str, Any]) -> None:
    runner = box["root"] / wp_tools.CRON_RUNNER.lstrip("/")
    out = subprocess.run([str(runner), "blog"], env=box["env"], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert "args=cron event run --due-now\n" in out.stdout
    logs = box["root"] / wp_tools.LOGS_BIN.lstrip("/")
    (Path(box["env"]["APACHE_LOG_DIR"])).mkdir()
    (Path(box["env"]["APACHE_LOG_DIR"]) / "wpfleet-blog-access_log").write_text("GET / 200\n")
    shown = subprocess.run([str(logs), "blog"], env=box["env"], capture_output=True, text=True,
                           timeout=60)
    assert shown.returncode == 0, shown.stderr
    assert "GET / 200" in shown.stdout
    assert re.search(r"==> container wpfleet-blog-wp-0 <==\n\S+ replica up", shown.stdout)
    recorded = box["argv"].read_text()
    for secret in box["secrets"]:
        assert secret not in recorded


def replica_zero_stopped(box: dict[str, Any]) -> None:
    """Replica 0 stopped, replica 1 running: wp-cli and cron go through replica 1."""
    sock, wp = box["dockerd"], box["root"] / wp_tools.WP_BIN.lstrip("/")
    start_replica(sock, box["root"], box["replica1"])
    docker(sock, "kill", "wpfleet-blog-wp-0")  # its PID 1 (sleep) would ignore a SIGTERM
    box["argv"].write_text("")
    out = subprocess.run([str(wp), "blog", "option", "get", "home"], env=box["env"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "uid=33\n" in out.stdout and "args=option get home\n" in out.stdout
    extra = out.stdout.split("--extra--\n")[1].split("--end--")[0]  # replica 1's wp-config extra
    assert extra.rstrip("\n") == config_extra(box["stack"].sites[0]).rstrip("\n")
    runs = [c for c in box["argv"].read_text().splitlines() if c.startswith("run ")]
    assert len(runs) == 1
    assert "--volumes-from wpfleet-blog-wp-1 --network container:wpfleet-blog-wp-1 " in runs[0]
    runner = box["root"] / wp_tools.CRON_RUNNER.lstrip("/")
    cron = subprocess.run([str(runner), "blog"], env=box["env"], capture_output=True, text=True,
                          timeout=120)
    assert cron.returncode == 0, cron.stderr
    assert "args=cron event run --due-now\n" in cron.stdout
    # none running: a clear error naming the site, no wp-cli container started
    docker(sock, "kill", "wpfleet-blog-wp-1")
    box["argv"].write_text("")
    none = subprocess.run([str(wp), "blog", "option", "get", "home"], env=box["env"],
                          capture_output=True, text=True, timeout=120)
    assert none.returncode == 1
    assert none.stderr == ("wpfleet: no WordPress replica of site 'blog' is running"
                           " (wpfleet-blog-wp-0 wpfleet-blog-wp-1): start one"
                           " (docker start wpfleet-blog-wp-0) and retry\n")
    assert not any(c.startswith("run ") for c in box["argv"].read_text().splitlines())
    recorded = box["argv"].read_text()
    for secret in box["secrets"]:
        assert secret not in recorded
