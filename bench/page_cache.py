"""Benchmark (not a test): the page cache in front of a real WordPress, vs nginx's proxy_cache.

    /work/bin/ns-pytest NS python3 bench/page_cache.py [--duration 10] [--connections 32]

One run, loopback ports 39000-39999, the same real WordPress throughout (Debian's wordpress on
php-fpm + MariaDB, two replicas: tests/integration/wordpress_env.py):
  1. wrk -> balancer (rendered site conf, no cache)      -> replicas -> PHP   (home page)
  2. wrk -> balancer (same site with `cache: {ttl: N}`; the rendered cache + conf scripts)
  3. wrk -> nginx proxy_cache with EasyEngine-style bypass rules (same TTL) -> replicas
Then, under the same load, how many requests reach PHP while the cached home page expires
(counted from php-fpm's access logs; the balancer's HEAD health checks are not counted), for
the balancer and for nginx (proxy_cache_lock + use_stale updating, as EasyEngine/WordOps set).
Needs apt packages: apache2 nginx wrk + .ci/packages.d/h10.txt.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.apache_vs_nginx import nginx, nginx_stop, wrk  # noqa: E402
from components.config import parse  # noqa: E402
from components.render import BoxPlan  # noqa: E402
from components.render.__main__ import write_plan  # noqa: E402
from components.render.apache import cache as apache_cache
from components.render.apache import vhost as apache
from tests.integration.apache_env import ApacheEnv, wait_port  # noqa: E402
from tests.integration.wordpress_env import WordPressEnv, missing  # noqa: E402

HTTP, HTTPS, NGINX, NGINX_SHORT = 39080, 39443, 39090, 39091
NGINX_COOKIES = ("comment_author|wordpress_[a-f0-9]+|wp-postpass|wordpress_no_cache|wordpress_logged_in"
                 "|woocommerce_items_in_cart|woocommerce_cart_hash|wp_woocommerce_session_")
REPLICAS = (39011, 39012)
HOST = "bench.example.test"
SITE = "cachebench"

# EasyEngine v4 / WordOps-style rules (their fastcgi_cache rules, here with proxy_cache).
NGINX_CACHE = """\
    proxy_cache_path %(dir)s/cache levels=1:2 keys_zone=wp:32m max_size=256m inactive=1h;
    upstream wp { server 127.0.0.1:%(r0)d; server 127.0.0.1:%(r1)d; keepalive 64; }
"""
NGINX_SERVER = """\
    server {
        listen 127.0.0.1:%(port)d;
        set $skip_cache 0;
        if ($request_method = POST) { set $skip_cache 1; }
        if ($query_string != "") { set $skip_cache 1; }
        if ($request_uri ~* "(/wp-admin/|/xmlrpc.php|wp-.*.php|index.php|/feed/|sitemap(_index)?.xml|/wp-json/)") {
            set $skip_cache 1;
        }
        if ($http_cookie ~* "%(cookies)s") {
            set $skip_cache 1;
        }
        location / {
            proxy_pass http://wp;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_cache wp;
            proxy_cache_key "$server_port$scheme$request_method$host$request_uri";
            proxy_cache_valid 200 %(ttl)ds;
            proxy_cache_bypass $skip_cache;
            proxy_no_cache $skip_cache;
            proxy_cache_lock on;
            proxy_cache_use_stale error timeout invalid_header updating http_500 http_503;
            proxy_cache_background_update on;
            add_header X-Cache $upstream_cache_status;
        }
    }
"""


def render(out: Path, ttl: int) -> None:
    site = {"name": SITE, "domain": HOST, "port": REPLICAS[0], "replicas": 2, "tls": False}
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
    ap.add_argument("--rounds", type=int, default=5, help="alternating runs of the two caches")
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
    rows: dict[str, tuple[float, float, float]] = {}
    storms: dict[str, tuple[int, int]] = {}
    ratios: list[str] = []
    load = (a.duration, a.connections)
    out = base / "out"

    def apply(ttl: int, *names: str) -> None:
        render(out, ttl)
        for name in names:
            run(env, out / "commands" / f"{name}.sh", cron_dir)

    try:
        wp.start()
        apply(0, "apache-install", "apache-acme", f"apache-conf-{SITE}")
        env.wait_reloads(0)
        wait_port(HTTP)
        rows["balancer, no cache"] = wrk(HTTP, HOST, *load)
        apply(a.ttl, f"apache-cache-{SITE}", f"apache-conf-{SITE}")
        time.sleep(1)
        servers = "".join(NGINX_SERVER % {"port": port, "ttl": ttl, "cookies": NGINX_COOKIES}
                          for port, ttl in ((NGINX, a.ttl), (NGINX_SHORT, a.expiry_ttl)))
        proxy = nginx(base, "nginx", NGINX_CACHE % {
            "dir": base / "nginx", "r0": REPLICAS[0], "r1": REPLICAS[1]} + servers,
            "auto", "DIR/access.log")
        wait_port(NGINX)
        # the machine is shared and noisy: alternate the two caches, keep each one's median
        runs: dict[str, list[tuple[float, float, float]]] = {
            f"balancer, cache ttl {a.ttl}s": [], f"nginx proxy_cache ttl {a.ttl}s": []}
        for _ in range(a.rounds):
            for results, port in zip(runs.values(), (HTTP, NGINX), strict=True):
                results.append(wrk(port, HOST, *load))
        for name, results in runs.items():
            rows[name] = sorted(results)[len(results) // 2]
            ratios.append(f"{name}: " + ", ".join(f"{r[0]:,.0f}" for r in results))
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
          f"loopback, {os.cpu_count()} cores shared by wrk, proxy, PHP and MariaDB\n")
    print("Cached rows: median of alternating runs (req/s per run: " + "; ".join(ratios) + ")\n")
    print("| setup | req/s | p50 ms | p99 ms | vs uncached | vs nginx |")
    print("|---|---:|---:|---:|---:|---:|")
    uncached = rows["balancer, no cache"][0]
    ngx = rows[f"nginx proxy_cache ttl {a.ttl}s"][0]
    for name, (rps, p50, p99) in rows.items():
        print(f"| {name} | {rps:,.1f} | {p50:.2f} | {p99:.2f} | {rps / uncached:,.0f}x | "
              f"{rps / ngx:.2f}x |")
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
