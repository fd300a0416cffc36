"""A backend under a site's path: `domain` equal to a site's, `path: /api` (config rules)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from components.config import ConfigError, parse
from components.config import fleet as config_fleet

RAW: dict[str, Any] = {
    "box": {"host": "local"},
    "acme": {"email": "admin@example.org"},
    "sites": [
        {"name": "blog", "domain": "blog.example.org", "aliases": ["www.blog.example.org"],
         "port": 8082},
        {"name": "shop", "domain": "shop.example.org", "port": 8090, "tls": False}],
    "backends": [
        {"name": "api", "domain": "blog.example.org", "path": "/api",
         "upstream": "http://127.0.0.1:8180"}],
}


def with_backend(**kw: Any) -> dict[str, Any]:
    raw = copy.deepcopy(RAW)
    raw["backends"][0].update(kw)
    return raw


def test_backend_on_a_site_domain_is_a_route_of_that_site() -> None:
    stack = parse(copy.deepcopy(RAW))
    api = stack.backends[0]
    assert api.site == "blog" and api.tls is True  # tls follows the site
    assert stack.routes("blog") == (api,) and stack.routes("shop") == ()
    assert [h.name for h in stack.tls_hosts] == ["blog"]  # the site's certificate covers it
    assert stack.own_domain_backends == ()


def test_route_under_a_site_without_tls_is_plain_http_too() -> None:
    api = parse(with_backend(domain="shop.example.org")).backends[0]
    assert (api.site, api.tls) == ("shop", False)


def test_routes_are_ordered_longest_path_first() -> None:
    raw = copy.deepcopy(RAW)
    raw["backends"].append({"name": "api2", "domain": "blog.example.org", "path": "/api/v2",
                            "upstream": "http://127.0.0.1:8181"})
    assert [b.name for b in parse(raw).routes("blog")] == ["api2", "api"]


def test_backend_with_its_own_domain_is_unchanged() -> None:
    b = parse(with_backend(domain="api.example.org", path="/")).backends[0]
    assert b.site is None and b.tls is True


@pytest.mark.parametrize(("kw", "key", "words"), [
    ({"path": "/"}, "wpfleet:backends[0].path", "whole domain blog.example.org"),
    ({"path": "/wp-json/x"}, "wpfleet:backends[0].path", "WordPress answers"),
    ({"path": "/WP-ADMIN"}, "wpfleet:backends[0].path", "WordPress answers"),
    ({"path": "/xmlrpc.php"}, "wpfleet:backends[0].path", "WordPress answers"),
    ({"path": "/.well-known/acme-challenge/x"}, "wpfleet:backends[0].path", "reserved"),
    ({"path": "/balancer-manager"}, "wpfleet:backends[0].path", "reserved"),
    ({"tls": False}, "wpfleet:backends[0].tls", "differs from the site blog's tls: true"),
    ({"domain": "www.blog.example.org"}, "wpfleet:backends[0].domain",
     "alias of the site blog"),
])
def test_route_mistakes_name_key_and_value(kw: dict[str, Any], key: str, words: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse(with_backend(**kw))
    problems = e.value.problems
    assert len(problems) == 1 and problems[0].startswith(f"{key}: ") and words in problems[0], \
        problems
    assert repr(next(iter(kw.values()))) in problems[0]


def test_two_backends_on_one_path_of_a_site_are_refused() -> None:
    raw = copy.deepcopy(RAW)
    raw["backends"].append({"name": "api2", "domain": "blog.example.org", "path": "/api/",
                            "upstream": "http://127.0.0.1:8181"})
    with pytest.raises(ConfigError) as e:
        parse(raw)
    assert e.value.problems == [
        "wpfleet:backends[1].path: '/api/' is already routed on blog.example.org by "
        "wpfleet:backends[0].path; give one of them another path"]


def test_two_own_domain_backends_still_cannot_share_a_domain() -> None:
    raw = with_backend(domain="api.example.org")
    raw["backends"].append({"name": "api2", "domain": "api.example.org", "path": "/v2",
                            "upstream": "http://127.0.0.1:8181"})
    with pytest.raises(ConfigError, match=r"backends\[1\]\.domain: 'api.example.org' is already"):
        parse(raw)


def test_fleet_route_must_be_on_the_box_of_its_site() -> None:
    raw: dict[str, Any] = {
        "boxes": {"default": {"host": "local"},
                  "web2": {"host": "web2.example.org",
                           "hostKey": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAITestHostKey"}},
        "acme": {"email": "admin@example.org"},
        "sites": [{"name": "blog", "domain": "blog.example.org", "port": 8082, "box": "default"}],
        "backends": [{"name": "api", "domain": "blog.example.org", "path": "/api",
                      "upstream": "http://127.0.0.1:8180", "box": "default"}]}
    fleet = config_fleet.parse(copy.deepcopy(raw))
    assert fleet.box("default").backends[0].site == "blog"
    raw["backends"][0]["box"] = "web2"
    with pytest.raises(ConfigError, match="already served by box default"):
        config_fleet.parse(raw)
