"""The Apache render functions as text: confs, commands, and the render CLI's output."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from components.config import StackConfig, parse
from components.render.apache import vhost as apache

RAW: dict[str, Any] = {
    "box": {"host": "local"},
    "acme": {"email": "admin@example.org", "configDir": "/etc/le", "webroot": "/srv/acme"},
    "sites": [
        {"name": "blog", "domain": "blog.example.org", "aliases": ["www.blog.example.org"],
         "port": 8082, "replicas": 3},
        {"name": "shop", "domain": "shop.example.org", "port": 8090, "tls": False,
         "sticky": True},
    ],
    "backends": [
        {"name": "api", "domain": "api.example.org", "path": "/v1/",
         "upstream": "http://127.0.0.1:8180", "tls": False},
        {"name": "hook", "domain": "hook.example.org", "path": "/in",
         "upstream": "http://127.0.0.1:8181/hooks"},
    ],
}


def stack(**apache_cfg: Any) -> StackConfig:
    raw = copy.deepcopy(RAW)
    if apache_cfg:
        raw["apache"] = apache_cfg
    return parse(raw)


def test_site_conf_balances_all_replicas_with_health_checks() -> None:
    s = stack()
    conf = apache.site_conf(s, s.sites[0])
    for i, port in enumerate((8082, 8083, 8084)):
        assert f"BalancerMember http://127.0.0.1:{port} route=r{i} " in conf
    assert conf.count("BalancerMember") == 3
    assert conf.count("hcmethod=") == 3 and "8085" not in conf
    assert "ProxyPass / balancer://wpfleet-blog/" in conf
    assert "ProxyPreserveHost On" in conf
    assert 'RequestHeader set X-Forwarded-Proto "http"' in conf
    assert 'RequestHeader set X-Forwarded-Proto "https"' in conf
    assert "<VirtualHost *:80>" in conf and "<VirtualHost *:443>" in conf
    assert "balancer-manager" not in conf  # off unless enabled
    # issue 21 items 1 and 4: the balancer settings on both vhosts' ProxyPass, ttl on members
    assert conf.count("ProxyPass / balancer://wpfleet-blog/ lbmethod=bybusyness "
                      "failontimeout=On\n") == 2
    assert conf.count(" ttl=3 ") == 3 and conf.count("hcinterval=2 hcpasses=1 hcfails=1") == 3


def test_acme_path_is_excluded_before_proxying_and_never_redirected() -> None:
    s = stack()
    conf = apache.site_conf(s, s.sites[0])
    http = conf.split("</VirtualHost>")[0]
    assert http.index("ProxyPass /.well-known/acme-challenge/ !") < http.index("ProxyPass / ")
    assert "Alias /.well-known/acme-challenge/ /srv/acme/.well-known/acme-challenge/" in http
    # every rewrite rule in the HTTP vhost (2 redirects, the upload limit) exempts the ACME path;
    # the request guard's two refusals (odd Transfer-Encoding, CONNECT) apply to it too
    assert http.count("RewriteRule") - 2 == http.count(
        r"RewriteCond %{REQUEST_URI} !^/\.well\-known/acme\-challenge/") == 3


def test_https_vhost_and_redirect_are_guarded_by_the_certificate() -> None:
    s = stack(httpPort=8080, httpsPort=8443)
    conf = apache.site_conf(s, s.sites[0])
    # Apache reads wpfleet's verified copy of the pair (relative to ServerRoot), never certbot's
    # live files, which a renewal that dies midway leaves mismatched (issue 21 item 2)
    guard = "<IfFile wpfleet-tls/blog.example.org.pem>"
    assert conf.count(guard) == 2  # the HTTP->HTTPS redirect and the 443 vhost
    assert "SSLCertificateFile wpfleet-tls/blog.example.org.pem\n" in conf
    assert "SSLCertificateKeyFile wpfleet-tls/blog.example.org.pem\n" in conf
    assert "/etc/le/live" not in conf
    assert "RewriteRule ^ https://blog.example.org:8443%{REQUEST_URI} [R=301,L]" in conf
    assert "<VirtualHost *:8080>" in conf and "<VirtualHost *:8443>" in conf
    assert "Listen" not in conf  # ports.conf owns the Listen lines


def test_site_without_tls_has_no_https_and_sticky_sets_a_route_cookie() -> None:
    s = stack()
    conf = apache.site_conf(s, s.sites[1])
    assert "IfFile" not in conf and "SSLEngine" not in conf and ":443" not in conf
    # on each vhost's ProxyPass: a server-level ProxySet does not reach the vhosts' balancer
    assert conf.count("ProxyPass / balancer://wpfleet-shop/ lbmethod=bybusyness failontimeout=On"
                      " stickysession=WPFLEET_ROUTE\n") == 1  # tls: false, one vhost
    assert "ProxySet" not in conf
    assert "WPFLEET_ROUTE=.%{BALANCER_WORKER_ROUTE}e" in conf


def test_balancer_manager_only_from_localhost() -> None:
    s = stack(balancerManager=True)
    conf = apache.site_conf(s, s.sites[0])
    assert "SetHandler balancer-manager" in conf and "Require local" in conf
    http = conf.split("</VirtualHost>")[0]
    assert http.index("ProxyPass /balancer-manager !") < http.index("ProxyPass / ")


def test_backend_routes_map_path_to_upstream() -> None:
    s = stack()
    api, hook = (apache.backend_conf(s, b) for b in s.backends)
    assert "ProxyPass /v1/ http://127.0.0.1:8180/v1/" in api
    assert "ProxyPass /in http://127.0.0.1:8181/hooks" in hook
    assert "RedirectMatch 404" in api and "ProxyPreserveHost On" in api
    assert "<IfFile wpfleet-tls/hook.example.org.pem>" in hook


def test_every_proxying_vhost_drops_the_backends_banners() -> None:
    """Issue 20 item 10 (real Apache: tests/integration/test_apache_proxied_headers.py)."""
    s = stack()
    confs = [apache.site_conf(s, site) for site in s.sites]
    confs += [apache.backend_conf(s, b) for b in s.backends]
    for conf in confs:
        vhosts = conf.split("<VirtualHost")[1:]
        assert vhosts
        for vhost in vhosts:
            assert "    Header unset Server\n" in vhost
            assert "    Header unset X-Powered-By\n" in vhost


def test_files_and_commands_api() -> None:
    s = stack()
    files = apache.files(s)
    assert set(files) >= {"/etc/apache2/sites-available/wpfleet-blog.conf",
                          "/etc/apache2/sites-available/wpfleet-api.conf",
                          "/etc/apache2/conf-available/wpfleet-acme.conf",
                          "/etc/apache2/ports.conf"}
    assert files["/etc/apache2/ports.conf"].count("Listen ") == 2
    names = [c.name for c in apache.commands(s)]
    assert names == ["apache-install", "apache-acme", "apache-conf-blog", "apache-conf-shop",
                     "apache-conf-api", "apache-conf-hook"]
    blog = apache.conf_command(s, s.sites[0])
    assert files[apache.conf_path(s.sites[0])] in blog.create  # the script writes that text
    assert blog.update == blog.create and blog.delete and not blog.triggers
    for cmd in apache.commands(s):
        assert cmd.create.startswith("#!/bin/bash\nset -euo pipefail\n")


def test_apply_script_gates_on_configtest_and_locks() -> None:
    s = stack()
    script = apache.conf_command(s, s.sites[0]).create
    assert "flock" in script and 'CONFDIR="${APACHE_CONFDIR:-/etc/apache2}"' in script
    gate = script[script.index("gate() {"):]
    # configtest, then the cert/key check, then the verified reload
    assert gate.index("apache2ctl configtest") < gate.index("check_cert_pairs") \
        < gate.index("reload_apache")
    assert "apt-get" not in script


def test_one_site_conf_does_not_depend_on_other_sites() -> None:
    s1 = stack()
    raw = copy.deepcopy(RAW)
    raw["sites"].append({"name": "news", "domain": "news.example.org", "port": 8100})
    s2 = parse(raw)
    before = {c.name: c for c in apache.commands(s1)}
    after = {c.name: c for c in apache.commands(s2)}
    assert set(after) - set(before) == {"apache-conf-news"}
    assert all(after[n] == c for n, c in before.items())


def test_render_cli_writes_confs_and_commands(tmp_path: Path) -> None:
    stack_file = tmp_path / "Pulumi.t.yaml"
    stack_file.write_text(yaml.safe_dump({"config": {f"wpfleet:{k}": v for k, v in RAW.items()}}))
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "components.render", str(stack_file), str(out)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert (out / "etc/apache2/sites-available/wpfleet-blog.conf").read_text() == \
        apache.site_conf(stack(), stack().sites[0])
    assert (out / "etc/apache2/conf-available/wpfleet-acme.conf").is_file()
    for name in ("apache-install.sh", "apache-acme.sh", "apache-conf-api.sh",
                 "apache-conf-api.delete.sh"):
        assert (out / "commands" / name).is_file(), name


def test_render_cli_rejects_an_invalid_config(tmp_path: Path) -> None:
    raw = copy.deepcopy(RAW)
    raw["sites"][0]["name"] = "Blog;rm"
    stack_file = tmp_path / "Pulumi.bad.yaml"
    stack_file.write_text(yaml.safe_dump({"config": {f"wpfleet:{k}": v for k, v in raw.items()}}))
    proc = subprocess.run([sys.executable, "-m", "components.render", str(stack_file),
                           str(tmp_path / "o")], capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "wpfleet:sites[0].name" in proc.stderr
    assert not (tmp_path / "o").exists()
