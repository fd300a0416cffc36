"""A backend under a site's path, as conf text: part of the site's conf, before ProxyPass /."""

from __future__ import annotations

import copy
import re
from typing import Any

from components.config import StackConfig, parse
from components.render.apache import cache as apache_cache
from components.render.apache import certbot
from components.render.apache import routes as apache_routes
from components.render.apache import vhost as apache

RAW: dict[str, Any] = {
    "box": {"host": "local"},
    "acme": {"email": "admin@example.org"},
    "sites": [
        {"name": "blog", "domain": "blog.example.org", "port": 8082, "replicas": 2,
         "cache": {"ttl": 60}},
        {"name": "shop", "domain": "shop.example.org", "port": 8090, "tls": False}],
    "backends": [
        {"name": "api", "domain": "blog.example.org", "path": "/api",
         "upstream": "http://127.0.0.1:8180"},
        {"name": "api2", "domain": "blog.example.org", "path": "/api/v2",
         "upstream": "http://127.0.0.1:8181"},
        {"name": "hooks", "domain": "shop.example.org", "path": "/hooks/",
         "upstream": "http://127.0.0.1:9000/in/"},
        {"name": "own", "domain": "own.example.org", "upstream": "http://127.0.0.1:9100"}],
}


def stack() -> StackConfig:
    return parse(copy.deepcopy(RAW))


def test_routes_are_in_the_site_conf_before_the_balancer_in_both_vhosts() -> None:
    s = stack()
    conf = apache.site_conf(s, s.sites[0])
    for vhost in conf.split("</VirtualHost>")[:2]:
        v2 = vhost.index("ProxyPass /api/v2 http://127.0.0.1:8181/api/v2 ttl=3\n")
        api = vhost.index("ProxyPass /api http://127.0.0.1:8180/api ttl=3\n")
        assert vhost.index("ProxyPass /.well-known/acme-challenge/ !") < v2 < api \
            < vhost.index("ProxyPass / balancer://wpfleet-blog/")
        assert "ProxyPassReverse /api http://127.0.0.1:8180/api" in vhost
        # the same forwarding headers as the rest of the vhost (set before any ProxyPass)
        assert vhost.index("RequestHeader unset X-Forwarded-For") < v2
    assert conf.count("<VirtualHost") == 2  # the route rides on the site's TLS vhost too


def test_wordpress_rules_do_not_apply_to_routes() -> None:
    s = stack()
    http = apache.site_conf(s, s.sites[0]).split("</VirtualHost>")[0]
    skip = 'RewriteRule "^(?:/api/v2(?:/|$)|/api(?:/|$))" - [L]'
    assert http.index(skip) < http.index("RewriteRule ^ - [R=413,L]")  # body limit after it
    assert http.index("RewriteRule ^ http") < http.index(skip)  # the redirects still apply
    assert "CacheDisable /api/v2\n" in http and "CacheDisable /api\n" in http
    assert 'SetEnvIf Request_URI "^(?:/api/v2(?:/|$)|/api(?:/|$))" no-cache' in http
    inside = http.split('<If "%{REQUEST_URI} !~ m#^(?:/api/v2(?:/|$)|/api(?:/|$))#">')[1]
    inside = inside.split("</If>")[0]
    for rule in ("RequestHeader unset Cache-Control", "Header merge Cache-Control no-store",
                 "RequestHeader set Accept-Encoding gzip"):
        assert rule in inside


def test_a_site_without_routes_keeps_its_cache_block() -> None:
    s = stack()
    assert apache_cache.cache_block(s.sites[0]) == apache_cache.cache_block(s.sites[0], ())
    assert "<If" not in apache_cache.cache_block(s.sites[0]) and "CacheDisable /api" not in \
        apache_cache.cache_block(s.sites[0])


def test_route_with_upstream_path_on_a_site_without_cache_or_tls() -> None:
    s = stack()
    conf = apache.site_conf(s, s.sites[1])
    assert "ProxyPass /hooks/ http://127.0.0.1:9000/in/" in conf
    assert 'RewriteRule "^(?:/hooks/)" - [L]' in conf
    assert "<If" not in conf and "SSLEngine" not in conf


def test_routes_get_no_conf_command_or_certificate_of_their_own() -> None:
    s = stack()
    assert [c.name for c in apache.commands(s)] == [
        "apache-install", "apache-acme", "apache-cache-blog", "apache-conf-blog",
        "apache-conf-shop", "apache-conf-own"]
    assert [c.name for c in certbot.commands(s)] == ["cert-blog", "cert-own"]
    assert not any("wpfleet-api" in path for path in apache.files(s))


def test_pattern_matches_what_proxypass_matches() -> None:
    rx = re.compile(apache_routes.pattern(("/api", "/v1/")))
    for path in ("/api", "/api/", "/api/x", "/v1/", "/v1/x"):
        assert rx.match(path), path
    for path in ("/apiary", "/v1", "/x/api", "/"):
        assert not rx.match(path), path
