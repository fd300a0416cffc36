"""Pebble (an ACME test CA) + pebble-challtestsrv (fake DNS) on loopback, for real HTTP-01 tests.

Debian's pebble ships no certificates: we make a throwaway CA and a cert for its API listener.
challtestsrv answers every A query with 127.0.0.1 (no AAAA), so pebble's validation authority
fetches `http://<name>:<http_port>/.well-known/acme-challenge/…` from the Apache under test —
the real HTTP-01 flow (pebble's always-valid mode is NOT used). `point(name, addr)` re-points
one name, e.g. at 127.0.0.2 where nothing listens, to make validation fail.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ACME_PORT, MGMT_PORT, DNS_PORT, DNS_MGMT_PORT = 14000, 15000, 8053, 8055
APT_HINT = "apt-get install -y pebble certbot apache2 openssl curl"


def require_binaries(*names: str) -> None:
    """Skip (only) when a needed program is not installed, saying what to install."""
    missing = [n for n in names if shutil.which(n) is None]
    if missing:
        pytest.skip(f"missing {', '.join(missing)}: {APT_HINT}")


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(0.3)
        return s.connect_ex((host, port)) == 0


def wait_port(port: int, timeout: float = 15.0, host: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(port, host):
            return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listening on {host}:{port} after {timeout}s")


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


@dataclass
class Pebble:
    dir: Path
    http_port: int  # port pebble's VA uses for HTTP-01 (= the Apache under test)
    https_port: int
    procs: list[subprocess.Popen] = field(default_factory=list)

    @property
    def ca_bundle(self) -> Path:
        """CA of pebble's API listener: certbot trusts it via REQUESTS_CA_BUNDLE."""
        return self.dir / "ca.pem"

    @property
    def directory_url(self) -> str:
        return f"https://127.0.0.1:{ACME_PORT}/dir"

    def start(self) -> Pebble:
        for port in (ACME_PORT, MGMT_PORT, DNS_PORT, DNS_MGMT_PORT):
            if port_open(port):
                raise RuntimeError(f"127.0.0.1:{port} is already in use; pebble cannot start")
        d = self.dir
        d.mkdir(parents=True, exist_ok=True)
        _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                 "-days", "2", "-subj", "/CN=wpfleet-test-ca", "-keyout", str(d / "ca.key"),
                 "-out", str(d / "ca.pem"))
        _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                 "-subj", "/CN=localhost", "-keyout", str(d / "key.pem"),
                 "-out", str(d / "req.csr"))
        (d / "ext.cnf").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n"
                                   "extendedKeyUsage=serverAuth\n")
        _openssl("x509", "-req", "-in", str(d / "req.csr"), "-CA", str(d / "ca.pem"),
                 "-CAkey", str(d / "ca.key"), "-CAcreateserial", "-days", "2",
                 "-out", str(d / "cert.pem"), "-extfile", str(d / "ext.cnf"))
        (d / "pebble.json").write_text(json.dumps({"pebble": {
            "listenAddress": f"127.0.0.1:{ACME_PORT}",
            "managementListenAddress": f"127.0.0.1:{MGMT_PORT}",
            "certificate": str(d / "cert.pem"), "privateKey": str(d / "key.pem"),
            "httpPort": self.http_port, "tlsPort": self.https_port,
            "ocspResponderURL": "", "externalAccountBindingRequired": False}}))
        # every listener pinned to 127.0.0.1 (challtestsrv binds all interfaces by default)
        self._spawn("challtestsrv", ["pebble-challtestsrv", "-defaultIPv4", "127.0.0.1",
                                     "-defaultIPv6", "", "-dns01", f"127.0.0.1:{DNS_PORT}",
                                     "-http01", "", "-https01", "", "-tlsalpn01", "",
                                     "-management", f"127.0.0.1:{DNS_MGMT_PORT}"], {})
        # NOSLEEP: no random VA delay; NONCEREJECT=0: no deliberate badNonce errors
        self._spawn("pebble", ["pebble", "-config", str(d / "pebble.json"),
                               "-dnsserver", f"127.0.0.1:{DNS_PORT}", "-strict=false"],
                    {"PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0"})
        for port in (DNS_MGMT_PORT, ACME_PORT, MGMT_PORT):
            wait_port(port)
        return self

    def _spawn(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        log = open(self.dir / f"{name}.log", "wb")  # noqa: SIM115 (kept open for the process)
        self.procs.append(subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                           env={**os.environ, **env}, start_new_session=True))

    def root_pem(self) -> str:
        """Pebble's issuing root (new at every pebble start): what HTTPS clients must trust."""
        ctx = ssl.create_default_context(cafile=str(self.ca_bundle))
        with urllib.request.urlopen(f"https://127.0.0.1:{MGMT_PORT}/roots/0", context=ctx,
                                    timeout=10) as r:
            return r.read().decode()

    def point(self, name: str, address: str) -> None:
        """Make the fake DNS answer `name` with `address` (instead of 127.0.0.1)."""
        body = json.dumps({"host": name, "addresses": [address]}).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{DNS_MGMT_PORT}/add-a", data=body,
                                     method="POST")
        with urllib.request.urlopen(req, timeout=10) as r:
            assert r.status == 200, r.status

    def log(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}"
                         for p in sorted(self.dir.glob("*.log")))

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(timeout=5)
        self.procs.clear()
