"""Issue 20 item 10: a proxied answer's own Server and X-Powered-By never leave the balancer.

A real private Apache set up by the rendered install/ACME/conf scripts, in front of Python
backends that announce themselves the way real ones do (`Server: BaseHTTP/0.6 Python/3.x`
from http.server, `X-Powered-By: Express`/`PHP/8.3.0`), on 200, 404 and 500 answers, over HTTP
and HTTPS: a WordPress site's replica and a `wpfleet:backends` route (whole domain, and under a
path). Clients see Apache's own banner, `Server: Apache`, and no X-Powered-By.
Ports: Apache 127.0.0.1:28880/28843, backends 18881-18883.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.apache_backends import request
from tests.integration.apache_env import ApacheEnv, missing_binaries

pytestmark = pytest.mark.integration
HTTP, HTTPS = 28880, 28843
SITE, API, DOCS = 18881, 18882, 18883
STATUS = {"/missing": 404, "/docs/missing": 404, "/boom": 500, "/docs/boom": 500}


class _Chatty(BaseHTTPRequestHandler):
    """A backend that tells everybody what it runs (send_response adds Server: BaseHTTP/...)."""

    protocol_version = "HTTP/1.0"

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        body = b"hello from " + self.path.encode()
        self.send_response(STATUS.get(self.path, 200))
        self.send_header("X-Powered-By", self.server.powered_by)  # type: ignore[attr-defined]
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def start_backend(port: int, powered_by: str) -> ThreadingHTTPServer:
    ThreadingHTTPServer.allow_reuse_address = True
    server = ThreadingHTTPServer(("127.0.0.1", port), _Chatty)
    server.daemon_threads = True
    server.powered_by = powered_by  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def make_cert(live: Path, domain: str) -> None:
    live.mkdir(parents=True, exist_ok=True)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", f"/CN={domain}", "-addext", f"subjectAltName=DNS:{domain}",
                    "-keyout", str(live / "privkey.pem"), "-out", str(live / "fullchain.pem")],
                   check=True, capture_output=True, timeout=60)


HOSTS = ("blog.example.test", "api.example.test", "docs.example.test")


@pytest.fixture(scope="module")
def apache() -> Iterator[ApacheEnv]:
    if missing_binaries():
        pytest.skip(f"missing {missing_binaries()}: apt-get install -y apache2")
    base = Path(tempfile.mkdtemp(prefix="wpfleet-banners-"))
    base.chmod(0o755)
    servers = [start_backend(SITE, "PHP/8.3.0"), start_backend(API, "Express"),
               start_backend(DOCS, "Express")]
    stack = {"config": {
        "wpfleet:box": {"host": "local"},
        "wpfleet:acme": {"email": "admin@example.test", "configDir": f"{base}/le",
                         "webroot": f"{base}/acme"},
        "wpfleet:apache": {"httpPort": HTTP, "httpsPort": HTTPS},
        "wpfleet:sites": [{"name": "blog", "domain": HOSTS[0], "port": SITE}],
        "wpfleet:backends": [
            {"name": "api", "domain": HOSTS[1], "upstream": f"http://127.0.0.1:{API}"},
            {"name": "docs", "domain": HOSTS[2], "path": "/docs/",
             "upstream": f"http://127.0.0.1:{DOCS}"}],
    }}
    stack_file = base / "Pulumi.banners.yaml"
    stack_file.write_text(yaml.safe_dump(stack))
    out = base / "out"
    proc = subprocess.run([sys.executable, "-m", "components.render", str(stack_file), str(out)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    for host in HOSTS:
        make_cert(base / "le" / "live" / host, host)
    env = ApacheEnv.create(HTTP, HTTPS, base / "state", enable_modules=False)
    try:
        for name in ("apache-install", "apache-acme", "apache-conf-blog", "apache-conf-api",
                     "apache-conf-docs"):
            r = env.run_script(out / "commands" / f"{name}.sh")
            assert r.returncode == 0, r.stdout + r.stderr
        yield env
    finally:
        for s in servers:
            s.shutdown()
            s.server_close()
        env.stop()
        shutil.rmtree(base, ignore_errors=True)


CASES = [(HOSTS[0], "/", 200), (HOSTS[0], "/missing", 404), (HOSTS[0], "/boom", 500),
         (HOSTS[1], "/", 200), (HOSTS[1], "/missing", 404), (HOSTS[1], "/boom", 500),
         (HOSTS[2], "/docs/", 200), (HOSTS[2], "/docs/missing", 404), (HOSTS[2], "/docs/boom", 500)]


def check(r: Any, path: str, status: int) -> None:
    assert r.status == status, r.body[:200]
    assert r.body == b"hello from " + path.encode()  # really the backend's answer
    assert r.headers["server"] == "Apache"
    assert "x-powered-by" not in r.headers


@pytest.mark.parametrize("host, path, status", CASES)
def test_proxied_answers_over_https_show_apaches_banner_only(
        apache: ApacheEnv, host: str, path: str, status: int) -> None:
    check(request(HTTPS, host, path, tls=True), path, status)


def test_proxied_answers_over_http_before_the_certificates_too(apache: ApacheEnv) -> None:
    """Before a certificate exists, port 80 proxies (afterwards it redirects): same rule."""
    served = apache.root / "wpfleet-tls"  # the pairs Apache serves (the HTTPS vhosts' <IfFile>)
    hidden = served.with_name("wpfleet-tls.hidden")
    served.rename(hidden)
    try:
        apache.graceful()
        for host, path, status in CASES:
            check(request(HTTP, host, path), path, status)
    finally:
        hidden.rename(served)
        apache.graceful()
    assert request(HTTP, HOSTS[1], "/").status == 301  # the certificates are back
