"""box-keeper: wpfleet's containers stopped by hand are started again, never replaced.

The keeper runs here against a stand-in `docker` (a few lines of shell) and a fake systemctl;
on a real systemd box the e2e scenario stops a replica and watches it come back.
"""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

from components.config import parse
from components.render.box import basics
from components.render.box.keeper import KEEPER, UNIT, keeper
from tests.harness import BASE_CONFIG, run_stack

FAKE_DOCKER = """#!/bin/bash
# containers: $STATE/<name> holds "exited <finishedAt>" or "running"; starts are logged
case "$1" in
  ps) for f in "$STATE"/*; do read -r st _ < "$f"; [ "$st" = exited ] && basename "$f"; done ;;
  inspect) read -r _ at < "$STATE/${@: -1}"; echo "$at" ;;
  start) echo running > "$STATE/$2"; echo "$2" >> "$STARTED" ;;
esac
"""


def run_keeper(tmp_path: Path, containers: dict[str, str], held: tuple[str, ...] = ()
               ) -> tuple[list[str], str]:
    state, hold = tmp_path / "state", tmp_path / "hold"
    state.mkdir()
    hold.mkdir()
    for name, status in containers.items():
        (state / name).write_text(status + "\n")
    for name in held:
        (hold / name).touch()
    docker = tmp_path / "docker"
    docker.write_text(FAKE_DOCKER)
    docker.chmod(0o755)
    text = basics.files(parse(BASE_CONFIG))[KEEPER]
    env = {"PATH": "/usr/bin:/bin", "DOCKER": str(docker), "STATE": str(state),
           "STARTED": str(tmp_path / "started"), "WPFLEET_HOLD_DIR": str(hold)}
    done = subprocess.run(["bash", "-c", text], env=env, capture_output=True, text=True,
                          timeout=30, check=True)
    started = tmp_path / "started"
    return (started.read_text().split() if started.exists() else []), done.stdout


def ago(seconds: int) -> str:
    at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=seconds)
    return "exited " + at.strftime("%Y-%m-%dT%H:%M:%S.000000000Z")


def test_a_container_stopped_a_while_ago_is_started(tmp_path: Path) -> None:
    started, out = run_keeper(tmp_path, {
        "wpfleet-blog-wp-1": ago(600),       # stopped by hand 10 minutes ago
        "wpfleet-blog-wp-0": "running",
        "wpfleet-blog-db": ago(30),          # just stopped: maybe being replaced right now
        "wpfleet-shop-wp-0": ago(900),       # held (wpfleet-restore, or the operator)
    }, held=("wpfleet-shop-wp-0",))
    assert started == ["wpfleet-blog-wp-1"]
    assert "started wpfleet-blog-wp-1" in out and "wpfleet-shop-wp-0 is held" in out


def test_every_container_lets_the_keeper_start_it() -> None:
    """must_run=False: the provider reads a stopped container's ports back as none; with
    must_run=True a refresh would make the next `up` replace the container (issue 20 item 7)."""
    graph = run_stack(BASE_CONFIG)
    containers = graph.of_type("docker:index/container:Container")
    assert containers and all(c.inputs.get("mustRun") is False for c in containers)
    assert all(c.inputs["restart"] == "unless-stopped" for c in containers)
    assert graph.get("box-keeper", "command:remote:Command")


def test_keeper_command_installs_and_removes_its_timer(tmp_path: Path) -> None:
    cmd = keeper(parse(BASE_CONFIG))
    log = tmp_path / "systemctl.log"
    systemctl = tmp_path / "systemctl"
    systemctl.write_text(f'#!/bin/sh\necho "$*" >> {log}\n[ "$1" != is-enabled ]\n')
    systemctl.chmod(0o755)
    env = {"PATH": "/usr/bin:/bin", "SYSTEMCTL": str(systemctl),
           "WPFLEET_LIB": str(tmp_path / "lib"), "SYSTEMD_UNIT_DIR": str(tmp_path / "units")}
    first = subprocess.run(["bash", "-c", cmd.create], env=env, capture_output=True, text=True,
                           timeout=30, check=True)
    assert (tmp_path / "lib" / "keeper").stat().st_mode & 0o111
    assert (tmp_path / "units" / f"{UNIT}.timer").exists()
    assert f"enable --now {UNIT}.timer" in log.read_text() and "wrote" in first.stdout
    assert cmd.delete is not None
    subprocess.run(["bash", "-c", cmd.delete], env=env, check=True, capture_output=True,
                   timeout=30)
    assert not (tmp_path / "lib" / "keeper").exists()
