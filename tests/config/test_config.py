"""Every validation rule: the message names the config key and shows the bad value."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from components.config import ConfigError, parse
from tests.harness import BASE_CONFIG

Mutation = Callable[[dict[str, Any]], None]


def site(i: int = 0, **kw: Any) -> Mutation:
    return lambda c: c["sites"][i].update(kw)


def backend(**kw: Any) -> Mutation:
    return lambda c: c["backends"][0].update(kw)


def section(name: str, **kw: Any) -> Mutation:
    return lambda c: c.setdefault(name, {}).update(kw)


def add_site(**kw: Any) -> Mutation:
    entry = {"name": "extra", "domain": "extra.example.org", "port": 9000}
    return lambda c: c["sites"].append({**entry, **kw})


CASES: list[tuple[str, Mutation, str, str]] = [
    ("unknown top-level key", lambda c: c.update(sitez=[]), "wpfleet:sitez", "not a known setting"),
    ("typo in a site", site(replica=2), "wpfleet:sites[0].replica", "not a known setting"),
    ("typo in box", section("box", usr="x"), "wpfleet:box.usr", "not a known setting"),
    ("port as string", site(port="8082"), "wpfleet:sites[0].port", "'8082'"),
    ("tls as string", site(tls="yes"), "wpfleet:sites[0].tls", "boolean"),
    ("port as boolean", site(port=True), "wpfleet:sites[0].port", "whole number"),
    ("upper-case name", site(name="Blog"), "wpfleet:sites[0].name", "'Blog'"),
    ("name too long", site(name="a" * 32), "wpfleet:sites[0].name", "[a-z]"),
    ("name starts with digit", site(name="1blog"), "wpfleet:sites[0].name", "'1blog'"),
    ("duplicate name", add_site(name="blog"), "wpfleet:sites[2].name", "'blog'"),
    ("duplicate domain", add_site(domain="blog.example.org"), "wpfleet:sites[2].domain",
     "already used"),
    ("alias reused as domain", add_site(domain="www.blog.example.org"),
     "wpfleet:sites[2].domain", "wpfleet:sites[0].aliases[0]"),
    ("domain with space", site(domain="blog example.org"), "wpfleet:sites[0].domain", "valid domain"),
    ("domain with newline", site(domain="blog.org\nInclude /etc"), "wpfleet:sites[0].domain",
     "\\n"),
    ("domain with $()", site(domain="$(reboot).example.org"), "wpfleet:sites[0].domain", "$("),
    ("domain with backtick", site(domain="`id`.example.org"), "wpfleet:sites[0].domain", "`id`"),
    ("domain with ;", site(domain="a.org;rm"), "wpfleet:sites[0].domain", "valid domain"),
    ("bad alias", site(aliases=["ok.example.org", "bad_alias"]), "wpfleet:sites[0].aliases[1]",
     "bad_alias"),
    ("port too low", site(port=80), "wpfleet:sites[0].port", "1024 and 65535"),
    ("port too high", site(port=70000), "wpfleet:sites[0].port", "70000"),
    ("replicas run past 65535", site(port=65535, replicas=2), "wpfleet:sites[0].port",
     "runs past port 65535"),
    ("overlapping ranges", add_site(port=8083), "wpfleet:sites[2].port", "8083"),
    ("replica range overlaps an earlier site", site(1, port=8081, replicas=2),
     "wpfleet:sites[1].port (replica 1)", "8082 overlaps"),
    ("zero replicas", site(replicas=0), "wpfleet:sites[0].replicas", "between 1 and"),
    ("absurd replicas", site(replicas=500), "wpfleet:sites[0].replicas", "500"),
    ("floating image", site(wordpressImage="wordpress:latest"), "wpfleet:sites[0].wordpressImage",
     ":latest"),
    ("untagged image", site(mariadbImage="mariadb"), "wpfleet:sites[0].mariadbImage", "pinned"),
    ("tiny memory", site(memoryMb=8), "wpfleet:sites[0].memoryMb", "megabytes"),
    ("ftp upstream", backend(upstream="ftp://127.0.0.1:21"), "wpfleet:backends[0].upstream",
     "ftp://"),
    ("upstream with quote", backend(upstream="http://127.0.0.1:8180/'x"),
     "wpfleet:backends[0].upstream", "http or https URL"),
    ("upstream with credentials", backend(upstream="http://u:p@127.0.0.1:8180"),
     "wpfleet:backends[0].upstream", "no credentials"),
    ("path without slash", backend(path="api"), "wpfleet:backends[0].path", "start with /"),
    ("path with space", backend(path="/a b"), "wpfleet:backends[0].path", "no spaces"),
    ("backend without upstream", lambda c: c["backends"][0].pop("upstream"),
     "wpfleet:backends[0]", "exactly one of upstream"),
    ("backend image without port", backend(upstream=None, image="node:22.11.0-alpine"),
     "wpfleet:backends[0].port", "required with image"),
    ("backend port clashes with a site", backend(upstream=None, image="node:22.11.0-alpine",
                                                 port=8083),
     "wpfleet:backends[0].port", "wpfleet:sites[0].port"),
    ("bad box host", section("box", host="bad host;"), "wpfleet:box.host", "'bad host;'"),
    ("bad box user", section("box", user="Root User"), "wpfleet:box.user", "POSIX"),
    ("bad box port", section("box", port=0), "wpfleet:box.port", "between 1 and 65535"),
    ("bad host key", section("box", hostKey="not a key"), "wpfleet:box.hostKey", "ssh-keyscan"),
    ("bad email", section("acme", email="admin at example"), "wpfleet:acme.email", "e-mail"),
    ("missing email with tls", lambda c: c["acme"].pop("email"), "wpfleet:acme.email",
     "required"),
    ("http ACME server", section("acme", server="http://acme.example.org/dir"),
     "wpfleet:acme.server", "https URL"),
    ("relative webroot", section("acme", webroot="var/www"), "wpfleet:acme.webroot", "absolute"),
    ("apache ports equal", section("apache", httpPort=8080, httpsPort=8080),
     "wpfleet:apache.httpsPort", "differ"),
    ("site port on ssh port", site(port=2222), "wpfleet:sites[0].port", "wpfleet:box.port"),
    ("bad duckdns domain", lambda c: c.update(duckdns={"domains": ["me.duckdns.org"]}),
     "wpfleet:duckdns.domains[0]", "without .duckdns.org"),
    ("bad firewall rule", lambda c: c.update(firewall={"enabled": True, "allow": ["22;x"]}),
     "wpfleet:firewall.allow[0]", "PORT/tcp"),
    ("sites not a list", lambda c: c.update(sites={"name": "x"}), "wpfleet:sites", "a list"),
    ("missing box", lambda c: c.pop("box"), "wpfleet:box", "required"),
]


@pytest.mark.parametrize(("mutate", "key", "fragment"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_rule_names_key_and_value(mutate: Mutation, key: str, fragment: str) -> None:
    raw = copy.deepcopy(BASE_CONFIG)
    mutate(raw)
    with pytest.raises(ConfigError) as err:
        parse(raw)
    matching = [p for p in err.value.problems if p.startswith(f"{key}:") or p.startswith(key)]
    assert matching, f"no problem names {key}: {err.value.problems}"
    assert any(fragment in p for p in matching), matching


def test_valid_config_parses_with_defaults() -> None:
    stack = parse(copy.deepcopy(BASE_CONFIG))
    blog = stack.sites[0]
    assert blog.ports == (8082, 8083)
    assert blog.domains == ("blog.example.org", "www.blog.example.org")
    assert blog.wordpress_image.startswith("wordpress:") and ":latest" not in blog.wordpress_image
    assert stack.apache.http_port == 80 and stack.apache.https_port == 443
    assert stack.acme.server.startswith("https://acme-v02.api.letsencrypt.org")
    assert [h.name for h in stack.tls_hosts] == ["blog", "api"]


def test_all_problems_reported_at_once() -> None:
    raw = copy.deepcopy(BASE_CONFIG)
    site(name="Bad", port=80, replicas=0)(raw)
    backend(path="nope")(raw)
    with pytest.raises(ConfigError) as err:
        parse(raw)
    text = str(err.value)
    for key in ("sites[0].name", "sites[0].port", "sites[0].replicas", "backends[0].path"):
        assert key in text
    assert "Traceback" not in text


def test_plaintext_secret_rejected() -> None:
    raw = {**copy.deepcopy(BASE_CONFIG), "duckdnsToken": "abc"}
    with pytest.raises(ConfigError, match=r"wpfleet:duckdnsToken: is stored in plaintext"):
        parse(raw, secret_keys=set())
    parse(raw, secret_keys={"duckdnsToken"})  # the same value, stored encrypted, is fine


def test_local_box_needs_no_ssh_port_check() -> None:
    raw = copy.deepcopy(BASE_CONFIG)
    raw["box"] = {"host": "local"}
    assert parse(raw).box.local


def test_backend_with_image_gets_loopback_upstream() -> None:
    raw = copy.deepcopy(BASE_CONFIG)
    raw["backends"][0] = {"name": "api", "domain": "api.example.org", "image": "node:22.11.0-alpine",
                          "port": 8180, "env": {"NODE_ENV": "production", "WORKERS": 2}}
    b = parse(raw).backends[0]
    assert b.upstream == "http://127.0.0.1:8180"
    assert b.env == (("NODE_ENV", "production"), ("WORKERS", "2"))
