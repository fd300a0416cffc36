"""A backend under a site's path (`/api` on the site's own domain), on a real Apache.

The site `blog` (2 replicas, page cache on, TLS) and two backends mounted under its domain
(`/api` and the longer `/api/v2`, which must win for its own paths), plus `/hooks/` with an
upstream path under the non-TLS site `shop`. The rendered install, ACME, cache and conf scripts
run as on the box against a private Apache; echo servers stand in for replicas and backends.
Ports: Apache 127.0.0.1:28380/28783, backends 18381-18389.
"""

from __future__ import annotations

import http.client
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from components.render.apache import cache as apache_cache
from tests.integration.apache_backends import Backend, request
from tests.integration.apache_env import ApacheEnv, missing_binaries

pytestmark = pytest.mark.integration
HTTP, HTTPS = 28380, 28783
BLOG, SHOP = (18381, 18382), (18385,)
API, API_V2, HOOKS = 18386, 18387, 18388
SITE = "routetest"  # its cache root: /var/cache/apache2/wpfleet-routetest (removed afterwards)
DOMAIN = "blog.example.test"
HOST = f"{DOMAIN}:{HTTP}"


def stack_doc(base: Path) -> dict:
    return {"config": {
        "wpfleet:box": {"host": "local"},
        "wpfleet:acme": {"email": "admin@example.test", "configDir": f"{base}/le",
                         "webroot": f"{base}/acme"},
        "wpfleet:apache": {"httpPort": HTTP, "httpsPort": HTTPS},
        "wpfleet:sites": [
            {"name": SITE, "domain": DOMAIN, "aliases": [f"www.{DOMAIN}"], "port": BLOG[0],
             "replicas": len(BLOG), "cache": {"ttl": 60}, "php": {"uploadMaxMb": 1}},
            {"name": "shop", "domain": "shop.example.test", "port": SHOP[0], "tls": False}],
        "wpfleet:backends": [
            {"name": "api", "domain": DOMAIN, "path": "/api",
             "upstream": f"http://127.0.0.1:{API}"},
            {"name": "api-v2", "domain": DOMAIN, "path": "/api/v2",
             "upstream": f"http://127.0.0.1:{API_V2}"},
            {"name": "hooks", "domain": "shop.example.test", "path": "/hooks/",
             "upstream": f"http://127.0.0.1:{HOOKS}/in/"}],
    }}


class Box:
    def __init__(self, env: ApacheEnv, out: Path, backends: dict[int, Backend]) -> None:
        self.env, self.out, self.backends = env, out, backends

    def run(self, name: str) -> subprocess.CompletedProcess[str]:
        return self.env.run_script(self.out / "commands" / name)


@pytest.fixture(scope="module")
def box() -> Iterator[Box]:
    if missing_binaries():
        pytest.skip(f"missing {missing_binaries()}: apt-get install -y apache2")
    base = Path(tempfile.mkdtemp(prefix="wpfleet-routes-test-"))
    base.chmod(0o755)
    root = Path(apache_cache.CACHE_BASE) / f"wpfleet-{SITE}"
    shutil.rmtree(root, ignore_errors=True)
    backends = {p: Backend(p).start() for p in (*BLOG, *SHOP, API, API_V2, HOOKS)}
    env = ApacheEnv.create(HTTP, HTTPS, base / "state", enable_modules=False)
    try:
        stack_file = base / "Pulumi.routes.yaml"
        stack_file.write_text(yaml.safe_dump(stack_doc(base)))
        out = base / "out"
        proc = subprocess.run([sys.executable, "-m", "components.render", str(stack_file),
                               str(out)], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        b = Box(env, out, backends)
        # the cache script's cron file goes to a private directory, not /etc/cron.d
        env_cron = {"WPFLEET_CRON_DIR": str(base)}
        for name in ("apache-install", "apache-acme", f"apache-cache-{SITE}",
                     f"apache-conf-{SITE}", "apache-conf-shop"):
            done = subprocess.run(["bash", str(out / "commands" / f"{name}.sh")],
                                  env={**env.env, **env_cron}, capture_output=True, text=True,
                                  timeout=120)
            assert done.returncode == 0, f"{name}:\n{done.stdout}{done.stderr}"
            if name == "apache-install":
                env.wait_reloads(0)
        yield b
    finally:
        env.stop()
        for backend in backends.values():
            backend.stop()
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(base, ignore_errors=True)


def test_routes_have_no_conf_or_certificate_of_their_own(box: Box) -> None:
    sites = box.out / "etc/apache2/sites-available"
    assert sorted(p.name for p in sites.glob("wpfleet-*.conf")) == [
        "wpfleet-000-default.conf", "wpfleet-routetest.conf", "wpfleet-shop.conf"]
    commands = {p.name for p in (box.out / "commands").iterdir()}
    assert not {"apache-conf-api.sh", "cert-api.sh", "cert-api-v2.sh"} & commands
    assert "cert-routetest.sh" in commands
    assert box.env.configtest().returncode == 0


def test_the_path_goes_to_the_backend_the_rest_stays_wordpress(box: Box) -> None:
    for path in ("/api", "/api/", "/api/items?x=1", "/api/v", "/api/v2x"):
        seen = request(HTTP, HOST, path).json()
        assert seen["backend"] == API and seen["path"] == path, path
    for path in ("/api/v2", "/api/v2/users"):  # the longer route wins for its paths
        assert request(HTTP, HOST, path).json()["backend"] == API_V2, path
    for path in ("/", "/apiary", "/blog/api", "/wp-json/wp/v2/posts"):
        assert request(HTTP, HOST, path).json()["backend"] in BLOG, path
    # the upstream's own path replaces the route's on the non-TLS site
    seen = request(HTTP, "shop.example.test", "/hooks/push").json()
    assert (seen["backend"], seen["path"]) == (HOOKS, "/in/push")
    assert request(HTTP, "shop.example.test", "/hooks").json()["backend"] in SHOP


def test_route_gets_the_same_forwarding_headers_not_spoofable(box: Box) -> None:
    spoof = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "6.6.6.6", "X-Real-IP": "6.6.6.6",
             "Forwarded": "for=6.6.6.6", "X-Forwarded-Host": "evil.test"}
    seen = request(HTTP, HOST, "/api/me", headers=spoof).json()
    assert seen["host"] == HOST  # ProxyPreserveHost
    assert seen["proto"] == "http" and seen["xff"] == "127.0.0.1"
    assert seen["xfh"] == HOST
    assert "x-real-ip" not in seen["headers"] and "forwarded" not in seen["headers"]


def test_route_is_never_cached_and_its_headers_are_left_alone(box: Box) -> None:
    api = box.backends[API]
    request(HTTP, HOST, "/")
    wordpress = request(HTTP, HOST, "/")
    assert wordpress.headers.get("x-cache", "").startswith("HIT")  # the site's cache is on
    before = api.hits
    for _ in range(3):
        r = request(HTTP, HOST, "/api/list",
                    headers={"Cache-Control": "max-age=0", "Accept-Encoding": "br",
                             "Cookie": "wordpress_logged_in_x=1; sid=abc"})
        assert r.status == 200 and "x-cache" not in r.headers, r.headers
        seen = r.json()
        assert seen["headers"]["cache-control"] == "max-age=0"  # not rewritten for the cache
        assert seen["headers"]["accept-encoding"] == "br"
        assert "cache-control" not in r.headers  # no no-store added to the API's answers
    # the same path percent-encoded is the route for Apache: still never stored
    for _ in range(2):
        assert request(HTTP, HOST, "/%61pi/list").json()["backend"] == API
    assert api.hits == before + 5
    cached = list((Path(apache_cache.CACHE_BASE) / f"wpfleet-{SITE}").rglob("*.header"))
    keys = [re.search(rb"http://[^?]*\?", p.read_bytes()) for p in cached]  # the cached URLs
    paths = {m.group(0)[len(f"http://{HOST}"):-1].decode() for m in keys if m}
    assert "/" in paths and not {p for p in paths if p.startswith(("/api", "/%61pi"))}, paths


def test_wordpress_body_limit_does_not_apply_to_the_route(box: Box) -> None:
    body = b"x" * (10 * 1024 * 1024)  # above the site's 9 MB (uploadMaxMb 1 + 8)
    assert post(HOST, "/wp-admin/async-upload.php", body)[0] == 413
    status, seen = post(HOST, "/api/upload", body)
    assert status == 200 and b'"length": 10485760' in seen


def post(host: str, path: str, body: bytes) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", HTTP, timeout=30)
    try:
        conn.request("POST", path, body=body, headers={"Host": host})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def test_alias_redirects_then_https_carries_the_route(box: Box) -> None:
    r = request(HTTP, f"www.{DOMAIN}:{HTTP}", "/api/x")
    assert r.status == 301 and r.headers["location"] == f"http://{DOMAIN}:{HTTP}/api/x"
    challenge = box.out.parent / "acme" / ".well-known" / "acme-challenge"
    (challenge / "tok").write_text("tok.thumb")
    live = box.out.parent / "le" / "live" / DOMAIN
    live.mkdir(parents=True)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", f"/CN={DOMAIN}", "-keyout", str(live / "privkey.pem"),
                    "-out", str(live / "fullchain.pem")], check=True, capture_output=True,
                   timeout=60)
    # Apache serves its own verified copy of the pair (render/apache/tls.py): the site's conf
    # command puts it in place (as the cert command does after certbot)
    done = box.run(f"apache-conf-{SITE}.sh")
    assert done.returncode == 0, done.stderr
    box.env.graceful()
    time.sleep(0.5)
    r = request(HTTP, HOST, "/api/x?q=1")
    assert r.status == 301 and r.headers["location"] == f"https://{DOMAIN}:{HTTPS}/api/x?q=1"
    acme = request(HTTP, HOST, "/.well-known/acme-challenge/tok")
    assert (acme.status, acme.body) == (200, b"tok.thumb")
    r = request(HTTPS, f"{DOMAIN}:{HTTPS}", "/api/x", tls=True,
                headers={"X-Forwarded-Proto": "http"})
    seen = r.json()
    assert seen["backend"] == API and seen["proto"] == "https"
    assert "strict-transport-security" in r.headers  # the site's TLS rules
    assert request(HTTPS, f"{DOMAIN}:{HTTPS}", "/", tls=True).json()["backend"] in BLOG
    assert request(HTTPS, f"{DOMAIN}:{HTTPS}", "/api/v2/z", tls=True).json()["backend"] == API_V2
