"""Unknown or misplaced keys are refused in every nested block, naming the key path (item 2).

A setting that lowers security must be valid where it stands: `tls: false` indented under
`smtp` (meant for the site) used to send mail and the SMTP password in clear, silently.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.config import SECRET_KEYS, ConfigError, parse
from components.config import fleet as config_fleet

STACKS = Path(__file__).resolve().parents[1] / "fixtures" / "golden_render" / "stacks"
FREE_FORM = ("env", "wpConfig")  # maps of the user's own names (checked below)


def raw_config(name: str) -> dict[str, Any]:
    doc = yaml.safe_load((STACKS / f"Pulumi.{name}.yaml").read_text())["config"]
    return {k.split(":", 1)[1]: v for k, v in doc.items() if k.split(":", 1)[1] not in SECRET_KEYS}


def mappings(value: Any, path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every mapping in the config with its key path as messages spell it."""
    if isinstance(value, dict):
        yield path, value
        for k, v in value.items():
            if k not in FREE_FORM:
                yield from mappings(v, f"{path}{k}" if path == "wpfleet:" else f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from mappings(v, f"{path}[{i}]")


def nested_blocks(name: str) -> list[str]:
    return [path for path, _ in mappings(raw_config(name), "wpfleet:") if path != "wpfleet:"]


@pytest.mark.parametrize(("stack", "path"), [
    *(("features", p) for p in nested_blocks("features")),
    *(("fleet", p) for p in nested_blocks("fleet"))])
def test_every_nested_block_refuses_an_unknown_key_by_its_path(stack: str, path: str) -> None:
    raw = raw_config(stack)
    block = dict(mappings(raw, "wpfleet:"))[path]
    block["tlz"] = False
    with pytest.raises(ConfigError) as e:
        (config_fleet.parse if stack == "fleet" else parse)(raw)
    assert any(p.startswith(f"{path}.tlz: False ") for p in e.value.problems), e.value.problems


def test_the_walk_covers_the_nested_blocks() -> None:
    features = set(nested_blocks("features"))
    assert {"wpfleet:box", "wpfleet:acme", "wpfleet:apache", "wpfleet:sites[0]",
            "wpfleet:sites[0].php", "wpfleet:sites[0].smtp", "wpfleet:sites[0].cache",
            "wpfleet:sites[1].smtp", "wpfleet:backends[0]", "wpfleet:duckdns",
            "wpfleet:firewall", "wpfleet:backup"} <= features
    assert {"wpfleet:boxes.web2", "wpfleet:boxes.web2.duckdns", "wpfleet:boxes.web2.firewall",
            "wpfleet:boxes.web3.apache"} <= set(nested_blocks("fleet"))


SITE: dict[str, Any] = {
    "box": {"host": "local"}, "acme": {"email": "admin@example.org"},
    "sites": [{"name": "blog", "domain": "blog.example.org", "port": 8082}]}


def with_smtp(**smtp: Any) -> dict[str, Any]:
    raw = copy.deepcopy(SITE)
    raw["sites"][0]["smtp"] = {"from": "blog@example.org", **smtp}
    return raw


@pytest.mark.parametrize(("smtp", "words"), [
    ({"host": "smtp.example.org", "user": "blog@example.org"}, "sends mail in clear to smtp.example.org"),
    ({"host": "smtp.example.org"}, "if you meant the site's tls, indent it under the site"),
    ({"host": "8.8.8.8"}, "trusted network"),
    ({"host": "10.0.0.5", "user": "blog"}, "SMTP password of blog across the network in clear"),
])
def test_plaintext_smtp_is_refused_where_it_is_not_safe(smtp: dict[str, Any], words: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse(with_smtp(tls=False, **smtp))
    assert len(e.value.problems) == 1, e.value.problems
    assert e.value.problems[0].startswith("wpfleet:sites[0].smtp.tls: False ")
    assert words in e.value.problems[0]


@pytest.mark.parametrize("smtp", [
    {"host": "10.0.0.5", "port": 25}, {"host": "172.17.0.1"}, {"host": "fd00::25"},
    {"host": "127.0.0.1", "user": "wp"},  # never leaves the host
    {"host": "smtp.example.org", "user": "blog@example.org"}])  # tls (the default)
def test_plaintext_smtp_on_a_trusted_network_and_tls_anywhere_are_fine(
        smtp: dict[str, Any]) -> None:
    tls = smtp.get("host") != "smtp.example.org"
    site = parse(with_smtp(**({"tls": False} if tls else {}), **smtp)).sites[0]
    assert site.smtp is not None and site.smtp.tls is (not tls)


def test_a_backend_setting_indented_under_env_is_refused() -> None:
    raw = copy.deepcopy(SITE)
    raw["backends"] = [{"name": "api", "domain": "api.example.org", "image": "node:22.1.0",
                        "port": 8180, "env": {"NODE_ENV": "production", "tls": False}}]
    with pytest.raises(ConfigError) as e:
        parse(raw)
    assert e.value.problems == [
        "wpfleet:backends[0].env.tls: False is a backend setting, not an environment variable: "
        "indent it as wpfleet:backends[0].tls (or rename the variable, e.g. TLS)"]
