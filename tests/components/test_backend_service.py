"""BackendService under mocks: a loopback-only container that restarts, with secret env."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from components.config import parse
from components.config.secrets import secret_env_values
from tests.harness import BASE_CONFIG, SECRETS, Graph, run_stack

CONTAINER = "docker:index/container:Container"
SECRET_VALUE = "backend-api-key-7f1e-secret"


def config_with_backend(**extra: Any) -> dict[str, Any]:
    cfg = copy.deepcopy(BASE_CONFIG)
    cfg["backends"].append({"name": "node", "domain": "node.example.org", "image": "node:22.1.0",
                            "port": 8180, "containerPort": 3000, "memoryMb": 128,
                            "env": {"NODE_ENV": "production"}, "secretEnv": ["API_KEY"],
                            **extra})
    return cfg


@pytest.fixture(scope="module")
def graph() -> Graph:
    secrets = {**SECRETS, "backendSecrets": json.dumps({"node": {"API_KEY": SECRET_VALUE}})}
    return run_stack(config_with_backend(), secrets)


def test_one_container_per_backend_with_an_image(graph: Graph) -> None:
    # "api" in BASE_CONFIG routes to an existing upstream: wpfleet runs nothing for it
    names = [r.inputs["name"] for r in graph.of_type(CONTAINER)
             if r.inputs["name"].startswith("wpfleet-") and "backend" in json.dumps(r.inputs)]
    assert names == ["wpfleet-node"]


def test_container_is_loopback_only_restarts_and_is_limited(graph: Graph) -> None:
    rec = graph.get("node-container", CONTAINER)
    assert rec.inputs["ports"] == [{"internal": 3000.0, "external": 8180.0, "ip": "127.0.0.1",
                                    "protocol": "tcp"}]
    assert rec.inputs["restart"] == "unless-stopped"
    assert rec.inputs["memory"] == 128.0
    assert {"label": "org.wpfleet.backend", "value": "node"} in rec.inputs["labels"]
    assert rec.delete_before_replace
    assert rec.parent_urn == graph.get("node", "wpfleet:index:BackendService").urn
    assert rec.provider.startswith(graph.get("box-docker").urn)
    image = graph.get("image-node-22-1-0")
    assert rec.inputs["image"] == "node:22.1.0" and image.urn in rec.deps


def test_env_and_secret_env_are_sent_as_secret(graph: Graph) -> None:
    rec = graph.get("node-container", CONTAINER)
    assert "envs" in rec.secret_inputs
    assert rec.inputs["envs"] == ["NODE_ENV=production", f"API_KEY={SECRET_VALUE}"]
    assert SECRET_VALUE not in graph.plain_text()


def test_container_waits_for_preflight(graph: Graph) -> None:
    rec = graph.get("node-container", CONTAINER)
    assert graph.get("box-preflight").urn in rec.deps


def test_plain_env_only_is_not_secret() -> None:
    cfg = config_with_backend(secretEnv=[])
    g = run_stack(cfg)
    rec = g.get("node-container", CONTAINER)
    assert rec.inputs["envs"] == ["NODE_ENV=production"] and "envs" not in rec.secret_inputs
    assert rec.inputs["ports"][0]["internal"] == 3000.0


def test_secret_env_values_shapes_and_missing_names() -> None:
    backend = parse(config_with_backend()).backends[-1]
    assert secret_env_values(backend, {"node": {"API_KEY": "v"}}) == ["API_KEY=v"]
    assert secret_env_values(backend, {"API_KEY": "v"}) == ["API_KEY=v"]
    with pytest.raises(Exception, match=r"missing API_KEY") as err:
        secret_env_values(backend, {"node": {"OTHER": "do-not-print"}})
    assert "do-not-print" not in str(err.value)
