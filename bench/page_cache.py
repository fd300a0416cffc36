"""Benchmark (not a test): the page cache in front of a real WordPress, vs nginx's proxy_cache.

    .venv/bin/python bench/page_cache.py [--rounds 6] [--duration 6] [--connections 32]

One run, loopback ports 39000-39999, the same real WordPress throughout (Debian's wordpress on
php-fpm + MariaDB, two replicas: tests/integration/wordpress_env.py):
  1. wrk -> balancer (rendered site conf, no cache)      -> replicas -> PHP   (home page)
  2. wrk -> balancer (same site with `cache: {ttl: N}`; the rendered cache + conf scripts)
  3. wrk -> nginx proxy_cache with EasyEngine-style bypass rules (same TTL) -> replicas; the
     conf compared with is checked in: bench/nginx_page_cache.conf (+ _server.conf)
2 and 3 alternate for --rounds rounds (which goes first alternates too); each run reports
req/s, p50/p99, the hit ratio (1 - requests that reached PHP / requests) and, when `perf stat`
works, the server's own CPU time per request (task-clock of its processes during the run).
Then, under the same load, how many requests reach PHP while the cached home page expires
(counted from php-fpm's access logs; the balancer's HEAD health checks are not counted), for
the balancer and for nginx (proxy_cache_lock + use_stale updating, as EasyEngine/WordOps set).
Needs apt packages: apache2 nginx wrk + .ci/packages.d/h10.txt.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.apache_vs_nginx import nginx_stop, to_ms, wrk  # noqa: E402
from components.config import parse  # noqa: E402
from components.render import BoxPlan  # noqa: E402
from components.render.__main__ import write_plan  # noqa: E402
from components.render.apache import cache as apache_cache
from components.render.apache import vhost as apache
from tests.integration.apache_env import ApacheEnv, wait_port  # noqa: E402
from tests.integration.wordpress_env import WordPressEnv, missing  # noqa: E402

HTTP, HTTPS, NGINX, NGINX_SHORT = 39080, 39443, 39090, 39091
REPLICAS = (39011, 39012)
HOST = "bench.example.test"
SITE = "cachebench"
HERE = Path(__file__).resolve().parent
NGINX_CONF = HERE / "nginx_page_cache.conf"  # what is compared, checked in
NGINX_SERVER = HERE / "nginx_page_cache_server.conf"


def start_nginx(base: Path, ttl: int, short_ttl: int) -> Path:
    """nginx with bench/nginx_page_cache.conf: NGINX caches for `ttl`, NGINX_SHORT for short_ttl."""
    d = base / "nginx"
    d.mkdir()
    server = NGINX_SERVER.read_text()
    (d / "servers.conf").write_text("".join(
        server.replace("@PORT@", str(port)).replace("@TTL@", str(t))
        for port, t in ((NGINX, ttl), (NGINX_SHORT, short_ttl))))
    conf = d / "nginx.conf"
    conf.write_text(NGINX_CONF.read_text().replace("@DIR@", str(d))
                    .replace("@R0@", str(REPLICAS[0])).replace("@R1@", str(REPLICAS[1]))
                    .replace("@TTL_SHORT@", str(short_ttl)).replace("@TTL@", str(ttl)))
    subprocess.run(["nginx", "-c", str(conf), "-p", str(d)], check=True, timeout=30)
    return conf


def server_pids(pid_file: Path) -> list[int]:
    """The processes that serve requests: the children of the master in `pid_file`."""
    master = pid_file.read_text().strip()
    kids = subprocess.run(["pgrep", "-P", master], capture_output=True, text=True).stdout
    return [int(k) for k in kids.split()]


def perf_works() -> bool:
    return shutil.which("perf") is not None and subprocess.run(
        ["perf", "stat", "-e", "task-clock", "true"], capture_output=True).returncode == 0


@dataclass
class Run:
    rps: float
    p50: float
    p99: float
    hit_ratio: float  # share of the run's requests that did not reach PHP
    cpu_us: float | None  # the server's CPU time per request (perf stat task-clock), if perf runs


def measure(port: int, pid_file: Path, wp: WordPressEnv, seconds: int, conns: int,
            perf: bool) -> Run:
    """wrk against `port` (after a 1 s warm-up); perf stat on the server's processes meanwhile."""
    argv = ["wrk", "-t2", f"-c{conns}", "--latency", "--timeout", "5s", "-H", f"Host: {HOST}",
            f"http://127.0.0.1:{port}/"]
    subprocess.run([*argv, "-d1s"], capture_output=True, timeout=60)
    before = wp.php_hits()
    load = subprocess.Popen([*argv, f"-d{seconds}s"], stdout=subprocess.PIPE, text=True)
    cpu_ms = window = None
    if perf and seconds >= 4:
        window = seconds - 2
        time.sleep(1)
        stat = subprocess.run(["perf", "stat", "-x,", "-e", "task-clock", "-p",
                               ",".join(map(str, server_pids(pid_file))), "--", "sleep",
                               str(window)], capture_output=True, text=True, timeout=window + 30)
        m = re.search(r"^([\d.]+),[^,]*,task-clock", stat.stderr, re.M)
        cpu_ms = float(m[1]) if m else None
    out, _ = load.communicate(timeout=seconds + 60)
    time.sleep(0.5)  # php-fpm logs a request when PHP is done
    php = wp.php_hits() - before
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1])  # type: ignore[index]
    total = int(re.search(r"(\d+) requests in", out)[1])  # type: ignore[index]
    p50 = to_ms(re.search(r"\s50%\s+(\S+)", out)[1])  # type: ignore[index]
    p99 = to_ms(re.search(r"\s99%\s+(\S+)", out)[1])  # type: ignore[index]
    cpu = cpu_ms * 1000 / (rps * window) if cpu_ms and window else None
    return Run(rps, p50, p99, 1 - php / max(total, 1), cpu)


def render(out: Path, ttl: int) -> None:
    site = {"name": SITE, "domain": HOST, "port": REPLICAS[0], "replicas": 2, "tls": False,
            "adminEmail": "admin@example.org"}
    if ttl:
        site["cache"] = {"ttl": ttl}
    stack = parse({"box": {"host": "local"}, "apache": {"httpPort": HTTP, "httpsPort": HTTPS},
                   "sites": [site]})
    shutil.rmtree(out, ignore_errors=True)
    write_plan(BoxPlan(files=apache.files(stack), commands=tuple(apache.commands(stack))), out)


def run(env: ApacheEnv, script: Path, cron_dir: Path) -> None:
    done = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=120,
                          env={**env.env, "WPFLEET_CRON_DIR": str(cron_dir)})
    if done.returncode != 0:
        raise RuntimeError(f"{script.name}:\n{done.stdout}{done.stderr}")


def expiry_storm(wp: WordPressEnv, port: int, ttl: int, conns: int) -> tuple[int, int]:
    """wrk at full load for 4 TTLs + 1 s (4 expiries of a warm entry); PHP hits, expiries."""
    subprocess.run(["curl", "-s", "-o", "/dev/null", "-H", f"Host: {HOST}",
                    f"http://127.0.0.1:{port}/"], check=True, timeout=60)  # stored now
    before = wp.php_hits()
    seconds = 4 * ttl + 1
    subprocess.run(["wrk", "-t2", f"-c{conns}", f"-d{seconds}s", "-H", f"Host: {HOST}",
                    f"http://127.0.0.1:{port}/"], capture_output=True, timeout=seconds + 60)
    time.sleep(1)  # php-fpm logs a request when PHP is done
    return wp.php_hits() - before, seconds // ttl


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=6)
    ap.add_argument("--rounds", type=int, default=6, help="alternating runs of the two caches")
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--ttl", type=int, default=300,
                    help="TTL of the throughput rows (longer than the runs: hits only)")
    ap.add_argument("--expiry-ttl", type=int, default=5, help="TTL of the expiry-under-load runs")
    ap.add_argument("--php-children", type=int, default=4, help="php-fpm children per replica")
    a = ap.parse_args()
    gaps = [b for b in ("wrk", "nginx", "apache2ctl", "curl") if not shutil.which(b)] + missing()
    if gaps:
        print(f"missing {gaps}: apt-get install -y wrk nginx apache2 curl "
              "$(cat .ci/packages.d/h10.txt)", file=sys.stderr)
        return 2
    base = Path(tempfile.mkdtemp(prefix="wpfleet-bench-cache-"))
    base.chmod(0o755)
    root = Path(apache_cache.CACHE_BASE) / f"wpfleet-{SITE}"
    shutil.rmtree(root, ignore_errors=True)
    cron_dir = base / "cron"
    cron_dir.mkdir()
    # WP_HOME without a port: clients send the bare domain as Host, to any of the ports
    wp = WordPressEnv.create(f"http://{HOST}", REPLICAS, base / "wp", a.php_children)
    env = ApacheEnv.create(HTTP, HTTPS, base / "apache", enable_modules=False)
    proxy: Path | None = None
    uncached: tuple[float, float, float] | None = None
    storms: dict[str, tuple[int, int]] = {}
    load = (a.duration, a.connections)
    out = base / "out"
    perf = perf_works()
    cached = {"balancer": (HTTP, env.pid_file), "nginx": (NGINX, base / "nginx/nginx.pid")}
    runs: dict[str, list[Run]] = {name: [] for name in cached}

    def apply(ttl: int, *names: str) -> None:
        render(out, ttl)
        for name in names:
            run(env, out / "commands" / f"{name}.sh", cron_dir)

    try:
        wp.start()
        apply(0, "apache-install", "apache-acme", f"apache-conf-{SITE}")
        env.wait_reloads(0)
        wait_port(HTTP)
        uncached = wrk(HTTP, HOST, *load)
        apply(a.ttl, f"apache-cache-{SITE}", f"apache-conf-{SITE}")
        time.sleep(1)
        proxy = start_nginx(base, a.ttl, a.expiry_ttl)
        wait_port(NGINX)
        # the machine is shared and noisy: alternate the two caches in the same run, every round
        for i in range(a.rounds):
            order = list(cached.items()) if i % 2 == 0 else list(cached.items())[::-1]
            for name, (port, pid_file) in order:
                runs[name].append(measure(port, pid_file, wp, a.duration, a.connections, perf))
            b_, n_ = runs["balancer"][-1], runs["nginx"][-1]
            print(f"  round {i + 1}: balancer {b_.rps:,.0f} req/s, nginx {n_.rps:,.0f} req/s,"
                  f" ratio {b_.rps / n_.rps:.2f}", file=sys.stderr)
        storms["nginx (proxy_cache_lock, use_stale updating)"] = expiry_storm(
            wp, NGINX_SHORT, a.expiry_ttl, a.connections)
        apply(a.expiry_ttl, f"apache-cache-{SITE}", f"apache-conf-{SITE}")
        for entry in root.iterdir():  # entries stored under the long TTL keep their expiry
            shutil.rmtree(entry)
        time.sleep(1)
        storms["balancer (mod_cache_disk, CacheLock On)"] = expiry_storm(
            wp, HTTP, a.expiry_ttl, a.connections)
    finally:
        env.stop()
        if proxy:
            nginx_stop(proxy)
        wp.stop()
        shutil.rmtree(root, ignore_errors=True)
    print(f"\nHome page of a real WordPress 6.1 (Debian, twentytwentyone, php-fpm {a.php_children}"
          f" children x 2 replicas, MariaDB); wrk -t2 -c{a.connections} -d{a.duration}s on "
          f"loopback, {os.cpu_count()} cores shared by wrk, proxy, PHP and MariaDB; "
          f"{a.rounds} alternating rounds, ttl {a.ttl} s (no entry expires during them)\n")
    assert uncached is not None
    print(f"Balancer without cache: {uncached[0]:,.1f} req/s, p50 {uncached[1]:.0f} ms, "
          f"p99 {uncached[2]:.0f} ms\n")
    print("| cache | req/s (median; range) | p99 ms (median; range) | hit ratio (min) "
          "| server CPU per request, us (median; range) | vs uncached (median) |")
    print("|---|---:|---:|---:|---:|---:|")

    def cell(values: list[float], fmt: str) -> str:
        v = sorted(values)
        return f"{format(v[len(v) // 2], fmt)} ({format(v[0], fmt)}-{format(v[-1], fmt)})"

    for name, rs in runs.items():
        cpus = [r.cpu_us for r in rs if r.cpu_us is not None]
        print(f"| {name} | {cell([r.rps for r in rs], ',.0f')} | {cell([r.p99 for r in rs], '.1f')}"
              f" | {min(r.hit_ratio for r in rs):.5f} | {cell(cpus, '.0f') if cpus else 'n/a'}"
              f" | {sorted(r.rps for r in rs)[len(rs) // 2] / uncached[0]:,.0f}x |")
    ratios = [b_.rps / n_.rps for b_, n_ in zip(runs["balancer"], runs["nginx"], strict=True)]
    print("\nbalancer / nginx req/s, per round (same round, alternating): "
          + ", ".join(f"{r:.2f}" for r in ratios)
          + f"; median {sorted(ratios)[len(ratios) // 2]:.2f}")
    print(f"\nRequests reaching PHP while the cached home page expires under load "
          f"(wrk -c{a.connections} for {4 * a.expiry_ttl + 1} s, ttl {a.expiry_ttl} s)\n")
    print("| proxy | PHP requests | TTL boundaries in the run | per boundary |")
    print("|---|---:|---:|---:|")
    for name, (hits, expiries) in storms.items():
        print(f"| {name} | {hits} | {expiries} | {hits / expiries:.1f} |")
    shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
