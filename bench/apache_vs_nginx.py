"""Benchmark (not a test): the rendered Apache balancer vs nginx as a plain reverse proxy.

    python bench/apache_vs_nginx.py [--duration 5] [--connections 32]

All on loopback ports 38000-38999, one run, bounded (wrk -t2 -c32 -d5s per setup):
  1. wrk -> nginx static backend (direct)
  2. wrk -> Apache with the rendered site conf + install tuning -> that backend (1 replica)
  3. wrk -> Apache, rendered site with 2 replicas -> two backend ports
  4. wrk -> nginx reverse proxy (upstream keepalive) -> that backend
  5. wrk -> Apache, the same rendered site conf with Debian's default settings (no tuning conf)
  6. wrk -> Apache as installed before (mpm_event), for comparison
Apache is set up by the rendered install script (MPM, module set, tuning conf), as on the box.
Logging is equal: the nginx proxy and Apache both write an access log per request (the static
backend logs nothing in every row). --pin runs wrk on CPU 0 and every server on CPU 1 (the same
for nginx and Apache), so the load generator does not compete with the proxy for a core.
Needs apt packages: apache2 nginx wrk (util-linux for taskset).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from components.config import parse  # noqa: E402
from components.render import BoxPlan  # noqa: E402
from components.render.__main__ import write_plan  # noqa: E402
from components.render.apache import vhost as apache
from tests.integration.apache_env import ApacheEnv, wait_port  # noqa: E402

BACKEND, REPLICAS, NGINX_PROXY = 38001, (38011, 38012), 38090
APACHE_HTTP, APACHE_HTTPS = 38080, 38443
HOST = "bench.example.test"

NGINX_CONF = """\
worker_processes %(workers)s;
pid %(dir)s/nginx.pid;
error_log %(dir)s/error.log warn;
events { worker_connections 4096; }
http {
    access_log %(access)s;
    client_body_temp_path %(dir)s/body; proxy_temp_path %(dir)s/proxy;
    fastcgi_temp_path %(dir)s/fcgi; uwsgi_temp_path %(dir)s/uwsgi; scgi_temp_path %(dir)s/scgi;
    keepalive_requests 100000;
%(servers)s
}
"""
STATIC = ('    server { listen 127.0.0.1:%d; location / { default_type text/plain; '
          'return 200 "hello from the static backend\\n"; } }\n')
PROXY = """\
    upstream app { server 127.0.0.1:%d; keepalive 64; }
    server {
        listen 127.0.0.1:%d;
        location / {
            proxy_pass http://app;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
        }
    }
"""


def nginx(base: Path, name: str, servers: str, workers: str, access: str) -> Path:
    d = base / name
    d.mkdir()
    conf = d / "nginx.conf"
    conf.write_text(NGINX_CONF % {"workers": workers, "dir": d, "servers": servers,
                                  "access": access.replace("DIR", str(d))})
    subprocess.run(["nginx", "-c", str(conf), "-p", str(d)], check=True, timeout=30)
    return conf


def nginx_stop(conf: Path) -> None:
    subprocess.run(["nginx", "-c", str(conf), "-p", str(conf.parent), "-s", "quit"],
                   timeout=30, check=False)


def to_ms(value: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s)", value)
    if not m:
        raise ValueError(value)
    return float(m[1]) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m[2]]


WRK_PREFIX: list[str] = []


def pin_server(pid: int | None) -> None:
    """--pin: the server (all threads, and the children it forks later) on CPU 1."""
    if pid is None:
        return
    kids = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    for p in [pid, *map(int, kids.split())]:
        subprocess.run(["taskset", "-a", "-p", "-c", "1", str(p)], capture_output=True,
                       check=False)


def nginx_pid(conf: Path) -> int:
    return int((conf.parent / "nginx.pid").read_text())


def wrk(port: int, host: str | None, seconds: int, conns: int) -> tuple[float, float, float]:
    argv = [*WRK_PREFIX, "wrk", "-t2", f"-c{conns}", f"-d{seconds}s", "--latency", "--timeout", "5s"]
    if host:
        argv += ["-H", f"Host: {host}"]
    url = f"http://127.0.0.1:{port}/"
    n = len(WRK_PREFIX)
    subprocess.run([*argv[:n + 3], "-d1s", url, *argv[n + 4:]], capture_output=True,
                   timeout=30)  # warm
    out = subprocess.run([*argv, url], capture_output=True, text=True, timeout=seconds + 30).stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)|Socket errors: .*", out)
    if errors:
        print(f"  warning: {errors[0]}", file=sys.stderr)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1])  # type: ignore[index]
    p50 = to_ms(re.search(r"\s50%\s+(\S+)", out)[1])  # type: ignore[index]
    p99 = to_ms(re.search(r"\s99%\s+(\S+)", out)[1])  # type: ignore[index]
    return rps, p50, p99


def render_sites(out: Path) -> None:
    # (acme.email doubles as the WordPress admin's e-mail, required since the unattended install)
    stack = parse({"box": {"host": "local"}, "acme": {"email": "admin@example.org"},
                   "apache": {"httpPort": APACHE_HTTP,
                                                         "httpsPort": APACHE_HTTPS},
                   "sites": [{"name": "one", "domain": HOST, "port": BACKEND, "tls": False},
                             {"name": "two", "domain": f"two.{HOST}", "port": REPLICAS[0],
                              "replicas": 2, "tls": False}]})
    write_plan(BoxPlan(files=apache.files(stack), commands=tuple(apache.commands(stack))), out)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--pin", action="store_true", help="wrk on CPU 0, servers on CPU 1")
    a = ap.parse_args()
    if a.pin:
        WRK_PREFIX[:] = ["taskset", "-c", "0"]
    missing = [b for b in ("wrk", "nginx", "apache2ctl") if not shutil.which(b)]
    if missing:
        print(f"missing {missing}: apt-get install -y wrk nginx apache2", file=sys.stderr)
        return 2
    base = Path(tempfile.mkdtemp(prefix="wpfleet-bench-"))
    base.chmod(0o755)
    servers = "".join(STATIC % p for p in (BACKEND, *REPLICAS))
    backend = nginx(base, "backend", servers, "1", "off")
    proxy: Path | None = None
    env = ApacheEnv.create(APACHE_HTTP, APACHE_HTTPS, base / "apache", enable_modules=False)
    rows: dict[str, tuple[float, float, float]] = {}
    run = (a.duration, a.connections)
    paired: dict[str, tuple[float, float, float]] = {}  # nginx measured right before each row

    def measure(label: str, port: int, host: str | None) -> None:
        # the machine is shared: pair every row with an nginx run taken just before it
        paired[label] = wrk(NGINX_PROXY, HOST, *run)
        rows[label] = wrk(port, host, *run)

    try:
        proxy = nginx(base, "proxy", PROXY % (BACKEND, NGINX_PROXY), "auto", "DIR/access.log")
        for p in (BACKEND, *REPLICAS, NGINX_PROXY):
            wait_port(p)
        if a.pin:
            pin_server(nginx_pid(backend))
            pin_server(nginx_pid(proxy))

        def start() -> None:
            env.start()
            if a.pin:
                pin_server(env.pid())

        measure("direct to backend", BACKEND, None)
        render_sites(base / "out")
        installed = env.run_script(base / "out" / "commands" / "apache-install.sh")
        if installed.returncode != 0:
            raise RuntimeError(installed.stdout + installed.stderr)
        env.stop()
        env.load_rendered(base / "out")
        start()
        measure("apache (wpfleet conf+tuning)", APACHE_HTTP, HOST)
        measure("apache, 2 replicas", APACHE_HTTP, f"two.{HOST}")
        env.stop()
        (env.root / "conf-enabled" / "wpfleet-tuning.conf").unlink()
        start()
        measure("apache (Debian defaults)", APACHE_HTTP, HOST)
        env.stop()
        (env.root / "conf-enabled" / "wpfleet-tuning.conf").symlink_to(
            "../conf-available/wpfleet-tuning.conf")
        subprocess.run(["a2dismod", "-q", "mpm_worker"], env=env.env, check=True,
                       capture_output=True)
        subprocess.run(["a2enmod", "-q", "mpm_event"], env=env.env, check=True,
                       capture_output=True)
        start()
        measure("apache, mpm_event (old install)", APACHE_HTTP, HOST)
        env.stop()
        measure("nginx proxy (keepalive)", NGINX_PROXY, HOST)
    finally:
        env.stop()
        nginx_stop(backend)
        if proxy:
            nginx_stop(proxy)
    layout = ("wrk pinned to CPU 0, proxy and backend to CPU 1" if a.pin
              else "2 cores shared by wrk, proxy and backend")
    print(f"\nwrk -t2 -c{a.connections} -d{a.duration}s on loopback ({layout}); each row is "
          "compared with an nginx-proxy run taken just before it\n")
    print("| setup | req/s | p50 ms | p99 ms | nginx req/s | nginx p99 | req/s vs nginx "
          "| p99 - nginx p99 |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, (rps, p50, p99) in rows.items():
        n_rps, _, n_p99 = paired[name]
        print(f"| {name} | {rps:,.0f} | {p50:.2f} | {p99:.2f} | {n_rps:,.0f} | {n_p99:.2f} | "
              f"{rps / n_rps:.2f}x | {p99 - n_p99:+.2f} ms |")
    shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
