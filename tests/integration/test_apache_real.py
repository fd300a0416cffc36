"""The rendered Apache confs and scripts, run for real on a private loopback Apache.

A test stack is rendered with the render CLI; the rendered install, ACME and conf scripts run
against a private config root (APACHE_CONFDIR) exactly as on the box; echo backends stand in
for the replicas. Ports: Apache 127.0.0.1:28080/28443, backends 18001-18099.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.integration.apache_backends import Backend, request
from tests.integration.apache_env import ApacheEnv, missing_binaries

pytestmark = pytest.mark.integration
HTTP, HTTPS = 28080, 28443
BLOG, SHOP, API = (18001, 18002, 18003), (18011, 18012), 18021
BLOG_HOST, WWW_HOST = f"blog.example.test:{HTTP}", f"www.blog.example.test:{HTTP}"


def stack_doc(base: Path, blog_replicas: int = 3) -> dict:
    return {"config": {
        "wpfleet:box": {"host": "local"},
        "wpfleet:acme": {"email": "admin@example.test", "configDir": f"{base}/le",
                         "webroot": f"{base}/acme"},
        "wpfleet:apache": {"httpPort": HTTP, "httpsPort": HTTPS},
        "wpfleet:sites": [
            {"name": "blog", "domain": "blog.example.test", "aliases": ["www.blog.example.test"],
             "port": BLOG[0], "replicas": blog_replicas},
            {"name": "shop", "domain": "shop.example.test", "port": SHOP[0], "replicas": 2,
             "tls": False, "sticky": True}],
        "wpfleet:backends": [{"name": "api", "domain": "api.example.test", "path": "/v1/",
                              "upstream": f"http://127.0.0.1:{API}", "tls": False}],
    }}


def render(base: Path, out: Path, **kw: int) -> Path:
    stack_file = base / f"Pulumi.test-{out.name}.yaml"
    stack_file.write_text(yaml.safe_dump(stack_doc(base, **kw)))
    proc = subprocess.run([sys.executable, "-m", "components.render", str(stack_file), str(out)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return out


class Box:
    def __init__(self, env: ApacheEnv, out: Path, backends: dict[int, Backend]) -> None:
        self.env, self.out, self.backends = env, out, backends

    def run(self, name: str) -> subprocess.CompletedProcess[str]:
        return self.env.run_script(self.out / "commands" / name)


@pytest.fixture(scope="module")
def box() -> Iterator[Box]:
    if missing_binaries():
        pytest.skip(f"missing {missing_binaries()}: apt-get install -y apache2")
    base = Path(tempfile.mkdtemp(prefix="wpfleet-apache-test-"))
    base.chmod(0o755)
    backends = {p: Backend(p).start() for p in (*BLOG, *SHOP, API)}
    env = ApacheEnv.create(HTTP, HTTPS, base / "state", enable_modules=False)
    try:
        yield Box(env, render(base, base / "out"), backends)
    finally:
        env.stop()
        for b in backends.values():
            b.stop()
        shutil.rmtree(base, ignore_errors=True)


def test_install_acme_and_conf_scripts_apply_for_real_and_are_idempotent(box: Box) -> None:
    first = box.run("apache-install.sh")
    assert first.returncode == 0, first.stderr
    assert "enabled module proxy_hcheck" in first.stdout
    assert "wpfleet-tuning.conf" in first.stdout
    box.env.wait_reloads(0)
    again = box.run("apache-install.sh")
    assert again.returncode == 0 and again.stdout.startswith("unchanged"), again.stdout
    for name in ("apache-acme", "apache-conf-blog", "apache-conf-shop", "apache-conf-api"):
        applied = box.run(f"{name}.sh")
        assert applied.returncode == 0, applied.stderr
        assert "applied:" in applied.stdout and "configtest passed" in applied.stdout
        second = box.run(f"{name}.sh")
        assert second.returncode == 0 and "unchanged:" in second.stdout, second.stdout
    assert box.env.configtest().returncode == 0
    assert (box.env.root / "sites-enabled" / "wpfleet-blog.conf").is_symlink()


def test_each_domain_reaches_only_and_all_its_replicas(box: Box) -> None:
    seen_blog = {request(HTTP, BLOG_HOST).json()["backend"] for _ in range(12)}
    seen_shop = {request(HTTP, "shop.example.test").json()["backend"] for _ in range(8)}
    assert seen_blog == set(BLOG)
    assert seen_shop == set(SHOP)


def test_backend_sees_host_and_forwarded_headers_not_spoofable(box: Box) -> None:
    spoof = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "6.6.6.6"}
    seen = request(HTTP, BLOG_HOST, "/hello?x=1", headers=spoof).json()
    assert seen["host"] == BLOG_HOST  # ProxyPreserveHost
    assert seen["proto"] == "http"
    assert seen["xff"] == "127.0.0.1"
    assert seen["path"] == "/hello?x=1"


def test_alias_redirects_to_canonical_domain(box: Box) -> None:
    r = request(HTTP, WWW_HOST, "/a/b")
    assert r.status == 301
    assert r.headers["location"] == f"http://blog.example.test:{HTTP}/a/b"


def test_backend_route_proxies_its_path_only(box: Box) -> None:
    seen = request(HTTP, "api.example.test", "/v1/items").json()
    assert seen["backend"] == API and seen["path"] == "/v1/items"
    assert seen["host"] == "api.example.test"
    assert request(HTTP, "api.example.test", "/other").status == 404


def test_acme_path_served_from_webroot_never_proxied(box: Box) -> None:
    challenge = box.out.parent / "acme" / ".well-known" / "acme-challenge"
    assert challenge.is_dir()  # created by the apache-acme script
    (challenge / "tok123").write_text("tok123.thumb")
    for host in (BLOG_HOST, WWW_HOST, "shop.example.test", "api.example.test"):
        r = request(HTTP, host, "/.well-known/acme-challenge/tok123")
        assert (r.status, r.body) == (200, b"tok123.thumb"), host


def test_killing_a_replica_loses_no_request(box: Box) -> None:
    dead = box.backends[BLOG[1]]
    dead.stop()
    try:
        statuses, seen = [], set()
        for _ in range(30):
            r = request(HTTP, BLOG_HOST)
            statuses.append(r.status)
            if r.status == 200:
                seen.add(r.json()["backend"])
        assert statuses == [200] * 30
        assert seen == {BLOG[0], BLOG[2]}
    finally:
        dead.start()


def test_sticky_site_pins_a_client_to_one_replica(box: Box) -> None:
    first = request(HTTP, "shop.example.test")
    cookie = first.headers["set-cookie"].split(";")[0]
    assert cookie.startswith("WPFLEET_ROUTE=.r")
    pinned = {request(HTTP, "shop.example.test", headers={"Cookie": cookie}).json()["backend"]
              for _ in range(6)}
    assert pinned == {first.json()["backend"]}


def test_broken_conf_is_rolled_back_and_apache_keeps_serving(box: Box) -> None:
    good = (box.env.root / "sites-available" / "wpfleet-blog.conf").read_text()
    script = (box.out / "commands" / "apache-conf-blog.sh").read_text()
    broken = script.replace("ProxyPreserveHost On", "ProxyPreserveHostt On")
    assert broken != script
    path = box.out.parent / "broken-apply.sh"
    path.write_text(broken)
    r = box.env.run_script(path)
    assert r.returncode != 0
    assert "configtest FAILED" in r.stderr and "ProxyPreserveHostt" in r.stderr
    assert (box.env.root / "sites-available" / "wpfleet-blog.conf").read_text() == good
    assert not list((box.env.root / "sites-available").glob(".wpfleet-blog*"))
    assert request(HTTP, BLOG_HOST).status == 200
    box.env.graceful()  # the restored config is valid and still serves
    assert request(HTTP, BLOG_HOST).json()["backend"] in BLOG


def test_edited_conf_is_reapplied_in_place(box: Box) -> None:
    smaller = render(box.out.parent, box.out.parent / "out2", blog_replicas=2)
    try:
        r = box.env.run_script(smaller / "commands" / "apache-conf-blog.sh")
        assert r.returncode == 0 and "applied:" in r.stdout, r.stderr
        box.env.wait_reloads(0)
        time.sleep(0.5)  # the graceful generation takes over
        assert {request(HTTP, BLOG_HOST).json()["backend"] for _ in range(10)} == set(BLOG[:2])
    finally:
        r = box.run("apache-conf-blog.sh")
        assert r.returncode == 0 and "applied:" in r.stdout, r.stderr


def test_remove_script_is_safe_and_idempotent(box: Box) -> None:
    removed = box.run("apache-conf-api.delete.sh")
    assert removed.returncode == 0 and "removed:" in removed.stdout, removed.stderr
    assert not (box.env.root / "sites-available" / "wpfleet-api.conf").exists()
    again = box.run("apache-conf-api.delete.sh")
    assert again.returncode == 0 and "absent:" in again.stdout
    time.sleep(0.5)
    r = request(HTTP, "api.example.test", "/v1/items")
    assert r.status != 200 or r.json()["backend"] != API  # no longer routed to the API
    assert box.run("apache-conf-api.sh").returncode == 0


def test_certificate_then_graceful_serves_https_and_redirects_http(box: Box) -> None:
    assert request(HTTP, BLOG_HOST, "/p").status == 200  # no certificate yet: plain HTTP
    live = box.out.parent / "le" / "live" / "blog.example.test"
    live.mkdir(parents=True)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=blog.example.test", "-keyout", str(live / "privkey.pem"),
                    "-out", str(live / "fullchain.pem")], check=True, capture_output=True,
                   timeout=60)
    # the conf command puts certbot's (matching) pair in front of Apache, then reloads verified
    done = box.run("apache-conf-blog.sh")
    assert done.returncode == 0 and "holds the certificate and key" in done.stdout, done.stderr
    r = request(HTTP, BLOG_HOST, "/p?q=1")
    assert r.status == 301 and r.headers["location"] == f"https://blog.example.test:{HTTPS}/p?q=1"
    acme = request(HTTP, BLOG_HOST, "/.well-known/acme-challenge/tok123")
    assert (acme.status, acme.body) == (200, b"tok123.thumb")  # never redirected
    seen = request(HTTPS, f"blog.example.test:{HTTPS}", "/p", tls=True,
                   headers={"X-Forwarded-Proto": "http"}).json()
    assert seen["backend"] in BLOG and seen["proto"] == "https"
    assert seen["host"] == f"blog.example.test:{HTTPS}"
    alias = request(HTTPS, f"www.blog.example.test:{HTTPS}", "/z", tls=True)
    assert alias.headers["location"] == f"https://blog.example.test:{HTTPS}/z"
    assert request(HTTP, "shop.example.test").status == 200  # a site without tls: unaffected
