#!/usr/bin/env python3
"""Services beside the test box (started by box.sh; standard library only, Python >= 3.11).

  sidecar.py duckdns --listen IP --cert PEM --key PEM --log FILE [--tokens FILE]
      A fake www.duckdns.org: HTTPS on IP:443 and HTTP on IP:80. Every request to /update is
      appended to FILE as one JSON line (time, client, query) and answered like DuckDNS: "OK"
      when domains and token are given (and, if FILE --tokens exists, the token is listed in
      it), else "KO". verbose=true adds the IP and UPDATED/NOCHANGE lines as DuckDNS does.
  sidecar.py smtp --listen IP --cert PEM --key PEM --maildir DIR --log FILE
      An SMTP sink on IP:25 and IP:587 (STARTTLS offered) and IP:465 (implicit TLS). AUTH PLAIN
      and LOGIN accept any credentials. Each message lands in DIR/new/ (a maildir) with a
      Return-Path and Delivered-To header, and one JSON line in FILE (envelope, auth user, the
      sha256 of the password, TLS or not, port).
  sidecar.py relay --listen IP:PORT --target IP:PORT
      A plain TCP relay: the box's only way off the machine (Debian's mirror, port 80).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import os
import signal
import ssl
import time
import urllib.parse
from pathlib import Path


def log_line(path: Path, record: dict[str, object]) -> None:
    record = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **record}
    with path.open("a", encoding="utf-8") as f:
        f.write(json.dumps(record, sort_keys=True) + "\n")


def tls_context(cert: str, key: str) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    return ctx


# ---------------------------------------------------------------- DuckDNS
async def duckdns_handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                         args: argparse.Namespace, scheme: str) -> None:
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError,
            ConnectionError, ssl.SSLError):
        writer.close()
        return
    lines = head.decode("latin-1").split("\r\n")
    try:
        method, target, _ = lines[0].split(" ", 2)
    except ValueError:
        writer.close()
        return
    headers = {k.strip().lower(): v.strip() for k, _, v in
               (line.partition(":") for line in lines[1:] if line)}
    url = urllib.parse.urlsplit(target)
    query = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query, keep_blank_values=True).items()}
    client = writer.get_extra_info("peername")[0]
    status, body = "200 OK", ""
    if url.path in ("/update", "/update/"):
        domains, token = query.get("domains", ""), query.get("token", "")
        allowed = True
        tokens_file = Path(args.tokens) if args.tokens else None
        if tokens_file is not None and tokens_file.exists():
            allowed = token in tokens_file.read_text().split()
        ok = bool(domains) and bool(token) and allowed
        body = "OK" if ok else "KO"
        if ok and query.get("verbose") == "true":
            body += f"\n{query.get('ip') or client}\n{query.get('ipv6', '')}\nUPDATED"
        log_line(Path(args.log), {"client": client, "scheme": scheme, "method": method,
                                  "host": headers.get("host"), "path": url.path,
                                  "query": query, "answer": body.split("\n")[0]})
    elif url.path == "/":
        body = "wpfleet-box fake DuckDNS: GET /update?domains=...&token=...\n"
    else:
        status, body = "404 Not Found", "not found"
    data = body.encode()
    writer.write(f"HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=UTF-8\r\n"
                 f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n".encode() + data)
    try:
        await writer.drain()
    finally:
        writer.close()


async def duckdns(args: argparse.Namespace) -> None:
    ctx = tls_context(args.cert, args.key)
    https = await asyncio.start_server(lambda r, w: duckdns_handle(r, w, args, "https"),
                                       args.listen, 443, ssl=ctx)
    http = await asyncio.start_server(lambda r, w: duckdns_handle(r, w, args, "http"),
                                      args.listen, 80)
    async with https, http:
        await asyncio.gather(https.serve_forever(), http.serve_forever())


# ---------------------------------------------------------------- SMTP
class SmtpSession:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 args: argparse.Namespace, port: int, tls: bool, ctx: ssl.SSLContext) -> None:
        self.r, self.w, self.args, self.port, self.tls, self.ctx = reader, writer, args, port, tls, ctx
        self.auth_user: str | None = None
        self.auth_password_sha256: str | None = None
        self.reset()

    def reset(self) -> None:
        self.mail_from: str | None = None
        self.rcpt: list[str] = []

    async def send(self, line: str) -> None:
        self.w.write(line.encode() + b"\r\n")
        await self.w.drain()

    async def readline(self) -> str:
        line = await asyncio.wait_for(self.r.readline(), 300)
        if not line:
            raise ConnectionError("client closed")
        return line.decode("utf-8", "replace").rstrip("\r\n")

    def note_auth(self, user: str, password: str) -> None:
        self.auth_user = user
        self.auth_password_sha256 = hashlib.sha256(password.encode()).hexdigest()

    async def run(self) -> None:
        await self.send("220 smtp.test ESMTP wpfleet-box sink")
        while True:
            line = await self.readline()
            verb, _, rest = line.partition(" ")
            verb = verb.upper()
            if verb in ("EHLO", "HELO"):
                if verb == "HELO":
                    await self.send("250 smtp.test")
                    continue
                caps = ["250-smtp.test", "250-8BITMIME", "250-SIZE 52428800"]
                if not self.tls:
                    caps.append("250-STARTTLS")
                caps.append("250 AUTH PLAIN LOGIN")
                for c in caps:
                    await self.send(c)
            elif verb == "STARTTLS" and not self.tls:
                await self.send("220 ready to start TLS")
                await self.w.start_tls(self.ctx)
                self.tls = True
                self.reset()
            elif verb == "AUTH":
                mech, _, initial = rest.partition(" ")
                if mech.upper() == "PLAIN":
                    if not initial:
                        await self.send("334 ")
                        initial = await self.readline()
                    parts = base64.b64decode(initial + "==").split(b"\0")
                    self.note_auth(parts[1].decode() if len(parts) > 1 else "",
                                   parts[2].decode() if len(parts) > 2 else "")
                    await self.send("235 2.7.0 accepted")
                elif mech.upper() == "LOGIN":
                    if initial:
                        user = base64.b64decode(initial).decode()
                    else:
                        await self.send("334 VXNlcm5hbWU6")
                        user = base64.b64decode(await self.readline()).decode()
                    await self.send("334 UGFzc3dvcmQ6")
                    password = base64.b64decode(await self.readline()).decode()
                    self.note_auth(user, password)
                    await self.send("235 2.7.0 accepted")
                else:
                    await self.send("504 5.5.4 unsupported mechanism")
            elif verb == "MAIL":
                self.mail_from = rest.split(":", 1)[1].strip().split(" ")[0].strip("<>")
                self.rcpt = []
                await self.send("250 2.1.0 ok")
            elif verb == "RCPT":
                if self.mail_from is None:
                    await self.send("503 5.5.1 MAIL first")
                    continue
                self.rcpt.append(rest.split(":", 1)[1].strip().split(" ")[0].strip("<>"))
                await self.send("250 2.1.5 ok")
            elif verb == "DATA":
                if not self.rcpt:
                    await self.send("503 5.5.1 RCPT first")
                    continue
                await self.send("354 end with <CRLF>.<CRLF>")
                body = []
                while (line := await self.readline()) != ".":
                    body.append(line[1:] if line.startswith("..") else line)
                name = self.deliver("\r\n".join(body) + "\r\n")
                await self.send(f"250 2.0.0 ok queued as {name}")
                self.reset()
            elif verb == "RSET":
                self.reset()
                await self.send("250 2.0.0 ok")
            elif verb == "NOOP":
                await self.send("250 2.0.0 ok")
            elif verb == "QUIT":
                await self.send("221 2.0.0 bye")
                return
            else:
                await self.send("502 5.5.2 command not implemented")

    def deliver(self, message: str) -> str:
        maildir = Path(self.args.maildir)
        name = f"{time.time():.6f}.{os.getpid()}.wpfleet-box"
        head = f"Return-Path: <{self.mail_from}>\r\n" + "".join(
            f"Delivered-To: {r}\r\n" for r in self.rcpt)
        tmp = maildir / "tmp" / name
        tmp.write_text(head + message, encoding="utf-8")
        tmp.rename(maildir / "new" / name)
        log_line(Path(self.args.log), {
            "file": str(maildir / "new" / name), "mail_from": self.mail_from, "rcpt_to": self.rcpt,
            "auth_user": self.auth_user, "auth_password_sha256": self.auth_password_sha256,
            "tls": self.tls, "port": self.port,
            "client": self.w.get_extra_info("peername")[0]})
        return name


async def smtp(args: argparse.Namespace) -> None:
    ctx = tls_context(args.cert, args.key)
    for sub in ("new", "cur", "tmp"):
        (Path(args.maildir) / sub).mkdir(parents=True, exist_ok=True)

    def handler(port: int, tls: bool):  # noqa: ANN202
        async def handle(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            try:
                await SmtpSession(r, w, args, port, tls, ctx).run()
            except (ConnectionError, TimeoutError, ssl.SSLError, ValueError, IndexError,
                    UnicodeDecodeError, asyncio.IncompleteReadError):
                pass
            finally:
                w.close()
        return handle

    servers = [await asyncio.start_server(handler(25, False), args.listen, 25),
               await asyncio.start_server(handler(587, False), args.listen, 587),
               await asyncio.start_server(handler(465, True), args.listen, 465, ssl=ctx)]
    await asyncio.gather(*(s.serve_forever() for s in servers))


# ---------------------------------------------------------------- relay
async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
    try:
        while data := await src.read(65536):
            dst.write(data)
            await dst.drain()
    except ConnectionError:
        pass
    finally:
        dst.close()


async def relay(args: argparse.Namespace) -> None:
    lhost, lport = args.listen.rsplit(":", 1)
    thost, tport = args.target.rsplit(":", 1)

    async def handle(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        try:
            tr, tw = await asyncio.wait_for(asyncio.open_connection(thost, int(tport)), 30)
        except (OSError, TimeoutError):
            w.close()
            return
        await asyncio.gather(pipe(r, tw), pipe(tr, w))

    server = await asyncio.start_server(handle, lhost, int(lport))
    async with server:
        await server.serve_forever()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("duckdns")
    d.add_argument("--listen", required=True)
    d.add_argument("--cert", required=True)
    d.add_argument("--key", required=True)
    d.add_argument("--log", required=True)
    d.add_argument("--tokens")
    s = sub.add_parser("smtp")
    s.add_argument("--listen", required=True)
    s.add_argument("--cert", required=True)
    s.add_argument("--key", required=True)
    s.add_argument("--maildir", required=True)
    s.add_argument("--log", required=True)
    r = sub.add_parser("relay")
    r.add_argument("--listen", required=True)
    r.add_argument("--target", required=True)
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    asyncio.run({"duckdns": duckdns, "smtp": smtp, "relay": relay}[args.cmd](args))


if __name__ == "__main__":
    main()
