"""Asyncio HTTP/1.1 load clients for bench/faults.py: closed loop, open loop, slow attackers.

Every loop is bounded by a deadline and a count; every read has a timeout (TIMEOUT).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field

TIMEOUT = 10.0  # a request not answered within this counts as failed
MAX_REQUESTS = 1_000_000


@dataclass
class Stats:
    requests: int = 0
    failures: int = 0
    latencies: list[float] = field(default_factory=list)
    note: str = ""

    def add(self, ok: bool, seconds: float) -> None:
        self.requests += 1
        if ok:
            self.latencies.append(seconds)
        else:
            self.failures += 1
            self.latencies.append(max(seconds, TIMEOUT) if seconds >= TIMEOUT else seconds)

    def p99_ms(self) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return 1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def connect(port: int, source: str = "127.0.0.1") -> Conn:
    return await asyncio.wait_for(
        asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0)), TIMEOUT)


async def _response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
    if "content-length" in headers:
        await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding") == "chunked":
        await reader.readuntil(b"0\r\n\r\n")
    return status


async def one(conn: Conn, host: str) -> int:
    reader, writer = conn
    writer.write(f"GET / HTTP/1.1\r\nHost: {host}\r\nUser-Agent: faults\r\n\r\n".encode())
    await writer.drain()
    return await asyncio.wait_for(_response(reader), TIMEOUT)


def _close(conn: Conn | None) -> None:
    if conn is not None:
        conn[1].close()


async def closed_loop(port: int, host: str, clients: int, duration: float) -> Stats:
    """`clients` keep-alive clients, each sending its next request when the last one ended."""
    stats, deadline = Stats(), time.monotonic() + duration

    async def client() -> None:
        conn: Conn | None = None
        while time.monotonic() < deadline and stats.requests < MAX_REQUESTS:
            t0 = time.monotonic()
            try:
                if conn is None:
                    conn = await connect(port)
                status = await one(conn, host)
                stats.add(status < 400, time.monotonic() - t0)
            except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError, IndexError):
                stats.add(False, time.monotonic() - t0)
                _close(conn)
                conn = None
        _close(conn)

    await asyncio.gather(*(client() for _ in range(clients)))
    return stats


async def browsers(port: int, host: str, rate: int, duration: float) -> Stats:
    """Open loop: `rate` new clients per second; each sends one request on a keep-alive
    connection and then stays idle (a browser between clicks) until the scenario ends."""
    stats, conns, t_start = Stats(), [], time.monotonic()
    done = asyncio.Event()

    async def client() -> None:
        t0 = time.monotonic()
        conn: Conn | None = None
        try:
            conn = await connect(port)
            conns.append(conn)
            stats.add(await one(conn, host) < 400, time.monotonic() - t0)
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError, IndexError):
            stats.add(False, time.monotonic() - t0)
            return
        await done.wait()  # idle, connection open

    tasks = []
    total = int(rate * duration)
    for i in range(total):  # paced by the clock, not by the answers (open loop)
        await asyncio.sleep(max(0.0, t_start + i / rate - time.monotonic()))
        tasks.append(asyncio.create_task(client()))
    await asyncio.sleep(TIMEOUT + 1)  # the last arrivals get their full timeout
    done.set()
    await asyncio.gather(*tasks)
    for c in conns:
        _close(c)
    stats.note = f"{total} clients, {rate}/s, idle keep-alive after 1 request"
    return stats


async def slow_clients(http: int, https: int, host: str, attackers: int, legit: int,
                       duration: float) -> Stats:
    """`attackers` slow connections from 127.0.0.2 (half a stalled TLS handshake, half HTTP
    headers trickled at 8 B/3 s), re-opened when Apache drops them; meanwhile `legit`
    closed-loop clients from 127.0.0.1. Returns the legitimate clients' figures."""
    stop = time.monotonic() + duration + 2
    opened = refused = 0

    async def attacker(i: int) -> None:
        nonlocal opened, refused
        tls = i % 2 == 0
        while time.monotonic() < stop and opened < 50_000:
            try:
                reader, writer = await connect(https if tls else http, "127.0.0.2")
            except (TimeoutError, OSError):
                refused += 1
                await asyncio.sleep(0.5)
                continue
            opened += 1
            try:
                writer.write(b"\x16\x03\x01\x02\x00" if tls else
                             f"GET / HTTP/1.1\r\nHost: {host}\r\n".encode())
                while time.monotonic() < stop:
                    if not tls:
                        writer.write(b"X-a: b\r\n")
                    await writer.drain()
                    with contextlib.suppress(asyncio.TimeoutError):
                        if await asyncio.wait_for(reader.read(1), 3.0) == b"":
                            break  # Apache hung up
            except OSError:
                pass
            finally:
                writer.close()

    attack = [asyncio.create_task(attacker(i)) for i in range(attackers)]
    await asyncio.sleep(2)  # the attack is in place
    stats = await closed_loop(http, host, legit, duration)
    await asyncio.gather(*attack)
    stats.note = (f"{attackers} slow conns from 127.0.0.2: {opened} opened, {refused} refused "
                  "(re-opened when dropped)")
    return stats
