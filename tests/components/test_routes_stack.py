"""A backend under a site's path in the whole program (mocks): one conf, one certificate."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.components.test_stack import run_inputs, without_published_ports
from tests.harness import BASE_CONFIG, Graph, run_stack

CMD = "command:remote:Command"
ROUTE: dict[str, Any] = {"name": "node", "domain": "blog.example.org", "path": "/api",
                         "image": "node:22.11.0-alpine", "port": 8180, "containerPort": 3000}


def config() -> dict[str, Any]:
    cfg = copy.deepcopy(BASE_CONFIG)
    cfg["backends"] = [ROUTE]
    return cfg


@pytest.fixture(scope="module")
def graph() -> Graph:
    return run_stack(config())


def test_route_is_applied_with_the_site_conf_and_served_with_its_certificate(graph: Graph) -> None:
    names = {r.name for r in graph.of_type(CMD)}
    assert {"apache-conf-blog", "cert-blog"} <= names
    assert not {n for n in names if n.endswith("node")}
    conf = graph.get("apache-conf-blog", CMD).inputs["create"]
    assert "ProxyPass /api http://127.0.0.1:8180/api" in conf
    container = graph.get("node", "wpfleet:index:BackendService")
    assert container  # the backend's container still runs (image + port)
    out = graph.outputs["backends"]["node"]
    assert out["url"] == "https://blog.example.org/api"
    assert out["certificate"] == graph.outputs["sites"]["blog"]["certificate"]


def test_adding_a_route_changes_only_its_site_conf() -> None:
    before = without_published_ports(run_inputs(BASE_CONFIG | {"backends": []}))
    after = without_published_ports(run_inputs(config()))
    changed = sorted(urn.rsplit("::", 1)[1] for urn, v in before.items() if after.get(urn) != v)
    assert changed == ["apache-conf-blog"]
    added = sorted(urn.rsplit("::", 1)[1] for urn in set(after) - set(before))
    assert added and all(n.startswith(("node", "image-node")) for n in added), added
