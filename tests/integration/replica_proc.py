"""A stand-in WordPress replica in its own process (so a test can SIGSTOP/SIGCONT it), speaking
HTTP/1.1 with keep-alive like the official image's Apache.

    python3 tests/integration/replica_proc.py PORT [--keepalive 5] [--lazy-close]

Answers every request with 200 and a small body naming the port (the health check's
/wp-content/index.php with an empty body, like PHP's "Silence is golden"). An idle keep-alive
connection is closed after --keepalive seconds. --lazy-close reproduces, deterministically, the
race a proxy loses when it reuses a connection at the moment the replica closes it: the
connection is closed (unanswered) when the next request arrives after the keep-alive timeout.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time

HEALTH = b"/wp-content/index.php"


async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, port: int,
                keepalive: float, lazy: bool) -> None:
    last = time.monotonic()
    try:
        for _ in range(100_000):  # bounded: requests per connection
            try:
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"),
                                              None if lazy else keepalive)
            except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
                return
            if lazy and time.monotonic() - last > keepalive:
                return  # "closed at the keep-alive timeout": the request is never answered
            lines = head.decode("latin-1").split("\r\n")
            path = lines[0].split(" ")[1].encode() if len(lines[0].split(" ")) > 1 else b"/"
            length = 0
            for line in lines[1:]:
                if line.lower().startswith("content-length:"):
                    length = int(line.split(":", 1)[1])
            if length:
                await reader.readexactly(length)
            body = b"" if path == HEALTH else f"replica {port}\n".encode()
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: "
                         + str(len(body)).encode() + b"\r\n\r\n" + body)
            await writer.drain()
            last = time.monotonic()
    finally:
        with contextlib.suppress(Exception):
            writer.close()


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("--keepalive", type=float, default=5.0)
    ap.add_argument("--lazy-close", action="store_true")
    a = ap.parse_args()
    server = await asyncio.start_server(
        lambda r, w: serve(r, w, a.port, a.keepalive, a.lazy_close), "127.0.0.1", a.port,
        backlog=1024, reuse_address=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
