"""A stock sshd (`MaxStartups 10:30:100`) and the burst of connections a large stack opens.

pulumi-command opens one SSH connection per command resource; once the preflight passed, all of
a 10-site stack's site commands (60+) become ready at once. box-docker-access, the first command
of every `up` (before that burst), raises sshd's limits in a drop-in (issue 20 item 4). Here on a
real sshd with Debian's layout (Include of sshd_config.d first): the effective limits before and
after, and 60 parallel fresh connections, each its own handshake and login, all accepted.
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from components.config import parse
from components.render.box.preflight import docker_access
from tests.integration.sshd_env import SshdEnv, require_ssh

pytestmark = pytest.mark.integration
PORT = 22291
HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAITestHostKey"


@pytest.fixture
def stock(tmp_path: Path) -> Iterator[SshdEnv]:
    require_ssh()
    with SshdEnv(tmp_path, port=PORT) as env:
        env.write_config()
        env.start()
        yield env


def effective(env: SshdEnv, name: str) -> str:
    out = subprocess.run(["/usr/sbin/sshd", "-T", "-f", str(env.config)], capture_output=True,
                         text=True, timeout=30, check=True).stdout
    return next(line for line in out.splitlines() if line.startswith(name + " "))


def burst(env: SshdEnv, count: int) -> list[int]:
    results: list[int] = []
    lock = threading.Lock()

    def one() -> None:
        done = subprocess.run([*env.ssh_args("root", "-o", "ConnectTimeout=20"), "echo ok"],
                              capture_output=True, text=True, timeout=120, check=False)
        with lock:
            results.append(0 if done.stdout.strip() == "ok" else done.returncode or 99)

    threads = [threading.Thread(target=one) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_docker_access_raises_a_stock_sshds_limits_before_the_burst(stock: SshdEnv,
                                                                    tmp_path: Path) -> None:
    assert effective(stock, "maxstartups") == "maxstartups 10:30:100"  # Debian's default
    # control: such a burst on the stock limits loses connections (seen: 17-23 of 60 refused)
    assert burst(stock, 60).count(0) < 60
    systemctl = tmp_path / "systemctl"  # `reload ssh` = SIGHUP to this sshd (its re-exec)
    assert stock.proc is not None
    systemctl.write_text(f'#!/bin/sh\n[ "$1" = reload ] && kill -HUP {stock.proc.pid}\n')
    systemctl.chmod(0o755)
    script = docker_access(parse({"box": {"host": "box.example.org", "hostKey": HOST_KEY}})).create
    env = {**os.environ, "SSHD_CONFIG": str(stock.config), "SYSTEMCTL": str(systemctl),
           "SSHD_LIMITS_DROP_IN": str(stock.drop_in_dir / "01-wpfleet-connections.conf"),
           "DOCKER": "/nonexistent-docker", "WPFLEET_ETC": str(tmp_path / "etc")}
    done = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert "raised sshd's MaxStartups/MaxSessions" in done.stdout
    assert effective(stock, "maxstartups") == "maxstartups 100:30:200"
    assert effective(stock, "maxsessions") == "maxsessions 50"
    again = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True,
                           timeout=60, check=False)
    assert again.returncode == 0 and "raised" not in again.stdout  # idempotent
    results = burst(stock, 60)
    assert results == [0] * 60, results


def test_a_refused_drop_in_is_removed_and_the_run_goes_on(stock: SshdEnv, tmp_path: Path
                                                          ) -> None:
    fake_sshd = tmp_path / "refusing-sshd"  # an sshd that refuses every config
    fake_sshd.write_text("#!/bin/sh\nexit 1\n")
    fake_sshd.chmod(0o755)
    drop_in = stock.drop_in_dir / "01-wpfleet-connections.conf"
    script = docker_access(parse({"box": {"host": "box.example.org", "hostKey": HOST_KEY}})).create
    env = {**os.environ, "SSHD": str(fake_sshd), "SSHD_CONFIG": str(stock.config),
           "SYSTEMCTL": "/bin/false", "SSHD_LIMITS_DROP_IN": str(drop_in),
           "DOCKER": "/nonexistent-docker", "WPFLEET_ETC": str(tmp_path / "etc")}
    done = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0 and "docker-access-stamp=0" in done.stdout
    assert "sshd refused" in done.stderr and not drop_in.exists()
