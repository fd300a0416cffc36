"""WordPress's URLs through the real Apache: HTTP before the certificate, HTTPS after (item 12).

A real Apache runs the rendered site conf; the replica is `php -S` evaluating the site's
WORDPRESS_CONFIG_EXTRA the way the image's wp-config.php does (`eval(getenv(...))`), and
answering with WP_HOME and WP_SITEURL. Ports: Apache 127.0.0.1:28180/28543, replica 18101.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from components.config import parse
from components.wordpress_site import config_extra
from tests.integration.apache_backends import request
from tests.integration.apache_env import ApacheEnv, missing_binaries, wait_port

pytestmark = pytest.mark.integration
HTTP, HTTPS, REPLICA = 28180, 28543, 18101
DOMAIN = "blog.example.test"
ROUTER = """<?php
eval(getenv('WORDPRESS_CONFIG_EXTRA'));
header('Content-Type: text/plain');
echo WP_HOME, ' ', WP_SITEURL;
"""


def config(base: Path) -> dict:
    return {"wpfleet:box": {"host": "local"},
            "wpfleet:acme": {"email": "admin@example.test", "configDir": f"{base}/le",
                             "webroot": f"{base}/acme"},
            "wpfleet:apache": {"httpPort": HTTP, "httpsPort": HTTPS},
            "wpfleet:sites": [{"name": "blog", "domain": DOMAIN, "port": REPLICA, "tls": True}]}


@pytest.fixture(scope="module")
def site() -> Iterator[tuple[ApacheEnv, Path]]:
    php = shutil.which("php")
    if missing_binaries() or php is None:
        pytest.skip("needs apache2 and php-cli (apt-get install -y apache2 php-cli)")
    base = Path(tempfile.mkdtemp(prefix="wpfleet-wpscheme-"))
    base.chmod(0o755)
    cfg = config(base)
    stack = parse({k.split(":", 1)[1]: v for k, v in cfg.items()})
    (base / "router.php").write_text(ROUTER)
    replica = subprocess.Popen(
        [php, "-S", f"127.0.0.1:{REPLICA}", str(base / "router.php")],
        env={**os.environ, "WORDPRESS_CONFIG_EXTRA": config_extra(stack.sites[0])},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    env = ApacheEnv.create(HTTP, HTTPS, base / "state", enable_modules=False)
    try:
        wait_port(REPLICA)
        stack_file = base / "Pulumi.scheme.yaml"
        stack_file.write_text(yaml.safe_dump({"config": cfg}))
        subprocess.run([sys.executable, "-m", "components.render", str(stack_file),
                        str(base / "out")], check=True, capture_output=True, timeout=60)
        for name in ("apache-install", "apache-acme", "apache-conf-blog"):
            done = env.run_script(base / "out" / "commands" / f"{name}.sh")
            assert done.returncode == 0, done.stderr
        wait_port(HTTP)
        yield env, base
    finally:
        env.stop()
        replica.terminate()
        replica.wait(timeout=10)
        shutil.rmtree(base, ignore_errors=True)


def test_http_before_the_certificate_then_https(site: tuple[ApacheEnv, Path]) -> None:
    env, base = site
    host = f"{DOMAIN}:{HTTP}"
    http = request(HTTP, host, "/")
    assert (http.status, http.body) == (200, f"http://{DOMAIN} http://{DOMAIN}".encode())
    # a client claiming https over plain HTTP changes nothing: Apache sets the header
    spoofed = request(HTTP, host, "/", headers={"X-Forwarded-Proto": "https"})
    assert spoofed.body == f"http://{DOMAIN} http://{DOMAIN}".encode()

    live = base / "le" / "live" / DOMAIN
    live.mkdir(parents=True)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", f"/CN={DOMAIN}", "-keyout", str(live / "privkey.pem"),
                    "-out", str(live / "fullchain.pem")], check=True, capture_output=True,
                   timeout=60)
    # the conf command puts certbot's (matching) pair in front of Apache, then reloads verified
    done = env.run_script(base / "out" / "commands" / "apache-conf-blog.sh")
    assert done.returncode == 0 and "holds the certificate and key" in done.stdout, done.stderr
    wait_port(HTTPS)
    tls = request(HTTPS, f"{DOMAIN}:{HTTPS}", "/", tls=True, headers={"X-Forwarded-Proto": "http"})
    assert (tls.status, tls.body) == (200, f"https://{DOMAIN} https://{DOMAIN}".encode())
    assert request(HTTP, host, "/").status == 301  # HTTP now redirects to HTTPS
