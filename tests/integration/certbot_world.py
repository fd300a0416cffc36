"""The world of the certbot integration tests: pebble, stand-in replicas and a private Apache.

`with make_world() as w:` (one world per test module, in a module-scoped fixture): pebble + fake
DNS on loopback, WordPress stand-ins on 19001-19099, the rendered Apache confs on a private
Apache (127.0.0.1:29080/29443) set up by the rendered install script, and the rendered
`OUT_DIR/commands/cert-<site>.sh` scripts run as they would on the box.
"""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

from components.render.apache import tls
from tests.integration.apache_env import ApacheEnv
from tests.integration.pebble_env import Pebble, require_binaries

HTTP, HTTPS = 29080, 29443
ROOT = Path(__file__).resolve().parents[2]
SITES = [
    {"name": "blog", "domain": "blog.test", "aliases": ["www.blog.test"], "port": 19001,
     "replicas": 2},
    {"name": "shop", "domain": "shop.test", "port": 19010},
    {"name": "bad", "domain": "bad.test", "port": 19020},  # DNS points elsewhere: must fail
]


class Replica(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server API)
        port = self.server.server_address[1]  # type: ignore[index]
        body = f"replica-{port}\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_HEAD = do_GET  # noqa: N815 (http.server API)

    def log_message(self, *args: Any) -> None:
        pass


@dataclass
class World:
    base: Path
    out: Path
    stack_file: Path
    pebble: Pebble
    apache: ApacheEnv
    env: dict[str, str]  # what the scripts see: private APACHE_CONFDIR, pebble's CA bundle

    @property
    def le(self) -> Path:
        return self.base / "le"

    def render(self, sites: list[dict[str, Any]], revoke: bool = False) -> None:
        config = {"wpfleet:box": {"host": "local"},
                  "wpfleet:acme": {"email": "admin@example.org",
                                   "server": self.pebble.directory_url, "revokeOnDelete": revoke,
                                   "configDir": str(self.le), "webroot": str(self.base / "www")},
                  "wpfleet:apache": {"httpPort": HTTP, "httpsPort": HTTPS},
                  "wpfleet:sites": sites}
        self.stack_file.write_text(yaml.safe_dump({"config": config}))
        shutil.rmtree(self.out, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "components.render", str(self.stack_file),
                        str(self.out)], cwd=ROOT, check=True, capture_output=True, timeout=60)

    def cert(self, site: str, suffix: str = "") -> subprocess.CompletedProcess[str]:
        """Run the rendered command exactly as written (`bash OUT/commands/cert-<site>.sh`)."""
        return subprocess.run(["bash", str(self.out / f"commands/cert-{site}{suffix}.sh")],
                              env=self.env, capture_output=True, text=True, timeout=180)

    def served(self, domain: str) -> Path:
        """Apache's copy of the domain's key + chain (components/render/apache/tls.py)."""
        return self.apache.root / tls.served_rel(domain)

    def certbot(self, *args: str, python: str | None = None) -> subprocess.CompletedProcess[str]:
        """certbot against pebble with this world's config dir; `python`: run certbot's main
        from this Python code instead (to inject a failure), with the same arguments."""
        argv = ["/usr/bin/python3", "-c", python] if python else ["certbot"]
        return subprocess.run([*argv, *args, "--non-interactive", "--config-dir", str(self.le)],
                              env=self.env, capture_output=True, text=True, timeout=180,
                              stdin=subprocess.DEVNULL)

    def serial(self, domain: str) -> str:
        return openssl("x509", "-in", str(self.le / f"live/{domain}/cert.pem"), "-noout", "-serial")

    def curl(self, url: str, resolve: str, *extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["curl", "-sS", "--max-time", "10", "--resolve", resolve,
                               "--cacert", str(self.base / "pebble-root.pem"), *extra, url],
                              capture_output=True, text=True, timeout=20)

    def https(self, host: str, path: str = "/", *extra: str) -> subprocess.CompletedProcess[str]:
        return self.curl(f"https://{host}:{HTTPS}{path}", f"{host}:{HTTPS}:127.0.0.1", *extra)

    def served_der(self, host: str) -> bytes:
        """The certificate Apache presents for `host` (DER), verified against pebble's root."""
        ctx = ssl.create_default_context(cafile=str(self.base / "pebble-root.pem"))
        with socket.create_connection(("127.0.0.1", HTTPS), timeout=10) as raw, \
                ctx.wrap_socket(raw, server_hostname=host) as tls:
            der = tls.getpeercert(binary_form=True)
        assert der is not None
        return der

    def live_der(self, domain: str) -> bytes:
        """certbot's current certificate for `domain` (DER)."""
        pem = (self.le / f"live/{domain}/cert.pem").read_text()
        return ssl.PEM_cert_to_DER_cert(pem)

    def served_serial(self, host: str) -> str:
        pem = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{HTTPS}",
                              "-servername", host], input="", capture_output=True, text=True,
                             timeout=20).stdout
        return subprocess.run(["openssl", "x509", "-noout", "-serial"], input=pem,
                              capture_output=True, text=True, timeout=20).stdout.strip()


def openssl(*args: str) -> str:
    return subprocess.run(["openssl", *args], check=True, capture_output=True, text=True,
                          timeout=20).stdout.strip()


@contextmanager
def make_world() -> Iterator[World]:
    require_binaries("pebble", "pebble-challtestsrv", "certbot", "apache2", "apache2ctl",
                     "openssl", "curl", "flock")
    # not under pytest's 0700 tmp dir: Apache's www-data children must reach the ACME webroot
    base = Path(tempfile.mkdtemp(prefix="wpfleet-certbot-"))
    base.chmod(0o755)
    servers = [ThreadingHTTPServer(("127.0.0.1", p), Replica) for p in (19001, 19002, 19010, 19020)]
    for s in servers:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    pebble = Pebble(dir=base / "pebble", http_port=HTTP, https_port=HTTPS)
    apache = ApacheEnv.create(HTTP, HTTPS, base=base / "apache")
    try:
        pebble.start()
        (base / "pebble-root.pem").write_text(pebble.root_pem())
        # certbot's work/log dirs follow the test (the scripts only set --config-dir)
        (base / "xdg/letsencrypt").mkdir(parents=True)
        (base / "xdg/letsencrypt/cli.ini").write_text(
            f"work-dir = {base}/certbot-work\nlogs-dir = {base}/certbot-logs\n")
        env = {**apache.env, "REQUESTS_CA_BUNDLE": str(pebble.ca_bundle),
               "XDG_CONFIG_HOME": str(base / "xdg"), "WPFLEET_OWNERS": str(base / "owners")}
        w = World(base=base, out=base / "out", stack_file=base / "Pulumi.test.yaml",
                  pebble=pebble, apache=apache, env=env)
        w.render(SITES)
        # as on the box: the install (catch-all vhosts that answer the reload check, ports),
        # then the confs
        apache.load_rendered(w.out)
        # the install rewrites the catch-all conf for this private root (its token include)
        install = apache.run_script(w.out / "commands/apache-install.sh")
        assert install.returncode == 0, install.stdout + install.stderr
        yield w
    finally:
        apache.stop()
        pebble.stop()
        for s in servers:
            s.shutdown()
            s.server_close()
        shutil.rmtree(base, ignore_errors=True)
