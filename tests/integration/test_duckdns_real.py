"""The rendered `box-duckdns` scripts run for real against a fake DuckDNS server on 127.0.0.1.

The box paths are redirected into tmp_path through the scripts' environment overrides and
`systemctl` is a stand-in that records its calls (no systemd here). curl is the real one.
"""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from components.config import parse
from components.render import BoxCommand
from components.render.box.duckdns import duckdns
from tests.harness import HOST_KEY

pytestmark = [pytest.mark.integration] + (
    [pytest.mark.skip(reason="curl missing: apt-get install curl")]
    if shutil.which("curl") is None else [])

TOKEN = "0f3a9c11-7e2b-4d5a-9c8e-1234567890ab"
FAKE_SYSTEMCTL = """#!/bin/bash
# records every call; `is-enabled` answers from what was enabled/disabled before
echo "$*" >> "$(dirname "$0")/systemctl.log"
state="$(dirname "$0")/enabled"
case "$1" in
  is-enabled) [ "${2:-}" = --quiet ] && shift; grep -qx "$2" "$state" 2>/dev/null ;;
  enable) [ "$2" = --now ] && shift; echo "$2" >> "$state" ;;
  disable) [ "$2" = --now ] && shift; sed -i "/^$2\\$/d" "$state" 2>/dev/null || true ;;
  is-active) exit 3 ;;  # no unit is running here (e.g. Ubuntu's ssh.socket)
esac
"""


@dataclass
class FakeDuck:
    url: str
    requests: list[dict[str, list[str]]] = field(default_factory=list)
    token_in_argv: list[str] = field(default_factory=list)  # processes seen with the token


def token_holders() -> list[str]:
    """Every running process whose command line contains the token."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmdline = (proc / "cmdline").read_bytes()
            except OSError:
                continue
            if TOKEN.encode() in cmdline:
                found.append(cmdline.replace(b"\0", b" ").decode(errors="replace"))
    return found


@pytest.fixture
def fake_duck() -> Iterator[FakeDuck]:
    duck = FakeDuck(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            # checked while the updater's curl is connected and waiting for this answer
            duck.token_in_argv.extend(token_holders())
            query = parse_qs(urlsplit(self.path).query, keep_blank_values=True)
            duck.requests.append(query)
            body = b"OK" if query.get("token") == [TOKEN] else b"KO"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = None
    for port in range(27001, 27100):
        try:
            server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
            break
        except OSError:
            continue
    assert server is not None, "no free port in 127.0.0.1:27001-27099"
    duck.url = f"http://127.0.0.1:{server.server_address[1]}/update"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield duck
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def box(tmp_path: Path) -> dict[str, str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "systemctl").write_text(FAKE_SYSTEMCTL)
    (bin_dir / "systemctl").chmod(0o755)
    return {"DUCKDNS_TOKEN_FILE": str(tmp_path / "etc/wpfleet/duckdns.token"),
            "WPFLEET_LIB": str(tmp_path / "lib"), "SYSTEMD_UNIT_DIR": str(tmp_path / "units"),
            "SYSTEMCTL": str(bin_dir / "systemctl"), "PATH": os.environ["PATH"]}


def render(url: str) -> BoxCommand:
    stack = parse({"box": {"host": "box.example.org", "hostKey": HOST_KEY}, "duckdnsToken": "x",
                   "duckdns": {"domains": ["meljuju", "other"], "updateUrl": url}})
    cmd = duckdns(stack)
    assert cmd is not None and cmd.stdin_secret == "duckdnsToken"
    return cmd


def run(script: str, env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", script], input=stdin, env=env, text=True,
                          capture_output=True, timeout=60)


def calls(env: dict[str, str]) -> list[str]:
    log = Path(env["SYSTEMCTL"]).parent / "systemctl.log"
    return log.read_text().splitlines() if log.exists() else []


def test_duckdns_create_sends_domains_and_token_privately(fake_duck: FakeDuck,
                                                          box: dict[str, str]) -> None:
    cmd = render(fake_duck.url)
    out = run(cmd.create, box, stdin=TOKEN + "\n")
    assert out.returncode == 0, out.stderr
    assert fake_duck.requests == [{"domains": ["meljuju,other"], "token": [TOKEN], "ip": [""]}]
    assert fake_duck.token_in_argv == [], "the token was visible on a command line"
    assert TOKEN not in out.stdout + out.stderr
    token_file = Path(box["DUCKDNS_TOKEN_FILE"])
    assert token_file.read_text().strip() == TOKEN
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(token_file.parent.stat().st_mode) == 0o700
    assert TOKEN not in (Path(box["WPFLEET_LIB"]) / "duckdns-update").read_text()
    timer = (Path(box["SYSTEMD_UNIT_DIR"]) / "wpfleet-duckdns.timer").read_text()
    assert "OnBootSec=" in timer and "OnUnitActiveSec=5min" in timer
    assert calls(box) == ["daemon-reload", "is-enabled --quiet wpfleet-duckdns.timer",
                          "enable --now wpfleet-duckdns.timer"]

    again = run(cmd.update or cmd.create, box, stdin=TOKEN + "\n")
    assert again.returncode == 0, again.stderr
    assert "no change" in again.stdout and "wrote" not in again.stdout
    assert calls(box)[3:] == ["is-enabled --quiet wpfleet-duckdns.timer"]
    assert len(fake_duck.requests) == 2  # every run updates once


def test_duckdns_ko_answer_fails_and_is_logged(fake_duck: FakeDuck, box: dict[str, str]) -> None:
    cmd = render(fake_duck.url)
    wrong = "11111111-2222-3333-4444-555555555555"
    out = run(cmd.create, box, stdin=wrong)  # no trailing newline: still read
    assert out.returncode != 0
    assert "answered KO" in out.stderr and wrong not in out.stdout + out.stderr
    assert fake_duck.requests[-1]["token"] == [wrong]
    # the timer's own runs fail the same way (systemd logs the stderr line and the failure)
    timer_run = run(str(Path(box["WPFLEET_LIB"]) / "duckdns-update"), box)
    assert timer_run.returncode == 1 and "answered KO" in timer_run.stderr


def test_duckdns_rejects_missing_or_odd_token(fake_duck: FakeDuck, box: dict[str, str]) -> None:
    cmd = render(fake_duck.url)
    empty = run(cmd.create, box, stdin="")
    assert empty.returncode == 1 and "no token on stdin" in empty.stderr
    odd = run(cmd.create, box, stdin="abc&ip=1.2.3.4\n")
    assert odd.returncode == 1 and "characters" in odd.stderr
    assert fake_duck.requests == [] and not Path(box["DUCKDNS_TOKEN_FILE"]).exists()


def test_duckdns_unreachable_server_fails(box: dict[str, str]) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = run(render(f"http://127.0.0.1:{port}/update").create, box, stdin=TOKEN)
    assert out.returncode == 2 and "unreachable" in out.stderr


def test_duckdns_delete_disables_timer_and_removes_token(fake_duck: FakeDuck,
                                                         box: dict[str, str]) -> None:
    cmd = render(fake_duck.url)
    assert run(cmd.create, box, stdin=TOKEN).returncode == 0
    assert cmd.delete is not None
    out = run(cmd.delete, box)
    assert out.returncode == 0, out.stderr
    assert "disable --now wpfleet-duckdns.timer" in calls(box)
    assert "disabled wpfleet-duckdns.timer" in out.stdout
    for path in (box["DUCKDNS_TOKEN_FILE"], f"{box['WPFLEET_LIB']}/duckdns-update",
                 f"{box['SYSTEMD_UNIT_DIR']}/wpfleet-duckdns.timer"):
        assert not Path(path).exists(), path
    # a second delete (box already clean) succeeds and does nothing
    second = run(cmd.delete, box)
    assert second.returncode == 0 and "removed" not in second.stdout
