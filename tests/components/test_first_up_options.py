"""Resource options the real providers need (issue 8, items 8-10), asserted on the recorded graph.

Mocks cannot show the providers' behaviour, so these pin what the program sends: graceful
stops, start order with `wait`, Go-form durations, no previous output in the SSH env, and
delete-before-replace for everything with a fixed name.
"""

from __future__ import annotations

import copy

import pytest

from components.go_duration import go_string, parse
from tests.harness import BASE_CONFIG, Graph, run_stack

CONTAINER = "docker:index/container:Container"
CONFIG = copy.deepcopy(BASE_CONFIG)
CONFIG["backends"].append({"name": "node", "domain": "node.example.org", "image": "node:22.11.0",
                           "port": 8180})
CONFIG["backends"][0]["upstream"] = "http://127.0.0.1:8181"


@pytest.fixture(scope="module")
def graph() -> Graph:
    return run_stack(CONFIG)


def role(g: Graph, name: str) -> str:
    return next(lbl["value"] for lbl in g.get(name, CONTAINER).inputs["labels"]
                if lbl["label"] == "org.wpfleet.role")


def test_every_container_stops_gracefully(graph: Graph) -> None:
    grace = {r.name: r.inputs.get("destroyGraceSeconds") for r in graph.of_type(CONTAINER)}
    assert grace == {"blog-db": 60.0, "blog-wp-0": 10.0, "blog-wp-1": 10.0, "shop-db": 60.0,
                     "shop-wp-0": 10.0, "node-container": 10.0}
    # `docker stop` and a reboot (dockerd stops containers with their StopTimeout) too
    assert graph.get("blog-db").inputs["stopTimeout"] == 60.0


def test_replica_zero_is_healthy_before_the_others_start(graph: Graph) -> None:
    wp0, wp1 = graph.get("blog-wp-0", CONTAINER), graph.get("blog-wp-1", CONTAINER)
    assert wp0.inputs["wait"] is True and wp0.inputs["waitTimeout"] >= 120
    assert wp0.inputs["healthcheck"]["tests"][0] == "CMD"  # `wait` needs a health check
    assert wp0.urn in wp1.deps
    assert graph.get("blog-db", CONTAINER).urn in wp0.deps


def test_healthcheck_durations_read_back_unchanged(graph: Graph) -> None:
    seen = []
    for c in graph.of_type(CONTAINER):
        for key in ("interval", "timeout", "startPeriod"):
            value = c.inputs.get("healthcheck", {}).get(key)
            if value is not None:
                seen.append(value)
                assert go_string(parse(value)) == value, (c.name, key, value)
    assert "1m0s" in seen  # WordPress's 60 s start period, not "60s"


def test_commands_send_no_previous_output_env(graph: Graph) -> None:
    commands = graph.of_type("command:remote:Command")
    assert len(commands) > 5
    for cmd in commands:
        assert cmd.inputs.get("addPreviousOutputInEnv") is False, cmd.name


def test_local_commands_too() -> None:
    cfg = copy.deepcopy(BASE_CONFIG)
    cfg["box"] = {"host": "local"}
    local = run_stack(cfg, secrets={}).of_type("command:local:Command")
    assert local and all(c.inputs.get("addPreviousOutputInEnv") is False for c in local)


def test_fixed_names_are_deleted_before_replacement(graph: Graph) -> None:
    networks = graph.of_type("docker:index/network:Network")
    assert sorted(n.inputs["name"] for n in networks) == [
        "wpfleet-blog-db", "wpfleet-blog-web", "wpfleet-shop-db", "wpfleet-shop-web"]
    assert all(n.delete_before_replace for n in networks)
    assert all(c.delete_before_replace for c in graph.of_type(CONTAINER))
    assert {role(graph, c.name) for c in graph.of_type(CONTAINER)} == {"db", "wordpress", "backend"}
