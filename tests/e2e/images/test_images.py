"""The images carry the official images' config; load.sh loads each once, also over ssh."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.images import stand_ins
from tests.e2e.images.stand_ins import SSH_PORT
from tests.integration import sshd_env

pytestmark = pytest.mark.e2e


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
