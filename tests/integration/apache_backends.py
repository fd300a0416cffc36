"""Tiny HTTP backends for the Apache tests: each answers with what it saw, as JSON."""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class _Echo(BaseHTTPRequestHandler):
    # HTTP/1.0: the connection closes after each response, so stopping a backend really
    # makes it unreachable (no lingering keep-alive thread keeps answering).
    protocol_version = "HTTP/1.0"

    def _answer(self, body: bool, length: int | None = None) -> None:
        server = self.server
        if self.path != "/wp-content/index.php":  # requests proxied, not health checks
            server.hits = getattr(server, "hits", 0) + 1  # type: ignore[attr-defined]
        if getattr(server, "php_source", False) and self.path == "/wp-content/index.php":
            # a replica whose PHP does not run: Apache-in-the-container serves the source
            return self._raw(b"<?php\n// Silence is golden.\n", "text/plain", body)
        data = json.dumps({
            "backend": self.server.server_address[1],  # type: ignore[index]
            "path": self.path,
            "host": self.headers.get("Host"),
            "proto": self.headers.get("X-Forwarded-Proto"),
            "xff": self.headers.get("X-Forwarded-For"),
            "xfh": self.headers.get("X-Forwarded-Host"),
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "method": self.command,
            "length": length,  # bytes of request body read (POST)
        }).encode()
        self._raw(data, "application/json", body)

    def _raw(self, data: bytes, ctype: str, body: bool) -> None:
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if body:
            self.wfile.write(data)

    def do_GET(self) -> None:
        self._answer(True)

    def do_HEAD(self) -> None:  # mod_proxy_hcheck's probe
        self._answer(False)

    def do_POST(self) -> None:  # reads the whole body, answers with its length
        left, read = int(self.headers.get("Content-Length") or 0), 0
        while left > 0:
            chunk = self.rfile.read(min(left, 1 << 20))
            if not chunk:
                break
            left, read = left - len(chunk), read + len(chunk)
        self._answer(True, read)

    def log_message(self, *args: Any) -> None:
        pass


class Backend:
    """One echo server on 127.0.0.1:port, in a thread; stop() closes its listening socket."""

    def __init__(self, port: int, php_source: bool = False) -> None:
        self.port = port
        self.php_source = php_source  # serve wp-content/index.php as source (PHP not running)
        self.server: ThreadingHTTPServer | None = None

    @property
    def hits(self) -> int:
        return getattr(self.server, "hits", 0)

    def start(self) -> Backend:
        ThreadingHTTPServer.allow_reuse_address = True
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), _Echo)
        self.server.daemon_threads = True
        self.server.php_source = self.php_source  # type: ignore[attr-defined]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


class HungBackend:
    """A replica that accepts connections and never answers (hung PHP workers)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.accepted: list[socket.socket] = []
        self.sock: socket.socket | None = None

    def start(self) -> HungBackend:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", self.port))
        self.sock.listen(512)
        threading.Thread(target=self._accept, args=(self.sock,), daemon=True).start()
        return self

    def _accept(self, sock: socket.socket) -> None:
        while len(self.accepted) < 10_000:  # bounded: held open, never read or answered
            try:
                self.accepted.append(sock.accept()[0])
            except OSError:
                return

    def stop(self) -> None:
        if self.sock is not None:
            with contextlib.suppress(OSError):  # wakes the accepting thread up
                self.sock.shutdown(socket.SHUT_RDWR)
            self.sock.close()
            self.sock = None
        for conn in self.accepted:
            conn.close()
        self.accepted.clear()


class Response:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    def json(self) -> dict[str, Any]:
        return json.loads(self.body)


def request(port: int, host: str, path: str = "/", headers: dict[str, str] | None = None,
            tls: bool = False, timeout: float = 10.0) -> Response:
    """One request to 127.0.0.1:port with this Host (and TLS SNI); redirects not followed."""
    if tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        conn: http.client.HTTPConnection = _SNIConnection(host.split(":")[0], port, ctx, timeout)
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Host": host, **(headers or {})})
        resp = conn.getresponse()
        return Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
    finally:
        conn.close()


class _SNIConnection(http.client.HTTPSConnection):
    def __init__(self, sni: str, port: int, ctx: ssl.SSLContext, timeout: float) -> None:
        super().__init__("127.0.0.1", port, context=ctx, timeout=timeout)
        self._sni, self._ctx = sni, ctx

    def connect(self) -> None:
        http.client.HTTPConnection.connect(self)
        self.sock = self._ctx.wrap_socket(self.sock, server_hostname=self._sni)
