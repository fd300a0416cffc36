"""The rendered box scripts as text (fast checks); the integration tests run them for real."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest

from components.config import StackConfig, parse
from components.render.__main__ import write_plan
from components.render.box import basics as box
from components.render.box.duckdns import TOKEN_FILE, UPDATER
from components.render.box.firewall import rules
from components.render.box.ssh import DROP_IN
from tests.harness import HOST_KEY

FULL = {"box": {"host": "box.example.org", "port": 2222, "hardenSsh": True, "hostKey": HOST_KEY,
                "installDocker": True, "minFreeDiskMb": 4096},
        "apache": {"httpPort": 8080, "httpsPort": 8443},
        "duckdns": {"domains": ["meljuju", "other"], "updateUrl": "https://dd.example.org/u"},
        "duckdnsToken": "x", "firewall": {"enabled": True, "allow": ["51820/udp", "8080"]}}


def stack(**overrides: object) -> StackConfig:
    return parse({**FULL, **overrides})


def test_command_names_and_order() -> None:
    assert [c.name for c in box.commands(parse(FULL))] == [
        "box-docker-access", "box-preflight", "box-firewall", "box-ssh", "box-duckdns", "box-boot",
        "box-keeper"]
    minimal = parse({"box": {"host": "box.example.org", "hostKey": HOST_KEY}})
    assert [c.name for c in box.commands(minimal)] == [
        "box-docker-access", "box-preflight", "box-boot", "box-keeper"]
    assert set(box.files(minimal)) == {"/usr/local/lib/wpfleet/keeper",
                                       "/etc/systemd/system/wpfleet-keeper.service",
                                       "/etc/systemd/system/wpfleet-keeper.timer"}


def test_every_script_is_strict_bash_and_parses() -> None:
    for cmd in box.commands(parse(FULL)):
        for text in filter(None, (cmd.create, cmd.update, cmd.delete)):
            assert text.startswith("#!/bin/bash\nset -euo pipefail\n"), cmd.name
            check = subprocess.run(["bash", "-n"], input=text, text=True, capture_output=True)
            assert check.returncode == 0, f"{cmd.name}: {check.stderr}"


def test_preflight_uses_config_values() -> None:
    access, text = (c.create for c in box.commands(parse(FULL))[:2])
    assert "for port in 8080 8443; do" in text
    assert '-lt 4096 ]' in text
    assert "-o DPkg::Lock::Timeout=600 install -y -q docker.io" in access
    assert "install -y" not in text
    plain = box.commands(parse({"box": {"host": "box.example.org", "hostKey": HOST_KEY}}))
    assert all("install -y" not in c.create for c in plain[:2])


def test_docker_access_depends_on_the_connection_settings_only() -> None:
    """The Docker provider's settings come from box-docker-access's stdout: a site, port or
    threshold must not change its script (preview would show every Docker resource changing)."""
    def access(config: dict[str, Any]) -> str:
        return box.commands(parse(config))[0].create
    blog = {"name": "blog", "domain": "blog.example.org", "port": 8082}
    base: dict[str, Any] = {**FULL, "acme": {"email": "a@example.org"}, "sites": [blog]}
    more = {**base, "sites": [blog, {"name": "news", "domain": "news.example.org", "port": 8100}],
            "apache": {"httpPort": 8081, "httpsPort": 8444}, "firewall": {"enabled": False}}
    assert access(more) == access(base)
    assert access({**base, "box": {**base["box"], "user": "deploy"}}) != access(base)


def test_firewall_rules_ssh_first_deduplicated() -> None:
    # 8080 is both Apache's port and an extra rule: added once
    assert rules(parse(FULL)) == ["2222/tcp", "8080/tcp", "8443/tcp", "51820/udp"]
    cmd = box.commands(parse(FULL))[2]
    create = cmd.create
    assert create.index("allow \"$rule\"") < create.index("--force enable")
    assert cmd.delete is not None and "[ \"$rule\" = 2222/tcp ] && continue" in cmd.delete
    assert cmd.update == cmd.create  # a changed rule set re-applies in place


def test_ssh_drop_in_content() -> None:
    conf = box.files(parse(FULL))[DROP_IN]
    lines = conf.splitlines()
    assert lines[1:8] == [
        "Port 2222", "PubkeyAuthentication yes", "AuthenticationMethods publickey",
        "PasswordAuthentication no", "KbdInteractiveAuthentication no",
        "PermitEmptyPasswords no", "PermitRootLogin prohibit-password"]
    # the rest (forwarding off, MaxAuthTries, algorithms) is checked by ssh-audit against a
    # real sshd: tests/integration/test_ssh_hardening_real.py
    assert DROP_IN not in box.files(stack(box={"host": "box.example.org", "hostKey": HOST_KEY}))


def test_duckdns_files_and_command() -> None:
    files = box.files(parse(FULL))
    updater = files[UPDATER]
    assert "url=https://dd.example.org/u" in updater and "domains=meljuju,other" in updater
    assert "--config -" in updater  # the token reaches curl on stdin, not argv
    assert "ExecStart=" + UPDATER in files["/etc/systemd/system/wpfleet-duckdns.service"]
    timer = files["/etc/systemd/system/wpfleet-duckdns.timer"]
    assert "OnBootSec=" in timer and "OnUnitActiveSec=5min" in timer
    cmd = box.commands(parse(FULL))[4]
    assert cmd.stdin_secret == "duckdnsToken" and TOKEN_FILE in cmd.create
    assert cmd.delete is not None and "disable --now wpfleet-duckdns.timer" in cmd.delete


def test_hostile_values_never_reach_a_script() -> None:
    with pytest.raises(Exception, match="updateUrl"):
        parse({**FULL, "duckdns": {"domains": ["a"], "updateUrl": "https://x.org/$(id)"}})
    with pytest.raises(Exception, match="domains"):
        parse({**FULL, "duckdns": {"domains": ["a;reboot"]}})
    # validated values are still shell-quoted where they meet the shell
    url = "http://127.0.0.1:27001/update"
    text = box.files(parse({**FULL, "duckdns": {"domains": ["a"], "updateUrl": url}}))[UPDATER]
    assert f"url={shlex.quote(url)}\n" in text


def test_render_cli_writes_box_commands(tmp_path: Path) -> None:
    written = write_plan(box_plan(), tmp_path)
    names = sorted(p.name for p in written if p.parent.name == "commands")
    assert names == sorted([
        "box-docker-access.sh", "box-preflight.sh", "box-firewall.sh", "box-firewall.delete.sh", "box-ssh.sh",
        "box-ssh.delete.sh", "box-duckdns.sh", "box-duckdns.delete.sh", "box-boot.sh",
        "box-keeper.sh", "box-keeper.delete.sh"])
    assert (tmp_path / UPDATER.lstrip("/")).exists()
    assert (tmp_path / DROP_IN.lstrip("/")).exists()


def box_plan():  # noqa: ANN201 - BoxPlan of the box module only
    from components.render import BoxPlan
    s = parse(FULL)
    return BoxPlan(files=box.files(s), commands=tuple(box.commands(s)))
