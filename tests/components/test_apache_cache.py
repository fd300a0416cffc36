"""The opt-in page cache: config rules, rendered directives, box command and wiring (no box).

Its behaviour against a real WordPress is in tests/integration/test_page_cache_real.py.
"""

from __future__ import annotations

import copy
import subprocess
from typing import Any

import pytest

from components.config import ConfigError, parse
from components.render import plan
from components.render.apache import cache as apache_cache
from components.render.apache import vhost as apache
from tests.components.test_apache_balancer import build, names_of
from tests.harness import BASE_CONFIG


def with_cache(cache: Any, site: int = 0) -> dict[str, Any]:
    raw = copy.deepcopy(BASE_CONFIG)
    raw["sites"][site]["cache"] = cache
    return raw


def problems(raw: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as err:
        parse(raw)
    return err.value.problems


def test_cache_is_opt_in_and_ttl_zero_means_off() -> None:
    assert parse(copy.deepcopy(BASE_CONFIG)).sites[0].cache is None
    assert parse(with_cache({"ttl": 0})).sites[0].cache is None
    cache = parse(with_cache({"ttl": 60})).sites[0].cache
    assert cache is not None and (cache.ttl, cache.max_size_mb) == (60, 256)
    assert parse(with_cache({"ttl": 43200, "maxSizeMb": 16})).sites[0].cache is not None


@pytest.mark.parametrize(("cache", "key", "fragment"), [
    ({"ttl": -1}, "wpfleet:sites[0].cache.ttl", "-1 must be between 0 (cache off) and 43200"),
    ({"ttl": 43201}, "wpfleet:sites[0].cache.ttl", "43201 must be between"),
    ({"ttl": "60"}, "wpfleet:sites[0].cache.ttl", "must be a whole number"),
    ({"ttl": True}, "wpfleet:sites[0].cache.ttl", "must be a whole number"),
    ({}, "wpfleet:sites[0].cache.ttl", "is required"),
    ({"ttl": 60, "maxSizeMb": 8}, "wpfleet:sites[0].cache.maxSizeMb", "8 must be between 16"),
    ({"ttl": 60, "size": 1}, "wpfleet:sites[0].cache.size", "is not a known setting"),
    (60, "wpfleet:sites[0].cache", "60 must be a mapping"),
])
def test_bad_cache_settings_name_the_key_and_value(cache: Any, key: str, fragment: str) -> None:
    found = problems(with_cache(cache))
    assert len(found) == 1, found
    assert found[0].startswith(f"{key}: ") and fragment in found[0], found[0]
    assert "\n" not in found[0]


def test_no_cache_renders_exactly_the_conf_it_did_before() -> None:
    plain = parse(copy.deepcopy(BASE_CONFIG))
    off = parse(with_cache({"ttl": 0}))
    for a, b in zip(plain.sites, off.sites, strict=True):
        assert apache.site_conf(plain, a) == apache.site_conf(off, b)
        assert "Cache" not in apache.site_conf(plain, a)
    assert [c.name for c in plan(plain).commands] == [c.name for c in plan(off).commands]


def test_cache_block_in_both_vhosts_before_the_proxy() -> None:
    stack = parse(with_cache({"ttl": 90}))
    conf = apache.site_conf(stack, stack.sites[0])  # blog: tls, so :80 and :443 vhosts
    vhosts = conf.split("<VirtualHost ")[1:]
    assert len(vhosts) == 2
    for vhost in vhosts:
        assert vhost.count("CacheEnable disk /") == 1
        assert vhost.index("CacheQuickHandler Off") < vhost.index("ProxyPass / balancer://")
        assert "CacheRoot /var/cache/apache2/wpfleet-blog\n" in vhost
        assert "CacheDefaultExpire 90\n" in vhost and "CacheMaxExpire 90\n" in vhost
        assert "CacheHeader On" in vhost
        assert "\n    CacheIgnoreCacheControl" not in vhost  # it would defeat the bypass
        assert "CacheDisable /.well-known/acme-challenge/" in vhost
    other = apache.site_conf(stack, stack.sites[1])  # shop: not cached
    assert "Cache" not in other


def test_bypass_patterns_match_what_they_should_and_nothing_else() -> None:
    import re
    cookies = re.compile("(" + "|".join(apache_cache.PERSONAL_COOKIES) + ")", re.I)
    for personal in ("wordpress_logged_in_abc=1", "wordpress_sec_abc=1", "wordpress_0a1b=1",
                     "wordpress_no_cache=1", "wp-postpass_abc=1", "comment_author_email_ab=x",
                     "woocommerce_items_in_cart=1", "wp_woocommerce_session_1=x"):
        assert cookies.search(f"x=1; {personal}"), personal
    for harmless in ("wordpress_test_cookie=WP+Cookie+check", "wp-settings-1=x", "_ga=1"):
        assert not cookies.search(harmless), harmless
    paths = re.compile("(" + "|".join(apache_cache.NO_CACHE_PATHS) + ")", re.I)
    for p in ("/wp-admin/", "/wp-admin/edit.php", "/wp-json/wp/v2/users", "/wp-login.php",
              "/xmlrpc.php", "/wp-cron.php", "/wp-comments-post.php", "/wp-signup.php",
              "/wp-activate.php", "/WP-LOGIN.PHP"):
        assert paths.search(p), p
    for p in ("/", "/hello-world/", "/category/news/", "/wp-content/uploads/a.jpg"):
        assert not paths.search(p), p


def test_cache_command_runs_before_the_sites_conf_and_cleans_by_size() -> None:
    stack = parse(with_cache({"ttl": 60, "maxSizeMb": 64}))
    p = plan(stack)
    names = [c.name for c in p.commands]
    assert names.index("apache-install") < names.index("apache-cache-blog") \
        < names.index("apache-conf-blog")
    assert "apache-cache-shop" not in names
    cron = p.files["/etc/cron.d/wpfleet-htcacheclean-blog"]
    assert "root /usr/bin/htcacheclean -n -t -p /var/cache/apache2/wpfleet-blog -l 64M" in cron
    cmd = next(c for c in p.commands if c.name == "apache-cache-blog")
    assert cmd.update == cmd.create and cmd.delete is not None
    assert cron in cmd.create
    for text in (cmd.create, cmd.delete):
        assert text.startswith("#!/bin/bash\nset -euo pipefail\n")
        assert subprocess.run(["bash", "-n"], input=text, text=True).returncode == 0
    assert "rm -rf /var/cache/apache2/wpfleet-blog" in cmd.delete


def test_conf_command_depends_on_the_sites_cache_command_only() -> None:
    graph, _ = build(with_cache({"ttl": 60}))
    assert names_of(graph, graph.get("apache-cache-blog").deps) == {"apache-install"}
    assert names_of(graph, graph.get("apache-conf-blog").deps) == {
        "apache-install", "apache-acme", "apache-cache-blog"}
    assert names_of(graph, graph.get("apache-conf-shop").deps) == {"apache-install", "apache-acme"}
