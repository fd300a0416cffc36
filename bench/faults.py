"""Fault benchmark (not a test): the rendered Apache front door under load while faults happen.

    python bench/faults.py [--baseline] [--mpm event|worker] [--duration 8] [--rate 300]
                           [--only browsers,slow,hung,steady,reload]

Runs the rendered install + site scripts on a private loopback Apache (ports 39080/39443,
replicas 39001-39003) and prints, per scenario, requests, failures and the p99 latency of the
legitimate clients. `--baseline` renders with main's code (`git archive main components`), for
BEFORE figures; `--mpm` swaps the MPM after install (to compare MPMs on the same confs).
Scenarios (each bounded in time and count; a request counts as failed on a connection error,
a timeout (10 s) or a status >= 400):
  steady    16 closed-loop keep-alive clients (the reference)
  browsers  open loop: --rate new keep-alive clients per second, each sends one request and
            then stays idle (as a browser does between clicks) until the scenario ends
  slow      1,100 slow/partial connections from 127.0.0.2 (half stalled TLS handshakes, half
            partial HTTP headers) while 8 closed-loop clients from 127.0.0.1 keep requesting;
            --cap N first applies the firewall's per-address connection cap (iptables connlimit,
            the rule box-firewall renders) on lo: run it in a throwaway network namespace
            (`ns-pytest h9-bench ...`: the rule is deleted afterwards, the table stays)
  hung      one of 3 replicas accepts connections and never answers; 8 closed-loop clients
  reload    8 closed-loop clients while the certbot deploy hook reloads Apache (graceful +
            verify) every 0.5 s, error.log renamed right before each graceful (as logrotate
            does): the note says how many reloads were verified and how long each took
Run it inside a network namespace (`/work/bin/ns-pytest BRANCH python3 bench/faults.py`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.fault_clients import Stats, browsers, closed_loop, slow_clients  # noqa: E402
from components.render.box.firewall import connlimit_args  # noqa: E402
from tests.integration.apache_backends import Backend, HungBackend  # noqa: E402
from tests.integration.apache_env import ApacheEnv, wait_port  # noqa: E402

HTTP, HTTPS, REPLICAS = 39080, 39443, (39001, 39002, 39003)
HOST, TLS_HOST = "bench.example.test", "tls.example.test"


def render(base: Path, code: Path) -> Path:
    stack = base / "Pulumi.bench.yaml"
    stack.write_text(
        "config:\n  wpfleet:box: {host: local}\n"
        f"  wpfleet:acme: {{email: a@example.test, configDir: {base}/le, webroot: {base}/acme}}\n"
        f"  wpfleet:apache: {{httpPort: {HTTP}, httpsPort: {HTTPS}}}\n"
        f"  wpfleet:sites:\n    - {{name: bench, domain: {HOST}, port: {REPLICAS[0]}, "
        f"replicas: {len(REPLICAS)}, tls: false}}\n"
        # a TLS site, so that port 443 serves TLS (the slow clients' stalled handshakes)
        f"    - {{name: tls, domain: {TLS_HOST}, port: 39011}}\n")
    out = base / "out"
    r = subprocess.run([sys.executable, "-m", "components.render", str(stack), str(out)],
                       cwd=code, env={**os.environ, "PYTHONPATH": str(code)}, timeout=120,
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"render failed:\n{r.stdout}{r.stderr}")
    return out


def baseline_code(base: Path) -> Path:
    code = base / "main-code"
    code.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "main", "components", "__main__.py"],
                             check=True, capture_output=True, timeout=60).stdout
    subprocess.run(["tar", "-x", "-C", str(code)], input=archive, check=True, timeout=60)
    return code


def setup(base: Path, out: Path, mpm: str | None) -> ApacheEnv:
    env = ApacheEnv.create(HTTP, HTTPS, base / "state", enable_modules=False)
    live = base / "le" / "live" / TLS_HOST
    live.mkdir(parents=True)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", f"/CN={TLS_HOST}", "-keyout", str(live / "privkey.pem"),
                    "-out", str(live / "fullchain.pem")], check=True, capture_output=True,
                   timeout=60)
    for name in ("apache-install", "apache-acme", "apache-conf-bench", "apache-conf-tls"):
        r = env.run_script(out / "commands" / f"{name}.sh")
        if r.returncode != 0:
            raise SystemExit(f"{name} failed:\n{r.stdout}{r.stderr}")
    if mpm:
        env.stop()
        for m in ("mpm_event", "mpm_worker", "mpm_prefork"):
            env._run(["a2dismod", "-q", "-f", m], check=False)
        env._run(["a2enmod", "-q", f"mpm_{mpm}"])
        env.start()
    wait_port(HTTP)
    time.sleep(1)
    return env


def cap_rule(limit: int, op: str) -> list[str]:
    """The firewall's per-address cap (as box-firewall renders it for ufw), on INPUT here."""
    return ["iptables", op, "INPUT", *connlimit_args(limit, (HTTP, HTTPS))]


def kill_leftovers(env: ApacheEnv) -> None:
    """ApacheEnv.stop SIGKILLs a master that does not stop within 10 s (children stuck on a
    hung replica); its orphaned children of *this* run (their argv names our private root)
    would keep the ports: end them by pid."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv[0].endswith(b"apache2") and str(env.root).encode() in argv:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(proc.name), signal.SIGKILL)
    with contextlib.suppress(TimeoutError):
        wait_port(HTTP, timeout=10, open_=False)


def row(name: str, s: Stats) -> str:
    return f"| {name:<9} | {s.requests:>8} | {s.failures:>8} | {s.p99_ms():>9.1f} | {s.note}"


async def steady(args: argparse.Namespace, echo: list[Backend]) -> Stats:
    return await closed_loop(HTTP, HOST, 16, args.duration)


async def browsers_(args: argparse.Namespace, echo: list[Backend]) -> Stats:
    return await browsers(HTTP, HOST, args.rate, args.duration)


async def slow(args: argparse.Namespace, echo: list[Backend]) -> Stats:
    if args.cap:
        subprocess.run(cap_rule(args.cap, "-I"), check=True, timeout=30)
    try:
        return await slow_clients(HTTP, HTTPS, HOST, 1100, 8, args.duration)
    finally:
        if args.cap:
            subprocess.run(cap_rule(args.cap, "-D"), check=False, timeout=30)


async def hung(args: argparse.Namespace, echo: list[Backend]) -> Stats:
    echo[0].stop()
    stuck = HungBackend(REPLICAS[0]).start()
    try:
        return await closed_loop(HTTP, HOST, 8, max(args.duration, 20.0))
    finally:
        stuck.stop()
        echo[0].start()


async def reload_(args: argparse.Namespace, echo: list[Backend]) -> Stats:
    env: ApacheEnv = args.env
    hook = args.out / str(args.base / "le")[1:] / "renewal-hooks/deploy/wpfleet-reload-apache"
    shim = args.base / "shim" / "apache2ctl"  # renames error.log right before each graceful
    shim.parent.mkdir(exist_ok=True)
    log = env.log_dir / "error.log"
    shim.write_text(f'#!/bin/bash\nif [ "$1" = graceful ]; then mv -f {log} {log}.1; fi\n'
                    f'exec {shutil.which("apache2ctl")} "$@"\n')
    shim.chmod(0o755)
    run_env = {**env.env, "PATH": f"{shim.parent}:{os.environ['PATH']}"}
    deadline, took, verified = time.monotonic() + args.duration, list[float](), 0

    def reloads() -> None:
        nonlocal verified
        while time.monotonic() < deadline and len(took) < 50:
            t0 = time.monotonic()
            r = subprocess.run(["bash", str(hook)], env=run_env, capture_output=True, text=True,
                               timeout=120)
            took.append(time.monotonic() - t0)
            verified += r.returncode == 0 and "previous state restored" not in r.stderr
            time.sleep(0.5)

    stats, _ = await asyncio.gather(closed_loop(HTTP, HOST, 8, args.duration),
                                    asyncio.to_thread(reloads))
    took.sort()
    stats.note = (f"reloads verified {verified}/{len(took)}, "
                  f"{took[len(took) // 2]:.2f}s median, {took[-1]:.2f}s max" if took else "")
    return stats


SCENARIOS = {"steady": steady, "browsers": browsers_, "slow": slow, "hung": hung,
             "reload": reload_}


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--baseline", action="store_true", help="render with main's code")
    ap.add_argument("--mpm", choices=("event", "worker"), help="swap the MPM after install")
    ap.add_argument("--duration", type=float, default=8.0)
    ap.add_argument("--rate", type=int, default=300, help="browsers: new clients per second")
    ap.add_argument("--cap", type=int, default=0, help="slow: per-address connection cap")
    ap.add_argument("--only", default="steady,browsers,slow,hung,reload")
    args = ap.parse_args()
    base = Path(tempfile.mkdtemp(prefix="wpfleet-faults-"))
    base.chmod(0o755)
    out = render(base, baseline_code(base) if args.baseline else ROOT)
    echo = [Backend(p).start() for p in REPLICAS]
    env = setup(base, out, args.mpm)
    args.env, args.out, args.base = env, out, base  # for the reload scenario
    try:
        label = ("BEFORE (main)" if args.baseline else "AFTER (this tree)") + \
            (f", mpm_{args.mpm}" if args.mpm else "") + (f", cap {args.cap}" if args.cap else "")
        print(f"# {label}; duration {args.duration:g}s; browsers {args.rate}/s", flush=True)
        print("| scenario  | requests | failures |   p99 ms | note")
        print("|-----------|---------:|---------:|---------:|-----", flush=True)
        for name in args.only.split(","):
            print(row(name, asyncio.run(SCENARIOS[name](args, echo))), flush=True)
            time.sleep(6)  # let idle connections of the previous scenario time out
    finally:
        env.stop()
        kill_leftovers(env)
        for b in echo:
            b.stop()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
