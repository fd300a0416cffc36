"""Benchmark (not a test): a hung replica (SIGSTOP) behind the rendered balancer, issue 21 item 1.

    .venv/bin/python bench/hung_replica.py [current|retryN|hcretryN] [RATE]

The world of tests/integration/test_apache_replica_faults.py (3 replicas, private Apache on
127.0.0.1:28580), the same open loop (RATE new connections/s, default 100, for 43 s; the first
replica hangs at 2 s and recovers at 26 s) and the member's status read from balancer-manager
twice a second. Variants of the rendered member line: `current` (health checks every 2 s,
retry=5), `retryN` (no health checks, retry=N: the "longer retry" alternative), `hcretryN`
(health checks and retry=N). Prints the requests that failed or took > 1.5 s during the 24 s
after the hang, when the member first left "Ok", how long after recovery it served again, and
its status changes; with proxy_hcheck's log at trace level in /tmp/wpfleet-hung-<variant>.log.
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import tests.integration.test_apache_replica_faults as faults  # noqa: E402
from components.render.apache import vhost  # noqa: E402
from tests.integration.apache_env import ApacheEnv, wait_port  # noqa: E402


def member_line(script: str, variant: str) -> str:
    """The rendered apply script with the variant's BalancerMember parameters."""
    if variant.startswith("hcretry"):
        return script.replace("retry=5 ", f"retry={int(variant[7:])} ")
    if variant.startswith("retry"):
        return script.replace(f" {vhost.HCHECK}", "").replace(
            "retry=5 ", f"retry={int(variant[5:])} ")
    assert variant == "current", variant
    return script


def run(w: faults.World, rate: int) -> tuple[list[tuple[float, float, int, str]],
                                         list[tuple[float, str]], float, float]:
    hung = w.procs[faults.TRIO[0]]
    marks: dict[str, float] = {}
    statuses: list[tuple[float, str]] = []
    t0 = time.monotonic()

    def watch() -> None:
        while time.monotonic() - t0 < 44:
            try:
                statuses.append((time.monotonic() - t0, faults.member_status(faults.TRIO[0])))
            except (OSError, AssertionError):
                statuses.append((time.monotonic() - t0, "?"))
            time.sleep(0.5)

    def stop() -> None:
        hung.send_signal(signal.SIGSTOP)
        marks["hang"] = time.monotonic() - t0

    def cont() -> None:
        hung.send_signal(signal.SIGCONT)
        marks["recover"] = time.monotonic() - t0

    with ThreadPoolExecutor(1) as pool:
        watcher = pool.submit(watch)
        results = asyncio.run(faults.open_loop(rate, 43, 12.0, {2.0: stop, 26.0: cont}))
        watcher.result()
    return results, statuses, marks["hang"], marks["recover"]


def main(variant: str, rate: int) -> None:
    base = Path(tempfile.mkdtemp(prefix="wpfleet-hung-"))
    base.chmod(0o755)
    env = ApacheEnv.create(faults.HTTP, faults.HTTPS, base / "state", enable_modules=False)
    w = faults.World(env)
    try:
        for port in faults.TRIO:
            w.procs[port] = subprocess.Popen([sys.executable, str(faults.REPLICA), str(port)])
        for port in w.procs:
            wait_port(port)
        out = faults.render(base)
        script = out / "commands" / "apache-conf-trio.sh"
        script.write_text(member_line(script.read_text(), variant))
        for name in ("apache-install", "apache-acme", "apache-conf-trio"):
            r = w.env.run_script(out / "commands" / f"{name}.sh")
            assert r.returncode == 0, r.stdout + r.stderr
        (w.env.root / "conf-enabled" / "zz-hclog.conf").write_text(
            "LogLevel warn proxy_hcheck:trace3\n")
        w.env.graceful()
        time.sleep(3)
        results, statuses, hang, recover = run(w, rate)
    finally:
        for proc in w.procs.values():
            proc.send_signal(signal.SIGCONT)
            proc.terminate()
            proc.wait(timeout=10)
        w.env.stop()
    during = [r for r in results if hang <= r[0] < hang + 24]
    bad = [r for r in during if r[2] != 200 or r[1] > 1.5]
    back = [r[0] for r in results
            if r[0] >= recover and r[2] == 200 and r[3] == f"replica {faults.TRIO[0]}"]
    out_at = next((t - hang for t, s in statuses if hang <= t < recover and "Ok" not in s), None)
    changes, last = [], None
    for t, s in statuses:
        s = s.strip().replace("Init ", "")
        if s != last:
            changes.append(f"{t - hang:+.1f}s:{s}")
            last = s
    log = (w.env.log_dir / "error.log").read_text(errors="replace")
    Path(f"/tmp/wpfleet-hung-{variant}.log").write_text(
        "\n".join(ln for ln in log.splitlines() if "proxy_hcheck" in ln))
    shutil.rmtree(base, ignore_errors=True)
    out_s = None if out_at is None else round(out_at, 1)
    print(f"{variant} at {rate}/s: {len(bad)} of {len(during)} requests failed or > 1.5 s "
          f"({sum(r[2] != 200 for r in bad)} failed); out {out_s} s"
          f" after the hang; serving again {round(back[0] - recover, 1) if back else None} s after"
          f" recovery; status (seconds after the hang): {' '.join(changes)}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "current",
         int(sys.argv[2]) if len(sys.argv) > 2 else 100)
