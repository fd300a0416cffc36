"""Render-level checks of the front door (issue 9); the real-Apache tests are in
tests/integration/test_apache_frontdoor.py."""

from __future__ import annotations

import pytest

from components.config import ConfigError, parse
from components.render.apache import vhost as apache
from components.render.apache.scripts import install_command

RAW = {"box": {"host": "local"}, "acme": {"email": "a@example.org"},
       "apache": {"httpPort": 8080, "httpsPort": 8443, "publicHttpPort": 80,
                  "publicHttpsPort": 443},
       "sites": [{"name": "blog", "domain": "blog.example.org", "aliases": ["www.example.org"],
                  "port": 8100},
                 {"name": "lab", "domain": "lab.example.org", "port": 8200, "hsts": False}]}


def test_redirects_use_public_ports_and_hosts_match_any_port() -> None:
    s = parse(RAW)
    conf = apache.site_conf(s, s.sites[0])
    assert "RewriteRule ^ https://blog.example.org%{REQUEST_URI} [R=301,L]" in conf
    assert "RewriteRule ^ http://blog.example.org%{REQUEST_URI} [R=301,L]" in conf
    assert r"!^blog\.example\.org(:[0-9]+)?$ [NC]" in conf
    assert ":8443/" not in conf and ":8080/" not in conf
    assert "<VirtualHost *:8080>" in conf and "<VirtualHost *:8443>" in conf


def test_hsts_per_site_opt_out() -> None:
    s = parse(RAW)
    assert "Strict-Transport-Security" in apache.site_conf(s, s.sites[0])
    assert "Strict-Transport-Security" not in apache.site_conf(s, s.sites[1])


@pytest.mark.parametrize(("key", "value"), [("publicHttpsPort", 0), ("publicHttpPort", "x")])
def test_public_ports_are_validated(key: str, value: object) -> None:
    raw = {**RAW, "apache": {**RAW["apache"], key: value}}  # type: ignore[dict-item]
    with pytest.raises(ConfigError, match=f"wpfleet:apache.{key}"):
        parse(raw)


def test_install_stamp_names_the_exact_script() -> None:
    a, b = install_command(80, 443).create, install_command(8080, 443).create
    fingerprint = [ln for ln in a.splitlines() if "FINGERPRINT=" in ln][0]
    assert fingerprint not in b  # another script, another stamp: applied (and verified) again
    assert "<VirtualHost *:8080>" in b and "RewriteRule ^ - [R=421,L]" in b


def test_request_guard_leads_every_vhost_and_h2c_is_off() -> None:
    """Issue 21 item 5 (the real-Apache checks are in tests/integration/)."""
    s = parse(RAW)
    conf = apache.site_conf(s, s.sites[0])
    assert conf.count("RewriteCond %{HTTP:Transfer-Encoding} !^(chunked)?$ [NC]") == 2
    assert conf.count("RewriteCond %{REQUEST_METHOD} =CONNECT") == 2
    for vhost in conf.split("<VirtualHost")[1:]:  # before any redirect or ProxyPass
        assert vhost.index("=CONNECT") < vhost.index("ProxyPass")
        assert vhost.index("=CONNECT") < vhost.index("R=301")
    tuning = install_command(80, 443).create
    assert "H2Upgrade off" in tuning and "H2Direct off" in tuning and "h2c" not in tuning.split(
        "Protocols", 1)[1].split("\n", 1)[0]
    assert "basicConstraints=critical,CA:FALSE" in tuning
