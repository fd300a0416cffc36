"""The networks and containers the program declares, replayed against a real Docker engine.

There is no provider plugin here, so this test replays what terraform-provider-docker (under
pulumi-docker) does with the recorded inputs — network create with `internal`; container create
with `network_mode` if set, else the default network; then, when `networks_advanced` is set,
disconnect the default bridge and connect each listed network with its aliases — and checks the
result as Docker reports it: the DB only on its site's internal network, reachable as "db";
WordPress on its site's two networks; no two sites sharing a network.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.harness import BASE_CONFIG, run_stack
from tests.integration.docker_env import docker, import_tiny_image

pytestmark = pytest.mark.integration


def replay_container(sock: Path, image: str, inputs: dict[str, Any]) -> None:
    name = inputs["name"]
    create = ["create", "--name", name]
    if "networkMode" in inputs:
        create += ["--network", inputs["networkMode"]]
    docker(sock, *create, image, "/true")
    if inputs.get("networksAdvanced"):
        docker(sock, "network", "disconnect", "bridge", name, check=False)  # as the provider
        for net in inputs["networksAdvanced"]:
            aliases = [a for alias in net.get("aliases", []) for a in ("--alias", alias)]
            docker(sock, "network", "connect", *aliases, net["name"], name)


def networks_of(sock: Path, name: str) -> dict[str, list[str]]:
    """Network -> the "db" alias if the container has it there."""
    shown = json.loads(docker(sock, "inspect", name).stdout)[0]
    return {net: [a for a in (ep.get("Aliases") or []) if a in ("db",)]
            for net, ep in shown["NetworkSettings"]["Networks"].items()}


def test_declared_networks_isolate_sites_on_a_real_engine(dockerd: Path) -> None:
    image = import_tiny_image(dockerd)
    graph = run_stack(BASE_CONFIG)
    for net in graph.of_type("docker:index/network:Network"):
        flags = ["--internal"] if net.inputs.get("internal") else []
        docker(dockerd, "network", "create", *flags, net.inputs["name"])
    containers = graph.of_type("docker:index/container:Container")
    for c in containers:
        replay_container(dockerd, image, c.inputs)

    assert networks_of(dockerd, "wpfleet-blog-db") == {"wpfleet-blog-db": ["db"]}
    assert networks_of(dockerd, "wpfleet-shop-db") == {"wpfleet-shop-db": ["db"]}
    for replica in ("wpfleet-blog-wp-0", "wpfleet-blog-wp-1"):
        assert set(networks_of(dockerd, replica)) == {"wpfleet-blog-db", "wpfleet-blog-web"}
    internal = docker(dockerd, "network", "inspect", "-f", "{{.Internal}}", "wpfleet-blog-db")
    assert internal.stdout.strip() == "true"
    # every container sits only on its own site's networks (created, not started: the engine
    # lists endpoints of running containers only, so ask each container)
    for c in containers:
        site = c.inputs["name"].split("-")[1]
        assert set(networks_of(dockerd, c.inputs["name"])) <= {f"wpfleet-{site}-db",
                                                              f"wpfleet-{site}-web"}


def test_network_mode_would_lose_the_db_alias(dockerd: Path) -> None:
    """Why the program sets no network_mode: Docker silently drops the alias then."""
    image = import_tiny_image(dockerd)
    docker(dockerd, "network", "create", "--internal", "wpf-t-db")
    replay_container(dockerd, image, {"name": "wpf-t", "networkMode": "wpf-t-db",
                                      "networksAdvanced": [{"name": "wpf-t-db",
                                                            "aliases": ["db"]}]})
    assert networks_of(dockerd, "wpf-t") == {"wpf-t-db": []}
