"""BackendService under mocks: a loopback-only container that restarts, with secret env."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from components.config import parse
from components.config.secrets import backend_secret_values, secret_env_values
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


# --- secretFiles: the values as files on the box (render/box/backend_secrets.py) --------------
FILE_VALUE = "backend-file-token-91c2-secret"


@pytest.fixture(scope="module")
def files_graph() -> Graph:
    secrets = {**SECRETS, "backendSecrets": json.dumps(
        {"node": {"API_KEY": SECRET_VALUE, "TOKEN": FILE_VALUE}})}
    return run_stack(config_with_backend(secretFiles=["TOKEN"]), secrets)


def test_secret_files_reach_the_box_on_a_secret_stdin_and_the_container_gets_paths_only(
        files_graph: Graph) -> None:
    cmd = files_graph.get("backend-secrets-node")
    assert cmd.parent_urn == files_graph.get("node", "wpfleet:index:BackendService").urn
    assert "stdin" in cmd.secret_inputs and cmd.inputs["stdin"] == f"TOKEN={FILE_VALUE}\n"
    assert files_graph.get("box-preflight").urn in cmd.deps
    rec = files_graph.get("node-container", CONTAINER)
    assert cmd.urn in rec.deps  # the files exist before the container starts
    # the secretEnv value is still an env value (secret); the file's value is nowhere in it
    assert rec.inputs["envs"] == ["NODE_ENV=production", "TOKEN_FILE=/run/secrets/TOKEN",
                                  f"API_KEY={SECRET_VALUE}"]
    assert FILE_VALUE not in json.dumps(rec.inputs)
    assert rec.inputs["volumes"] == [{"hostPath": "/etc/wpfleet/backend-secrets/node",
                                      "containerPath": "/run/secrets", "readOnly": True}]
    assert FILE_VALUE not in files_graph.plain_text()


def test_secret_files_alone_leave_the_environment_plain_and_value_free() -> None:
    cfg = config_with_backend(secretEnv=[], secretFiles=["TOKEN"])
    g = run_stack(cfg, {**SECRETS, "backendSecrets": json.dumps({"node": {"TOKEN": FILE_VALUE}})})
    rec = g.get("node-container", CONTAINER)
    assert rec.inputs["envs"] == ["NODE_ENV=production", "TOKEN_FILE=/run/secrets/TOKEN"]
    assert "envs" not in rec.secret_inputs  # nothing secret left in it
    assert FILE_VALUE not in g.plain_text()


def test_a_backend_without_secret_files_has_no_command_and_no_mount(graph: Graph) -> None:
    assert not [r for r in graph.resources if r.name.startswith("backend-secrets-")]
    assert "volumes" not in graph.get("node-container", CONTAINER).inputs


def test_a_missing_secret_file_value_names_the_key_and_never_a_value() -> None:
    backend = parse(config_with_backend(secretFiles=["TOKEN"])).backends[-1]
    with pytest.raises(Exception, match=r"missing TOKEN listed in wpfleet:backends\[node\]"
                                        r"\.secretFiles") as err:
        backend_secret_values(backend, {"node": {"API_KEY": "do-not-print"}})
    assert "do-not-print" not in str(err.value)
