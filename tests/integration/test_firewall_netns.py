"""The rendered `box-firewall` scripts run for real with ufw, inside network namespaces.

The "box" is a network namespace the test creates, reached from a second one over a veth pair
(10.231.0.0/24). ufw runs through `ip netns exec`, so its iptables rules exist only there; it
also runs inside `unshare -m` with copies of /etc/ufw and /etc/default/ufw bind-mounted over
the originals, so the machine's own ufw state files are never written. The test checks both.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from components.config import parse
from components.render.box.firewall import firewall
from tests.harness import HOST_KEY

pytestmark: list[pytest.MarkDecorator] | pytest.MarkDecorator = pytest.mark.integration
for tool, pkg in (("ufw", "ufw"), ("ip", "iproute2"), ("unshare", "util-linux"),
                  ("iptables-save", "iptables")):
    if shutil.which(tool) is None:
        pytestmark = [pytest.mark.integration,
                      pytest.mark.skip(reason=f"{tool} missing: apt-get install {pkg}")]
        break

BOX_IP, CLIENT_IP = "10.231.0.2", "10.231.0.1"
SSH_PORT, OPEN_PORTS, CLOSED_PORT = 22222, (80, 443, 8443), 9999
# accepts (and closes) connections on every port given; runs inside the box namespace
LISTENER = """
import socket, sys, selectors
sel = selectors.DefaultSelector()
for p in sys.argv[2:]:
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((sys.argv[1], int(p))); s.listen(16); sel.register(s, selectors.EVENT_READ)
print("ready", flush=True)
while True:
    for key, _ in sel.select():
        conn, _ = key.fileobj.accept(); conn.close()
"""
PROBE = """
import json, socket, sys
res = {}
for p in sys.argv[2:]:
    try:
        socket.create_connection((sys.argv[1], int(p)), timeout=1.0).close(); res[p] = True
    except OSError:
        res[p] = False
print(json.dumps(res))
"""


def sh(*args: str, check: bool = True, **kw) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), check=check, text=True, capture_output=True,
                          timeout=60, **kw)


def state_hash() -> str:
    """The machine's own ufw state files and root-namespace iptables rules."""
    h = hashlib.sha256()
    for path in sorted(Path("/etc/ufw").rglob("*")) + [Path("/etc/default/ufw")]:
        if path.is_file():
            h.update(str(path).encode() + path.read_bytes())
    h.update(sh("iptables-save").stdout.encode() if os.geteuid() == 0 else b"")
    return h.hexdigest()


@dataclass
class Netns:
    box: str
    client: str
    tmp: Path

    def run_script(self, text: str) -> subprocess.CompletedProcess[str]:
        """Run a rendered script as the box would: root, in the box namespace, ufw copies."""
        path = self.tmp / "script.sh"
        path.write_text(text)
        wrapper = (f"mount --make-rprivate / && mount --bind {self.tmp}/etc-ufw /etc/ufw && "
                   f"mount --bind {self.tmp}/default-ufw /etc/default/ufw && "
                   f"exec ip netns exec {self.box} env WPFLEET_ETC={self.tmp}/wpfleet "
                   f"bash {path}")
        return sh("unshare", "-m", "bash", "-c", wrapper, check=False)

    def in_box(self, *args: str) -> str:
        """A command in the box namespace that sees the ufw copies too."""
        wrapper = (f"mount --make-rprivate / && mount --bind {self.tmp}/etc-ufw /etc/ufw && "
                   f"mount --bind {self.tmp}/default-ufw /etc/default/ufw && "
                   f"exec ip netns exec {self.box} \"$@\"")
        return sh("unshare", "-m", "bash", "-c", wrapper, "in_box", *args).stdout

    def reachable(self) -> dict[int, bool]:
        ports = [str(p) for p in (SSH_PORT, *OPEN_PORTS, CLOSED_PORT)]
        out = sh("ip", "netns", "exec", self.client, sys.executable, "-c", PROBE, BOX_IP, *ports)
        return {int(k): v for k, v in json.loads(out.stdout).items()}


@pytest.fixture
def netns(tmp_path: Path) -> Iterator[Netns]:
    before = state_hash()
    tag = f"{os.getpid() % 100000}"
    ns = Netns(box=f"wpf-test-fw{tag}", client=f"wpf-test-cl{tag}", tmp=tmp_path)
    shutil.copytree("/etc/ufw", tmp_path / "etc-ufw")
    shutil.copy("/etc/default/ufw", tmp_path / "default-ufw")
    # net.* sysctls are per namespace, but skip ufw's sysctl file anyway: nothing global changes
    (tmp_path / "etc-ufw" / "sysctl.conf").write_text("")
    listener = None
    try:
        for name in (ns.box, ns.client):
            sh("ip", "netns", "add", name)
        veth_b, veth_c = f"wpfb{tag}", f"wpfc{tag}"
        sh("ip", "link", "add", veth_b, "netns", ns.box, "type", "veth",
           "peer", "name", veth_c, "netns", ns.client)
        for name, dev, ip in ((ns.box, veth_b, BOX_IP), (ns.client, veth_c, CLIENT_IP)):
            sh("ip", "-n", name, "addr", "add", f"{ip}/24", "dev", dev)
            sh("ip", "-n", name, "link", "set", dev, "up")
            sh("ip", "-n", name, "link", "set", "lo", "up")
        ports = [str(p) for p in (SSH_PORT, *OPEN_PORTS, CLOSED_PORT)]
        listener = subprocess.Popen(
            ["ip", "netns", "exec", ns.box, sys.executable, "-c", LISTENER, BOX_IP, *ports],
            stdout=subprocess.PIPE, text=True)
        assert listener.stdout is not None and listener.stdout.readline().strip() == "ready"
        yield ns
    finally:
        if listener is not None:
            listener.kill()
            listener.wait(timeout=10)
        for name in (ns.box, ns.client):  # deleting a namespace deletes its veth end too
            sh("ip", "netns", "del", name, check=False)
        assert state_hash() == before, "the machine's own ufw/iptables state changed"


def render(allow: list[str]) -> tuple[str, str, str]:
    stack = parse({"box": {"host": "box.example.org", "port": SSH_PORT, "hostKey": HOST_KEY},
                   "firewall": {"enabled": True, "allow": allow}})
    cmd = firewall(stack)
    assert cmd.update is not None and cmd.delete is not None
    return cmd.create, cmd.update, cmd.delete


def test_firewall_allows_only_configured_ports_and_is_idempotent(netns: Netns) -> None:
    create, _, delete = render(["8443/tcp"])
    # control: without a firewall every listener answers, so a refusal below is ufw's doing
    assert netns.reachable() == {SSH_PORT: True, 80: True, 443: True, 8443: True, 9999: True}

    first = netns.run_script(create)
    assert first.returncode == 0, first.stderr
    assert "allowed 22222/tcp" in first.stdout and "ufw enabled" in first.stdout
    assert netns.reachable() == {SSH_PORT: True, 80: True, 443: True, 8443: True, 9999: False}
    # ufw's rules exist in the box namespace only
    assert "ufw-user-input" in netns.in_box("iptables-save")
    assert "ufw-user-input" not in sh("iptables-save").stdout

    rules_before = netns.in_box("iptables-save")
    user_rules = (netns.tmp / "etc-ufw" / "user.rules").read_text()
    second = netns.run_script(create)
    assert second.returncode == 0, second.stderr
    assert "no change" in second.stdout and "box-firewall: allowed" not in second.stdout
    strip = lambda text: [ln for ln in text.splitlines() if not ln.startswith("#")]  # noqa: E731
    assert strip(netns.in_box("iptables-save")) == strip(rules_before)
    assert (netns.tmp / "etc-ufw" / "user.rules").read_text() == user_rules

    gone = netns.run_script(delete)
    assert gone.returncode == 0, gone.stderr
    assert "ufw disabled" in gone.stdout
    assert netns.reachable()[CLOSED_PORT] is True
    # the SSH rule stays even after the firewall is turned off: never lock the operator out
    assert "22222/tcp" in netns.in_box("ufw", "show", "added")


def test_firewall_update_removes_rules_no_longer_configured(netns: Netns) -> None:
    create, _, _ = render(["8443/tcp"])
    assert netns.run_script(create).returncode == 0
    assert netns.reachable()[8443] is True
    _, update, _ = render([])
    out = netns.run_script(update)
    assert out.returncode == 0, out.stderr
    assert "removed 8443/tcp" in out.stdout
    deadline = time.monotonic() + 5  # ufw applies the deletion at once; allow a moment
    while netns.reachable()[8443] and time.monotonic() < deadline:
        time.sleep(0.2)
    assert netns.reachable() == {SSH_PORT: True, 80: True, 443: True, 8443: False, 9999: False}
