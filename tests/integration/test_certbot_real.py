"""The rendered certbot commands, run unchanged against pebble (real HTTP-01) and a real Apache.

One world per module: pebble + fake DNS on loopback, WordPress stand-ins on 19001-19099, the
rendered Apache confs on a private Apache (127.0.0.1:29080/29443), and the rendered
`OUT_DIR/commands/cert-<site>.sh` scripts run as they would on the box. Tests run in file order
(issue → no-op → renew → failure → expand), each asserting on what the previous left behind.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.apache_env import ApacheEnv
from tests.integration.pebble_env import Pebble, port_open, require_binaries

pytestmark = pytest.mark.integration
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

    def serial(self, domain: str) -> str:
        return openssl("x509", "-in", str(self.le / f"live/{domain}/cert.pem"), "-noout", "-serial")

    def curl(self, url: str, resolve: str, *extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["curl", "-sS", "--max-time", "10", "--resolve", resolve,
                               "--cacert", str(self.base / "pebble-root.pem"), *extra, url],
                              capture_output=True, text=True, timeout=20)

    def https(self, host: str, path: str = "/", *extra: str) -> subprocess.CompletedProcess[str]:
        return self.curl(f"https://{host}:{HTTPS}{path}", f"{host}:{HTTPS}:127.0.0.1", *extra)

    def served_serial(self, host: str) -> str:
        pem = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{HTTPS}",
                              "-servername", host], input="", capture_output=True, text=True,
                             timeout=20).stdout
        return subprocess.run(["openssl", "x509", "-noout", "-serial"], input=pem,
                              capture_output=True, text=True, timeout=20).stdout.strip()


def openssl(*args: str) -> str:
    return subprocess.run(["openssl", *args], check=True, capture_output=True, text=True,
                          timeout=20).stdout.strip()


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
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


def test_issues_certificate_for_domain_and_alias_over_real_http01(world: World) -> None:
    reloads = world.apache._reloads()
    run = world.cert("blog")
    assert run.returncode == 0, run.stdout + run.stderr + world.pebble.log()
    assert "changed: certificate blog.test issued for blog.test www.blog.test" in run.stdout
    assert "changed: installed deploy hook" in run.stdout
    assert "certbot.timer cannot be checked" in run.stdout  # no systemd here: reported
    live = world.le / "live/blog.test/fullchain.pem"
    assert f"certificate: {live}" in run.stdout
    sans = openssl("x509", "-in", str(live), "-noout", "-ext", "subjectAltName")
    assert "DNS:blog.test" in sans and "DNS:www.blog.test" in sans
    world.apache.wait_reloads(reloads)  # the script's graceful reload (also flushes logs)
    # pebble's VA fetched the challenge from the site's own port-80 vhost (real HTTP-01)
    access = world.apache.error_log("wpfleet-blog-access_log")
    assert "/.well-known/acme-challenge/" in access and " 200 " in access


def test_https_verifies_and_is_served_by_the_replicas(world: World) -> None:
    bodies = set()
    for _ in range(6):
        r = world.https("blog.test")
        assert r.returncode == 0, r.stderr
        bodies.add(r.stdout.strip())
    assert bodies == {"replica-19001", "replica-19002"}
    alias = world.https("www.blog.test", "/", "-o", "/dev/null", "-w", "%{http_code}")
    assert alias.returncode == 0 and alias.stdout in ("200", "301"), alias  # cert covers it


def test_http_redirects_to_https_but_serves_the_acme_path(world: World) -> None:
    r = world.curl(f"http://blog.test:{HTTP}/some/page", f"blog.test:{HTTP}:127.0.0.1",
                   "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}")
    assert r.stdout == f"301 https://blog.test:{HTTPS}/some/page", r


def test_rerun_is_a_noop(world: World) -> None:
    before = world.serial("blog.test")
    run = world.cert("blog")
    assert run.returncode == 0, run.stderr
    assert "unchanged: certificate blog.test" in run.stdout
    assert not [ln for ln in run.stdout.splitlines() if ln.startswith("changed:")]
    assert world.serial("blog.test") == before


def test_forced_renewal_runs_the_deploy_hook_and_apache_serves_the_new_cert(world: World) -> None:
    old = world.served_serial("blog.test")
    assert old == world.serial("blog.test")
    reloads = world.apache._reloads()
    r = subprocess.run(["certbot", "renew", "--force-renewal", "--no-random-sleep-on-renew",
                        "--non-interactive", "--config-dir", str(world.le)], env=world.env,
                       capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "wpfleet: reloaded Apache" in r.stdout + r.stderr  # our deploy hook ran
    world.apache.wait_reloads(reloads)
    new = world.serial("blog.test")
    assert new != old and world.served_serial("blog.test") == new


def test_unresolvable_domain_fails_clearly_and_other_sites_keep_serving(world: World) -> None:
    assert world.cert("shop").returncode == 0  # a second TLS site, issued normally
    shop_serial = world.serial("shop.test")
    world.pebble.point("bad.test", "127.0.0.2")
    assert not port_open(HTTP, "127.0.0.2")  # nothing answers there: validation must fail
    run = world.cert("bad")
    assert run.returncode != 0
    assert "certbot could not get a certificate for bad.test" in run.stderr
    assert "127.0.0.2" in run.stderr  # certbot's reason (the CA's Detail line) is surfaced
    assert not (world.le / "live/bad.test").exists()
    plain = world.curl(f"http://bad.test:{HTTP}/", f"bad.test:{HTTP}:127.0.0.1")
    assert plain.stdout.strip() == "replica-19020"  # still served over HTTP, no redirect
    assert world.https("shop.test").stdout.strip() == "replica-19010"
    assert world.served_serial("shop.test") == world.serial("shop.test") == shop_serial
    assert world.https("blog.test").returncode == 0


def test_new_alias_expands_only_that_certificate(world: World) -> None:
    shop_serial, blog_serial = world.serial("shop.test"), world.serial("blog.test")
    sites = [dict(SITES[0], aliases=["www.blog.test", "news.blog.test"]), *SITES[1:]]
    world.render(sites)
    conf = world.apache.run_script(world.out / "commands/apache-conf-blog.sh")
    assert conf.returncode == 0, conf.stdout + conf.stderr
    reloads = world.apache._reloads()
    run = world.cert("blog")
    assert run.returncode == 0, run.stdout + run.stderr
    sans = openssl("x509", "-in", str(world.le / "live/blog.test/cert.pem"), "-noout", "-ext",
                   "subjectAltName")
    assert "DNS:news.blog.test" in sans and world.serial("blog.test") != blog_serial
    world.apache.wait_reloads(reloads)
    assert world.https("news.blog.test", "/", "-o", "/dev/null").returncode == 0
    assert world.serial("shop.test") == shop_serial


def test_delete_keeps_the_certificate_unless_revocation_is_opted_in(world: World) -> None:
    world.render(SITES)
    keep = world.cert("blog", ".delete")
    assert keep.returncode == 0, keep.stderr
    assert "keeping certificate blog.test" in keep.stdout
    assert (world.le / "live/blog.test/fullchain.pem").exists()
    world.render(SITES, revoke=True)
    revoke = world.cert("shop", ".delete")
    assert revoke.returncode == 0, revoke.stdout + revoke.stderr
    assert "revoked and deleted certificate shop.test" in revoke.stdout
    assert not (world.le / "live/shop.test").exists()
    assert not (world.le / "renewal/shop.test.conf").exists()
    again = world.cert("shop", ".delete")  # deleting twice is harmless
    assert again.returncode == 0 and "no certificate shop.test to revoke" in again.stdout
