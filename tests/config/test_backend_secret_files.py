"""A backend's `secretFiles`: parsed, refused with the key and value where it is wrong, and
counted as a need for `wpfleet:backendSecrets` like `secretEnv`."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from components.config import ConfigError, parse
from components.config.secrets import missing_secrets
from tests.harness import BASE_CONFIG


def config(**backend: Any) -> dict[str, Any]:
    cfg = copy.deepcopy(BASE_CONFIG)
    cfg["backends"] = [{"name": "node", "domain": "node.example.org", "image": "node:22.1.0",
                        "port": 8180, **backend}]
    return cfg


def problems(cfg: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as err:
        parse(cfg)
    return err.value.problems


def test_secret_files_are_parsed_beside_secret_env() -> None:
    b = parse(config(secretEnv=["API_KEY"], secretFiles=["TOKEN", "DB_URL"])).backends[0]
    assert b.secret_files == ("TOKEN", "DB_URL") and b.secret_env == ("API_KEY",)
    assert b.secret_names == ("API_KEY", "TOKEN", "DB_URL")


@pytest.mark.parametrize("backend, says", [
    ({"secretFiles": ["bad-name"]}, "wpfleet:backends[0].secretFiles[0]: 'bad-name' is not a valid "
                                    "environment variable name"),
    ({"secretFiles": ["../x"]}, "secretFiles[0]: '../x' is not a valid environment variable name"),
    ({"secretFiles": ["TOKEN"], "secretEnv": ["TOKEN"]}, "secretFiles[0]: 'TOKEN' is also in "
                                                          "secretEnv or env"),
    ({"secretFiles": ["TOKEN"], "env": {"TOKEN_FILE": "/x"}}, "'TOKEN' is also in secretEnv or env"),
    ({"secretFiles": ["TOKEN", "TOKEN"]}, "secretFiles[1]: 'TOKEN' is listed twice"),
    ({"secretFiles": "TOKEN"}, "secretFiles"),
])
def test_wrong_secret_files_are_refused_naming_key_and_value(backend: dict[str, Any], says: str) -> None:
    found = problems(config(**backend))
    assert any(says in p for p in found), found


def test_secret_files_need_an_image() -> None:
    cfg = config(secretFiles=["TOKEN"])
    del cfg["backends"][0]["image"], cfg["backends"][0]["port"]
    cfg["backends"][0]["upstream"] = "http://127.0.0.1:8180"
    assert any("env, secretEnv and secretFiles only apply with image" in p for p in problems(cfg))


def test_secret_files_alone_require_backend_secrets() -> None:
    stack = parse(config(secretFiles=["TOKEN"]))
    missing = missing_secrets(stack, {"sshPrivateKey", "duckdnsToken"})
    assert missing == ["wpfleet:backendSecrets: is required by this stack but not set; set it with "
                       "`pulumi config set --secret --path 'wpfleet:backendSecrets.node.TOKEN'`"]
