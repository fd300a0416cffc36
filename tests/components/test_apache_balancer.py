"""ApacheBalancer under Pulumi mocks: its commands, their order and their stability."""

from __future__ import annotations

import copy
from typing import Any

import pulumi
import pulumi_command as command
import pytest
from pulumi.runtime import mocks, settings
from pulumi.runtime.stack import run_pulumi_func

from components.apache_balancer import ApacheBalancer, ApacheBalancerArgs
from components.box import Box, BoxArgs
from components.config import parse
from components.render import as_root, owned
from components.render.apache import vhost as apache
from tests.harness import BASE_CONFIG, SECRETS, FakeCloud, Graph, RecordingMonitor, run_stack

CMD = "command:remote:Command"


def build(raw: dict[str, Any]) -> tuple[Graph, ApacheBalancer]:
    """A Box, a stand-in `ready` resource and the ApacheBalancer, registered under mocks."""
    stack = parse(copy.deepcopy(raw))
    made: list[ApacheBalancer] = []

    def program() -> None:
        box = Box("box", BoxArgs(host=stack.box.host, port=stack.box.port, user=stack.box.user,
                                 host_key=stack.box.host_key,
                                 private_key=pulumi.Output.secret(SECRETS["sshPrivateKey"])))
        ready = command.local.Command("box-ready", create="true")
        made.append(ApacheBalancer("apache", ApacheBalancerArgs(stack=stack, box=box,
                                                                after=[ready])))

    settings.set_root_resource(None)  # type: ignore[arg-type]  # reset between runs
    pulumi.runtime.set_all_config({}, [])
    monitor = RecordingMonitor(FakeCloud())
    mocks.set_mocks(FakeCloud(), project="wpfleet", stack="test", monitor=monitor)
    mocks._sync_await(run_pulumi_func(program))
    return Graph(resources=monitor.records, outputs={}), made[0]


def names_of(graph: Graph, urns: set[str]) -> set[str]:
    return {graph.by_urn(u).name for u in urns}


def test_one_command_per_conf_under_the_component() -> None:
    graph, balancer = build(BASE_CONFIG)
    comp = graph.get("apache", "wpfleet:index:ApacheBalancer")
    cmds = [c for c in graph.of_type(CMD) if c.parent_urn == comp.urn]
    assert sorted(c.name for c in cmds) == [
        "apache-acme", "apache-conf-api", "apache-conf-blog", "apache-conf-shop", "apache-install"]
    assert sorted(balancer.confs) == ["api", "blog", "shop"]
    assert balancer.conf_paths["blog"] == "/etc/apache2/sites-available/wpfleet-blog.conf"


def test_install_after_ready_then_acme_then_confs() -> None:
    graph, _ = build(BASE_CONFIG)
    assert names_of(graph, graph.get("apache-install").deps) == {"box-ready"}
    assert names_of(graph, graph.get("apache-acme").deps) == {"apache-install"}
    for name in ("blog", "shop", "api"):
        # a conf waits for Apache and the ACME conf only, never for another site's conf
        assert names_of(graph, graph.get(f"apache-conf-{name}").deps) == {
            "apache-install", "apache-acme"}


def test_commands_run_the_rendered_scripts_with_update_and_delete() -> None:
    graph, _ = build(BASE_CONFIG)
    stack = parse(copy.deepcopy(BASE_CONFIG))
    blog = stack.sites[0]
    spec = owned(apache.conf_command(stack, blog), "apache-conf-blog")
    sudo = stack.box.user != "root"
    rec = graph.get("apache-conf-blog").inputs
    assert rec["create"] == as_root(spec.create, sudo)
    # an edited conf is re-applied in place (update), not replaced: no triggers
    assert rec["update"] == rec["create"]
    assert rec["delete"] == as_root(spec.delete or "", sudo)
    assert "removed:" in rec["delete"]
    assert not rec.get("triggers")
    assert "balancer://wpfleet-blog" in rec["create"]
    assert "TESTKEYMATERIALxyz" not in graph.plain_text()
    assert "connection" in graph.get("apache-conf-blog").secret_inputs


def test_adding_a_site_leaves_other_commands_unchanged() -> None:
    before, _ = build(BASE_CONFIG)
    raw = copy.deepcopy(BASE_CONFIG)
    raw["sites"].append({"name": "news", "domain": "news.example.org", "port": 8100,
                         "replicas": 3})
    after, _ = build(raw)
    old = {c.name: c.inputs for c in before.of_type(CMD)}
    new = {c.name: c.inputs for c in after.of_type(CMD)}
    assert set(new) - set(old) == {"apache-conf-news"}
    for name, inputs in old.items():
        assert new[name] == inputs, f"{name} changed when a site was added"
    assert "127.0.0.1:8102" in new["apache-conf-news"]["create"]


def test_changing_one_site_changes_only_its_command() -> None:
    before, _ = build(BASE_CONFIG)
    raw = copy.deepcopy(BASE_CONFIG)
    raw["sites"][1]["replicas"] = 2
    after, _ = build(raw)
    changed = {c.name for c in after.of_type(CMD)
               if c.inputs != before.get(c.name).inputs}
    assert changed == {"apache-conf-shop"}


def test_args_reject_a_non_stack() -> None:
    with pytest.raises(ValueError, match="ApacheBalancerArgs.stack"):
        ApacheBalancerArgs(stack={"sites": []}, box=None)  # type: ignore[arg-type]


def test_whole_program_wires_confs_before_certificates() -> None:
    graph = run_stack(BASE_CONFIG)
    for name in ("blog", "api"):  # the TLS hosts
        cert_cmds = [c for c in graph.of_type(CMD) if c.name == f"cert-{name}"]
        assert cert_cmds and graph.get(f"apache-conf-{name}").urn in cert_cmds[0].deps
    install = graph.get("apache-install")
    assert install.deps, "Apache must wait for the box setup (preflight, firewall)"
