"""Apache as the front door (issue 9), on a real private Apache running the rendered scripts.

Faults the scripts used to report as success (a reload that kills Apache, a stale "unchanged",
a partial rollback), hung and PHP-less replicas, slow TLS clients, and what an HTTPS front door
is expected to have (catch-all vhost, public ports, TLS policy, headers). Ports: Apache
127.0.0.1:28180/28543 (and 28280/28643 for the MPM env), backends 18101-18199.
"""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.integration.apache_backends import Backend, HungBackend, request
from tests.integration.apache_env import ApacheEnv, missing_binaries, wait_port

pytestmark = pytest.mark.integration
HTTP, HTTPS, HTTP2, HTTPS2 = 28180, 28543, 28280, 28643
BLOG, PLAIN, (HUNG, NOPHP, GOOD) = (18101, 18102), 18111, (18121, 18122, 18123)
BLOG_HOST = "blog.example.test"


def stack_doc(base: Path, http: int = HTTP, https: int = HTTPS) -> dict:
    return {"config": {
        "wpfleet:box": {"host": "local"},
        "wpfleet:acme": {"email": "admin@example.test", "configDir": f"{base}/le",
                         "webroot": f"{base}/acme"},
        # a router forwards public 80/443 to the box's listen ports
        "wpfleet:apache": {"httpPort": http, "httpsPort": https, "publicHttpPort": 80,
                           "publicHttpsPort": 443},
        "wpfleet:sites": [
            {"name": "blog", "domain": BLOG_HOST, "aliases": ["www.blog.example.test"],
             "port": BLOG[0], "replicas": 2, "sticky": True},
            {"name": "plain", "domain": "plain.example.test", "port": PLAIN, "hsts": False},
            {"name": "frail", "domain": "frail.example.test", "port": HUNG, "replicas": 3,
             "tls": False},
            {"name": "shop", "domain": "shop.example.test", "port": 18131}],
    }}


def render(base: Path, out: Path, **kw: int) -> Path:
    stack_file = base / f"Pulumi.test-{out.name}.yaml"
    stack_file.write_text(yaml.safe_dump(stack_doc(base, **kw)))
    proc = subprocess.run([sys.executable, "-m", "components.render", str(stack_file), str(out)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return out


def make_cert(live: Path, domain: str, other_key: bool = False) -> None:
    live.mkdir(parents=True, exist_ok=True)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", f"/CN={domain}", "-addext", f"subjectAltName=DNS:{domain}",
                    "-keyout", str(live / "privkey.pem"), "-out", str(live / "fullchain.pem")],
                   check=True, capture_output=True, timeout=60)
    if other_key:  # a key that does not belong to the certificate
        subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-out",
                        str(live / "privkey.pem")], check=True, capture_output=True, timeout=60)


class Box:
    def __init__(self, env: ApacheEnv, base: Path, out: Path) -> None:
        self.env, self.base, self.out = env, base, out
        self.servers: list[Backend | HungBackend] = []

    def run(self, name: str, out: Path | None = None) -> subprocess.CompletedProcess[str]:
        return self.env.run_script((out or self.out) / "commands" / name)


@pytest.fixture(scope="module")
def box() -> Iterator[Box]:
    if missing_binaries():
        pytest.skip(f"missing {missing_binaries()}: apt-get install -y apache2")
    base = Path(tempfile.mkdtemp(prefix="wpfleet-frontdoor-"))
    base.chmod(0o755)
    servers: list[Backend | HungBackend] = [Backend(p).start() for p in (*BLOG, PLAIN, GOOD)]
    servers += [HungBackend(HUNG).start(), Backend(NOPHP, php_source=True).start()]
    env = ApacheEnv.create(HTTP, HTTPS, base / "state", enable_modules=False)
    # as on a fresh Debian/Ubuntu box: the distribution's default site is enabled
    (env.root / "sites-enabled" / "000-default.conf").symlink_to(
        "../sites-available/000-default.conf")
    for site in ("blog", "plain"):
        make_cert(base / "le" / "live" / f"{site}.example.test", f"{site}.example.test")
    b = Box(env, base, render(base, base / "out"))
    b.servers = servers
    try:
        for name in ("apache-install", "apache-acme", "apache-conf-blog", "apache-conf-plain",
                     "apache-conf-frail"):
            r = b.run(f"{name}.sh")
            assert r.returncode == 0, r.stdout + r.stderr
        yield b
    finally:
        for s in servers:  # first: Apache's children must not stay stuck on the hung replica
            s.stop()
        env.stop()
        shutil.rmtree(base, ignore_errors=True)


def tls_connect(port: int, sni: str, **ctx_opts: object) -> ssl.SSLSocket:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    for k, v in ctx_opts.items():
        if k == "ciphers":
            ctx.set_ciphers(str(v))
        elif k == "alpn":
            ctx.set_alpn_protocols(list(v))  # type: ignore[call-overload]
        else:
            setattr(ctx, k, v)
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    return ctx.wrap_socket(sock, server_hostname=sni)


# --- 7. catch-all vhost ---------------------------------------------------------------------

def test_unknown_host_or_sni_gets_421_and_nothing_is_proxied(box: Box) -> None:
    assert not (box.env.root / "sites-enabled" / "000-default.conf").exists()
    echo = [s for s in box.servers if isinstance(s, Backend)]
    hits = [s.hits for s in echo]
    assert request(HTTP, "evil.example", "/").status == 421
    assert request(HTTP, "127.0.0.1", "/").status == 421
    assert request(HTTPS, "evil.example", "/", tls=True).status == 421
    assert [s.hits for s in echo] == hits  # nothing was proxied
    assert request(HTTP, "plain.example.test", "/").status == 301  # known: redirected to TLS


# --- 8. public ports ------------------------------------------------------------------------

def test_hosts_match_without_port_and_redirects_use_public_ports(box: Box) -> None:
    r = request(HTTP, BLOG_HOST, "/p?q=1")  # no port in Host: the router's public 80
    assert (r.status, r.headers["location"]) == (301, "https://blog.example.test/p?q=1")
    r = request(HTTPS, "www.blog.example.test", "/z", tls=True)
    assert (r.status, r.headers["location"]) == (301, "https://blog.example.test/z")
    assert request(HTTPS, BLOG_HOST, "/", tls=True).status == 200
    assert request(HTTPS, f"{BLOG_HOST}:{HTTPS}", "/", tls=True).status == 200


# --- 9. TLS policy and headers --------------------------------------------------------------

@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # TLS 1.0/1.1 on purpose
def test_tls_policy_is_mozilla_intermediate_with_h2(box: Box) -> None:
    with pytest.raises(ssl.SSLError):  # TLS 1.1 refused
        tls_connect(HTTPS, BLOG_HOST, maximum_version=ssl.TLSVersion.TLSv1_1,
                    minimum_version=ssl.TLSVersion.TLSv1, ciphers="ALL:@SECLEVEL=0")
    with pytest.raises(ssl.SSLError):  # a CBC (non-AEAD) suite refused on TLS 1.2
        tls_connect(HTTPS, BLOG_HOST, maximum_version=ssl.TLSVersion.TLSv1_2,
                    ciphers="ECDHE-RSA-AES128-SHA256:ECDHE-RSA-AES128-SHA")
    with tls_connect(HTTPS, BLOG_HOST, maximum_version=ssl.TLSVersion.TLSv1_2) as s:
        name = (s.cipher() or ("",))[0]
        assert "GCM" in name or "CHACHA" in name
    with tls_connect(HTTPS, BLOG_HOST, alpn=["h2", "http/1.1"]) as s:
        assert s.version() == "TLSv1.3" and s.selected_alpn_protocol() == "h2"


def test_security_headers_hsts_opt_out_and_secure_sticky_cookie(box: Box) -> None:
    r = request(HTTPS, BLOG_HOST, "/", tls=True)
    assert r.headers["strict-transport-security"] == "max-age=63072000"
    assert r.headers["x-content-type-options"] == "nosniff"
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("WPFLEET_ROUTE=.r") and "; Secure" in cookie
    plain = request(HTTPS, "plain.example.test", "/", tls=True)
    assert plain.status == 200 and "strict-transport-security" not in plain.headers
    own = request(HTTP, "evil.example", "/")  # a response of Apache's own
    assert own.headers["x-content-type-options"] == "nosniff"
    assert own.headers["server"] == "Apache"  # ServerTokens Prod: no version, no OS
    assert b"Apache/" not in request(HTTP, BLOG_HOST, "/nope", tls=False).body


# --- 10. client forwarding headers ----------------------------------------------------------

def test_client_forwarding_headers_never_reach_the_backend(box: Box) -> None:
    spoof = {h: "6.6.6.6" for h in (
        "Forwarded", "X-Real-IP", "X-Forwarded-Ssl", "X-Forwarded-Port", "X-Forwarded-Server",
        "Client-IP", "True-Client-IP", "X-Client-IP", "X-Cluster-Client-IP",
        "CF-Connecting-IP", "X-Forwarded-Scheme", "X-Original-URL", "X-Forwarded-For")}
    seen = request(HTTPS, BLOG_HOST, "/", tls=True, headers=spoof).json()["headers"]
    leaked = {h: v for h, v in seen.items() if "6.6.6.6" in v}
    assert leaked == {}
    assert seen["x-forwarded-for"] == "127.0.0.1" and seen["x-forwarded-proto"] == "https"


# --- 6. slow clients ------------------------------------------------------------------------

def test_idle_tls_connection_is_dropped_after_the_handshake_timeout(box: Box) -> None:
    with socket.create_connection(("127.0.0.1", HTTPS), timeout=30) as s:
        # the start of a TLS record, then nothing (an idle socket with no byte at all stays in
        # the kernel: Apache's AcceptFilter defers the accept until data arrives)
        s.sendall(b"\x16\x03\x01\x02\x00")
        t0 = time.monotonic()
        try:
            data = s.recv(1)  # the ClientHello never completes: Apache hangs up (handshake=5)
        except ConnectionResetError:
            data = b""
        assert data == b"" and time.monotonic() - t0 < 30


# --- 4 + 11. hung replica, replica without PHP ----------------------------------------------

def test_hung_and_phpless_replicas_are_taken_out(box: Box) -> None:
    """frail: replica 0 accepts and never answers, replica 1 serves PHP source, 2 is fine."""
    statuses: list[int] = []
    recent: list[int] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(statuses) < 400:
        try:
            r = request(HTTP, "frail.example.test", "/", timeout=15)
            statuses.append(r.status)
            recent = (recent + [r.json()["backend"] if r.status == 200 else 0])[-20:]
        except (TimeoutError, OSError):
            statuses.append(0)
            recent = (recent + [0])[-20:]
        if recent == [GOOD] * 20:
            break
        time.sleep(0.1)
    assert recent == [GOOD] * 20, statuses  # both bad replicas are out
    assert 0 not in statuses  # no client waited out its timeout: Apache answered (504)
    assert statuses.count(504) <= 3, statuses


# --- 2. stamp of the last verified apply ----------------------------------------------------

def test_conf_left_by_a_killed_apply_is_applied_again(box: Box) -> None:
    conf = box.env.root / "sites-available" / "wpfleet-plain.conf"
    rendered = (box.out / "etc/apache2/sites-available/wpfleet-plain.conf").read_text()
    assert conf.read_text() == rendered
    # an apply killed mid-configtest: the new text is on disk, Apache never loaded it
    conf.write_text(rendered.replace("plain.example.test", "plain2.example.test"))
    r = box.run("apache-conf-plain.sh")
    assert r.returncode == 0 and "applied:" in r.stdout, r.stdout + r.stderr
    conf.write_text(rendered + "# a stray edit\n")
    assert "applied:" in box.run("apache-conf-plain.sh").stdout
    assert "unchanged:" in box.run("apache-conf-plain.sh").stdout
    assert request(HTTPS, "plain.example.test", "/", tls=True).status == 200


# --- 1. reloads that would kill Apache ------------------------------------------------------

def test_mismatched_certificate_and_key_are_refused_before_reloading(box: Box) -> None:
    # certbot's files do not match (never served: HTTPS of that site stays off), and neither
    # does a pair someone put where Apache reads it: the conf is refused, Apache not reloaded
    make_cert(box.base / "le" / "live" / "shop.example.test", "shop.example.test",
              other_key=True)
    served = box.env.root / "wpfleet-tls" / "shop.example.test.pem"
    live = box.base / "le" / "live" / "shop.example.test"
    served.write_bytes((live / "privkey.pem").read_bytes() + (live / "fullchain.pem").read_bytes())
    pid = box.env.pid()
    try:
        r = box.run("apache-conf-shop.sh")
    finally:
        served.unlink()
    assert r.returncode == 1, r.stdout + r.stderr
    assert "do not match" in r.stderr  # certbot's pair: not put in place
    assert "does not match its key" in r.stderr and "previous state restored" in r.stderr
    assert box.env.pid() == pid and pid is not None
    os.kill(pid, 0)  # the master was never asked to reload: still alive
    assert not (box.env.root / "sites-enabled" / "wpfleet-shop.conf").exists()
    assert request(HTTPS, BLOG_HOST, "/", tls=True).status == 200


def test_renewal_hook_refuses_a_key_that_does_not_match(box: Box) -> None:
    live = box.base / "le" / "live" / "blog.example.test"
    key = live / "privkey.pem"
    good = key.read_bytes()
    served = box.env.root / "wpfleet-tls" / "blog.example.test.pem"
    before = served.read_bytes()
    hook = box.out / str(box.base / "le")[1:] / "renewal-hooks/deploy/wpfleet-reload-apache"
    pid = box.env.pid()
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-out", str(key)], check=True,
                   capture_output=True, timeout=60)
    try:
        r = subprocess.run(["bash", str(hook)], env={**box.env.env, "RENEWED_LINEAGE": str(live)},
                           capture_output=True, text=True, timeout=60)
    finally:
        key.write_bytes(good)
    assert r.returncode == 1 and "NOT reloading Apache" in r.stderr, r.stdout + r.stderr
    assert served.read_bytes() == before  # Apache's copy untouched
    assert box.env.pid() == pid  # never reloaded: still serving the previous certificate
    assert request(HTTPS, BLOG_HOST, "/", tls=True).status == 200
    ok = subprocess.run(["bash", str(hook)], env=box.env.env, capture_output=True, text=True,
                        timeout=60)
    assert ok.returncode == 0 and "reloaded Apache" in ok.stdout, ok.stdout + ok.stderr


def test_reload_onto_a_port_held_by_another_process_is_rolled_back(box: Box) -> None:
    held = socket.socket()
    held.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    held.bind(("127.0.0.1", HTTP + 1))
    held.listen(8)
    ports_before = (box.env.root / "ports.conf").read_text()
    try:
        moved = render(box.base, box.base / "out-moved", http=HTTP + 1)
        r = box.run("apache-install.sh", out=moved)
    finally:
        held.close()
    assert r.returncode == 1, r.stdout + r.stderr
    assert "previous state restored" in r.stderr and "Address already in use" in r.stderr
    assert "Apache restarted on the previous configuration" in r.stderr
    assert (box.env.root / "ports.conf").read_text() == ports_before
    wait_port(HTTP)
    assert request(HTTPS, BLOG_HOST, "/", tls=True).status == 200
    again = box.run("apache-install.sh")  # the previous state is the verified one
    assert again.returncode == 0, again.stderr


def test_install_rolls_back_everything_then_switches_mpm_with_stop_and_start(box: Box) -> None:
    env = ApacheEnv.create(HTTP2, HTTPS2, box.base / "state2", enable_modules=False)
    try:
        # a box that ran mod_php (prefork), the default site, and a conf needing auth_basic
        env.ctl("-M")  # sanity: the copied root parses
        subprocess.run(["a2dismod", "-q", "mpm_event"], env=env.env, check=True, timeout=30)
        subprocess.run(["a2enmod", "-q", "mpm_prefork"], env=env.env, check=True, timeout=30)
        (env.root / "sites-enabled" / "000-default.conf").symlink_to(
            "../sites-available/000-default.conf")
        operator = env.root / "conf-enabled" / "operator.conf"
        operator.write_text("<Location /private>\n  AuthType Basic\n  AuthName p\n"
                            "  AuthBasicProvider file\n  AuthUserFile /dev/null\n"
                            "  Require valid-user\n</Location>\n")
        env.start()

        def snapshot() -> dict[str, object]:
            return {d: sorted(os.listdir(env.root / d))
                    for d in ("mods-enabled", "conf-enabled", "sites-enabled",
                              "conf-available", "sites-available")} \
                | {"ports": (env.root / "ports.conf").read_text()}

        before, pid = snapshot(), env.pid()
        out = render(box.base, box.base / "out-mpm", http=HTTP2, https=HTTPS2)
        failed = env.run_script(out / "commands" / "apache-install.sh")
        assert failed.returncode == 1 and "configtest FAILED" in failed.stderr, failed.stdout
        assert snapshot() == before  # MPM, new modules, tuning conf, sites: all put back
        assert env.pid() == pid
        wait_port(HTTP2)

        operator.unlink()
        switched = env.run_script(out / "commands" / "apache-install.sh")
        assert switched.returncode == 0, switched.stdout + switched.stderr
        assert "disabled module mpm_prefork" in switched.stdout
        mods = env.ctl("-M").stdout
        assert "mpm_event_module" in mods and "mpm_prefork_module" not in mods
        new_pid = env.pid()
        assert new_pid is not None and new_pid != pid
        os.kill(new_pid, 0)  # alive after the switch (a restart would have killed it)
        wait_port(HTTP2)
        assert request(HTTP2, "evil.example").status == 421
    finally:
        env.stop()


# --- reload check independent of the error log ----------------------------------------------

def rotating_env(box: Box, tmp: Path, rotate: str) -> dict[str, str]:
    """The scripts' environment with an apache2ctl that rotates error.log right before a graceful
    (logrotate's rename, or its copytruncate), as if logrotate ran at that moment."""
    log = box.env.log_dir / "error.log"
    action = {"rename": f"mv -f {log} {log}.1", "truncate": f": > {log}"}[rotate]
    shim = tmp / "apache2ctl"
    shim.write_text(f'#!/bin/bash\nif [ "$1" = graceful ]; then {action}; fi\n'
                    f'exec {shutil.which("apache2ctl")} "$@"\n')
    shim.chmod(0o755)
    return {**box.env.env, "PATH": f"{tmp}:{os.environ['PATH']}"}


@pytest.mark.parametrize("rotate", ["rename", "truncate", "elsewhere"])
def test_good_reload_while_the_error_log_is_rotated_or_elsewhere_is_a_success(
        box: Box, tmp_path: Path, rotate: str) -> None:
    hook = box.out / str(box.base / "le")[1:] / "renewal-hooks/deploy/wpfleet-reload-apache"
    elsewhere = box.env.root / "conf-enabled" / "zz-errorlog.conf"
    if rotate == "elsewhere":  # e.g. ErrorLog syslog: error.log never hears of the reload
        elsewhere.write_text(f"ErrorLog {box.env.log_dir}/elsewhere.log\n")
        env = box.env.env
    else:
        env = rotating_env(box, tmp_path, rotate)
    pid = box.env.pid()
    try:
        r = subprocess.run(["bash", str(hook)], env=env, capture_output=True, text=True,
                           timeout=60)
    finally:
        elsewhere.unlink(missing_ok=True)
    assert r.returncode == 0 and "reloaded Apache" in r.stdout, r.stdout + r.stderr
    assert "previous state restored" not in r.stderr
    assert box.env.pid() == pid and pid is not None  # gracefully reloaded, never restarted
    os.kill(pid, 0)
    log = "elsewhere.log" if rotate == "elsewhere" else "error.log"
    assert "resuming normal operations" in box.env.error_log(log)  # it did reload
    assert request(HTTPS, BLOG_HOST, "/", tls=True).status == 200
    if rotate == "elsewhere":  # back to error.log
        again = subprocess.run(["bash", str(hook)], env=box.env.env, capture_output=True,
                               text=True, timeout=60)
        assert again.returncode == 0, again.stdout + again.stderr


def test_reload_that_kills_apache_while_the_error_log_is_rotated_is_rolled_back(
        box: Box, tmp_path: Path) -> None:
    held = socket.socket()
    held.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    held.bind(("127.0.0.1", HTTP + 1))
    held.listen(8)
    ports_before = (box.env.root / "ports.conf").read_text()
    try:
        moved = render(box.base, box.base / "out-moved", http=HTTP + 1)
        r = subprocess.run(["bash", str(moved / "commands" / "apache-install.sh")],
                           env=rotating_env(box, tmp_path, "rename"), capture_output=True,
                           text=True, timeout=120)
    finally:
        held.close()
    assert r.returncode == 1, r.stdout + r.stderr
    assert "previous state restored" in r.stderr and "Address already in use" in r.stderr
    assert "Apache restarted on the previous configuration" in r.stderr
    assert (box.env.root / "ports.conf").read_text() == ports_before
    wait_port(HTTP)
    assert request(HTTPS, BLOG_HOST, "/", tls=True).status == 200
    assert "last lines of" in r.stderr and "error.log.1" in r.stderr  # why: in the rotated log


# --- issue 21, item 5: odd requests, the catch-all certificate, h2c -------------------------

def raw_http(port: int, data: bytes, timeout: float = 10.0) -> bytes:
    """Send raw bytes to 127.0.0.1:port, return everything the server answered."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        chunks = []
        try:
            while chunk := s.recv(65536):
                chunks.append(chunk)
        except (TimeoutError, ConnectionResetError):
            pass
        return b"".join(chunks)


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else 0


def test_odd_transfer_encoding_is_a_400_and_connect_is_refused(box: Box) -> None:
    echo = [s for s in box.servers if isinstance(s, Backend)]
    hits = [s.hits for s in echo]
    body = b"5\r\nhello\r\n0\r\n\r\n"
    for te in (b"identity, chunked", b"chunked, identity", b"gzip, chunked", b"x"):
        answer = raw_http(HTTP, b"POST / HTTP/1.1\r\nHost: plain.example.test\r\n"
                          b"Transfer-Encoding: " + te + b"\r\nConnection: close\r\n\r\n" + body)
        assert status_of(answer) == 400, (te, answer[:300])
    answer = raw_http(HTTP, b"CONNECT plain.example.test:443 HTTP/1.1\r\n"
                      b"Host: plain.example.test:443\r\nConnection: close\r\n\r\n")
    assert status_of(answer) == 405, answer[:300]
    answer = raw_http(HTTP, b"CONNECT 127.0.0.1:18123 HTTP/1.1\r\nHost: plain.example.test\r\n"
                      b"Connection: close\r\n\r\n")
    assert status_of(answer) in (400, 405, 421), answer[:300]  # the catch-all's 421
    assert [s.hits for s in echo] == hits  # nothing reached a replica
    ok = raw_http(HTTP, b"POST / HTTP/1.1\r\nHost: plain.example.test\r\nTransfer-Encoding: "
                  b"chunked\r\nConnection: close\r\n\r\n" + body)
    assert status_of(ok) == 301, ok[:300]  # plain chunked passes the guard (then: to HTTPS)
    proxied = request(HTTPS, "plain.example.test", "/", tls=True)
    assert proxied.status == 200  # a chunked request body over TLS still reaches the replica


def test_catch_all_certificate_is_a_leaf_and_apache_starts_without_ah01906(box: Box) -> None:
    crt = box.env.root / "wpfleet-default.crt"
    text = subprocess.run(["openssl", "x509", "-in", str(crt), "-noout", "-text"],
                          capture_output=True, text=True, check=True, timeout=30).stdout
    assert "CA:FALSE" in text and "CA:TRUE" not in text, text
    assert "TLS Web Server Authentication" in text
    box.env.graceful()
    assert "AH01906" not in box.env.error_log()


def test_h2c_is_not_spoken_on_port_80(box: Box) -> None:
    upgrade = raw_http(HTTP, b"GET / HTTP/1.1\r\nHost: plain.example.test\r\nConnection: "
                       b"Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA"
                       b"\r\n\r\n", timeout=3)
    assert not upgrade.startswith(b"HTTP/1.1 101"), upgrade[:200]
    preface = raw_http(HTTP, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00"
                       b"\x00\x00", timeout=3)
    assert not preface.startswith(b"\x00"), preface[:50]  # no HTTP/2 SETTINGS frame back


# --- issue 21, item 3: "verified" means OUR Apache answers on every port ----------------------

def test_a_port_answered_by_another_process_is_not_verified(box: Box) -> None:
    """mod_ssl off (an operator's a2dismod): Apache stops listening on the HTTPS port of
    ports.conf and another process takes it. Accepting connections is not enough: the apply
    must see the token of this reload on every port, and fail here."""
    env = box.env
    conf = env.root / "sites-available" / "wpfleet-plain.conf"
    rendered = (box.out / "etc/apache2/sites-available/wpfleet-plain.conf").read_text()
    subprocess.run(["a2dismod", "-q", "-f", "ssl"], env=env.env, check=True, timeout=30,
                   capture_output=True)
    held = None
    try:
        env.graceful()
        wait_port(HTTPS, open_=False)
        held = socket.socket()  # the other process (it accepts, never answers as Apache)
        held.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        held.bind(("127.0.0.1", HTTPS))
        held.listen(64)
        conf.write_text(rendered + "# a stray edit: the apply runs again\n")
        r = box.run("apache-conf-plain.sh")
        assert r.returncode == 1, r.stdout + r.stderr
        assert "did not come back" in r.stderr and "previous state restored" in r.stderr
    finally:
        if held is not None:
            held.close()
        subprocess.run(["a2enmod", "-q", "ssl"], env=env.env, check=True, timeout=30,
                       capture_output=True)
    again = box.run("apache-conf-plain.sh")
    assert again.returncode == 0 and "applied:" in again.stdout, again.stdout + again.stderr
    assert request(HTTPS, "plain.example.test", "/", tls=True).status == 200
    token = (env.root / "wpfleet-alive.conf").read_text().split('"')[1]
    alive = request(HTTP, "wpfleet-default.invalid", "/.well-known/wpfleet-alive")
    assert alive.status == 421 and alive.headers["x-wpfleet-alive"] == token
    assert "x-wpfleet-alive" not in request(HTTP, "evil.example", "/").headers
