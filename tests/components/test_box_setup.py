"""BoxSetup under mocks: which box commands exist for which config, their order, their secrets."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from components.config import parse
from components.render.box import basics as render_box
from tests.harness import BASE_CONFIG, SECRETS, Graph, Rec, run_stack

REMOTE = "command:remote:Command"
BOX_COMMANDS = ("box-docker-access", "box-preflight", "box-firewall", "box-ssh", "box-duckdns",
                "box-boot", "box-keeper")


def full_config() -> dict[str, Any]:
    cfg = copy.deepcopy(BASE_CONFIG)
    cfg["firewall"] = {"enabled": True, "allow": ["51820/udp"]}
    cfg["duckdns"] = {"domains": ["meljuju"]}
    cfg["box"]["hardenSsh"] = True
    return cfg


@pytest.fixture(scope="module")
def full() -> Graph:
    return run_stack(full_config())


def box_commands(g: Graph) -> list[str]:
    return [r.name for r in g.resources if r.name in BOX_COMMANDS]


def closure(g: Graph, rec: Rec) -> set[str]:
    """Every URN `rec` waits for, directly or through what it waits for."""
    seen: set[str] = set()
    todo = list(rec.deps)
    while todo:
        urn = todo.pop()
        if urn not in seen:
            seen.add(urn)
            todo.extend(g.by_urn(urn).deps)
    return seen


def test_minimal_config_has_only_preflight_and_boot() -> None:
    g = run_stack(BASE_CONFIG)
    assert sorted(box_commands(g)) == ["box-boot", "box-docker-access", "box-keeper",
                                       "box-preflight"]


def test_full_config_has_every_box_command_under_box_setup(full: Graph) -> None:
    assert sorted(box_commands(full)) == sorted(BOX_COMMANDS)
    setup = full.get("box-setup", "wpfleet:index:BoxSetup")
    for name in BOX_COMMANDS:
        rec = full.get(name, REMOTE)
        assert rec.parent_urn == setup.urn
        # the script sent is the rendered one (run as root through sudo: user is "deploy")
        assert rec.inputs["create"].startswith("sudo -n bash -c ")


@pytest.mark.parametrize("toggle, name", [
    ({"firewall": {"enabled": True}}, "box-firewall"),
    ({"duckdns": {"domains": ["meljuju"]}}, "box-duckdns"),
    ({"box": {**BASE_CONFIG["box"], "hardenSsh": True}}, "box-ssh"),
])
def test_each_feature_adds_exactly_its_command(toggle: dict[str, Any], name: str) -> None:
    g = run_stack({**copy.deepcopy(BASE_CONFIG), **toggle})
    assert sorted(box_commands(g)) == sorted(["box-docker-access", "box-preflight", "box-boot",
                                              "box-keeper", name])


def test_commands_run_in_order_preflight_first(full: Graph) -> None:
    recs = {n: full.get(n, REMOTE) for n in BOX_COMMANDS}
    assert recs["box-docker-access"].deps == set()
    for before, after in zip(BOX_COMMANDS, BOX_COMMANDS[1:], strict=False):
        assert recs[after].deps == {recs[before].urn}, after
    # same order as the render CLI writes them
    assert [c.name for c in render_box.commands(parse(full_config()))] == list(BOX_COMMANDS)


def test_docker_resources_wait_for_preflight(full: Graph) -> None:
    preflight = full.get("box-preflight", REMOTE).urn
    docker = [r for r in full.resources if r.type in ("docker:index/remoteImage:RemoteImage",
                                                      "docker:index/container:Container")]
    assert docker
    for rec in docker:
        assert preflight in closure(full, rec), rec.name


def test_apache_sites_wait_for_the_firewall_and_duckdns(full: Graph) -> None:
    firewall = full.get("box-firewall", REMOTE).urn
    duck = full.get("box-duckdns", REMOTE).urn
    confs = [r for r in full.of_type(REMOTE) if r.name.startswith("apache-conf-")]
    assert {r.name for r in confs} == {"apache-conf-blog", "apache-conf-shop", "apache-conf-api"}
    for rec in confs:
        assert {firewall, duck} <= closure(full, rec), rec.name


def test_duckdns_token_only_as_secret_stdin(full: Graph) -> None:
    rec = full.get("box-duckdns", REMOTE)
    assert "stdin" in rec.secret_inputs
    assert rec.inputs["stdin"] == SECRETS["duckdnsToken"] + "\n"
    assert SECRETS["duckdnsToken"] not in full.plain_text()
    assert SECRETS["duckdnsToken"] not in rec.inputs["create"] + rec.inputs["delete"]
    for name in BOX_COMMANDS:
        if name != "box-duckdns":
            assert "stdin" not in full.get(name, REMOTE).inputs


def test_firewall_rules_follow_config(full: Graph) -> None:
    create = full.get("box-firewall", REMOTE).inputs["create"]
    # SSH port, Apache ports and the extra rule, SSH first (allowed before ufw is enabled)
    assert "for rule in 2222/tcp 80/tcp 443/tcp 51820/udp; do" in create.replace("'\"'\"'", "")


def test_local_box_uses_local_commands() -> None:
    cfg = copy.deepcopy(BASE_CONFIG)
    cfg["box"] = {"host": "local"}
    g = run_stack(cfg, {})
    assert {r.name for r in g.of_type("command:local:Command")} >= {"box-preflight", "box-boot"}
    assert not [r for r in g.of_type(REMOTE) if r.name.startswith("box-")]
