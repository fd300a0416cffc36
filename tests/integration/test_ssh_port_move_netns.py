"""Moving sshd to a new port, and turning hardenSsh off, with a real sshd behind real ufw.

Both run in a network namespace pair of their own (box + client over a veth, like
test_firewall_netns.py), with copies of /etc/ufw. A fresh box's sshd listens on 22:
  1. `up` with port: 22, newPort: 22222 -> sshd listens on both, ufw allows both;
  2. `up` with port: 22222 (newPort removed) -> only 22222 is open;
  3. `up` with hardenSsh off -> sshd must still listen on 22222, the port ufw allows and Pulumi
     connects to (before the fix it fell back to 22, which ufw blocks: locked out).
Every step is checked by a real ssh login from the client namespace.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from components.config import parse
from components.render.box.firewall import firewall
from components.render.box.ssh import ssh
from tests.harness import HOST_KEY
from tests.integration.test_firewall_netns import sh, state_hash

pytestmark = pytest.mark.integration
BOX_IP, CLIENT_IP = "10.232.0.2", "10.232.0.1"
NEW = 22222
FAKE_SYSTEMCTL = """#!/bin/bash
echo "$*" >> "$(dirname "$0")/systemctl.log"
case "$1" in is-active) exit 3 ;; esac  # no ssh.socket here: the reload path
"""


@dataclass
class Box:
    ns: str
    client: str
    tmp: Path
    sshd: subprocess.Popen[bytes] | None = None

    @property
    def conf(self) -> Path:
        return self.tmp / "sshd" / "sshd_config"

    def run(self, script: str) -> subprocess.CompletedProcess[str]:
        """A rendered script as root in the box namespace, with the ufw and sshd copies."""
        path = self.tmp / "script.sh"
        path.write_text(script)
        redirect = (f"WPFLEET_ETC={self.tmp}/wpfleet SSHD_CONFIG_DIR={self.tmp}/sshd/conf.d "
                    f"SSHD_CONFIG={self.conf} SYSTEMCTL={self.tmp}/systemctl")
        wrapper = (f"mount --make-rprivate / && mount --bind {self.tmp}/etc-ufw /etc/ufw && "
                   f"mount --bind {self.tmp}/default-ufw /etc/default/ufw && "
                   f"exec ip netns exec {self.ns} env {redirect} bash {path}")
        return sh("unshare", "-m", "bash", "-c", wrapper, check=False)

    def restart_sshd(self) -> None:
        """What the script's reload does on a box: sshd re-reads its config."""
        self.stop_sshd()
        log = (self.tmp / "sshd" / "sshd.log").open("ab")
        self.sshd = subprocess.Popen(
            ["ip", "netns", "exec", self.ns, "/usr/sbin/sshd", "-D", "-e", "-f", str(self.conf)],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        time.sleep(0.5)
        assert self.sshd.poll() is None, (self.tmp / "sshd" / "sshd.log").read_text()[-2000:]

    def stop_sshd(self) -> None:
        if self.sshd is not None and self.sshd.poll() is None:
            os.killpg(self.sshd.pid, signal.SIGTERM)
            self.sshd.wait(timeout=10)
        self.sshd = None

    def login(self, port: int) -> bool:
        """A real key login from the client namespace through the box's ufw."""
        d = self.tmp / "sshd"
        done = subprocess.run(
            ["ip", "netns", "exec", self.client, "ssh", "-p", str(port), "-i", str(d / "client"),
             "-o", "IdentitiesOnly=yes", "-o", f"UserKnownHostsFile={d / 'known_hosts'}",
             "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "ConnectTimeout=3",
             f"root@{BOX_IP}", "echo in"], capture_output=True, text=True, timeout=60)
        return done.returncode == 0 and done.stdout.strip() == "in"


@pytest.fixture
def box(tmp_path: Path) -> Iterator[Box]:
    for tool in ("ufw", "ip", "unshare", "/usr/sbin/sshd", "ssh-keygen"):
        if shutil.which(tool) is None and not Path(tool).exists():
            pytest.skip(f"{tool} missing: apt-get install ufw iproute2 util-linux openssh-server")
    before = state_hash()
    tag = f"{os.getpid() % 100000}"
    b = Box(ns=f"wpf-test-mb{tag}", client=f"wpf-test-mc{tag}", tmp=tmp_path)
    shutil.copytree("/etc/ufw", tmp_path / "etc-ufw")
    shutil.copy("/etc/default/ufw", tmp_path / "default-ufw")
    (tmp_path / "etc-ufw" / "sysctl.conf").write_text("")
    (tmp_path / "systemctl").write_text(FAKE_SYSTEMCTL)
    (tmp_path / "systemctl").chmod(0o755)
    d = tmp_path / "sshd"
    (d / "conf.d").mkdir(parents=True)
    for key in ("client", "host"):
        sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / key))
    shutil.copy(d / "client.pub", d / "authorized_keys")
    host_pub = " ".join((d / "host.pub").read_text().split()[:2])
    (d / "known_hosts").write_text(f"{BOX_IP} {host_pub}\n[{BOX_IP}]:{NEW} {host_pub}\n")
    # a stock sshd_config: the Include first, no Port line (so: 22), passwords allowed
    b.conf.write_text(f"Include {d}/conf.d/*.conf\nHostKey {d / 'host'}\n"
                      f"PidFile {d}/sshd.pid\nAuthorizedKeysFile {d}/authorized_keys\n"
                      "UsePAM no\nStrictModes no\nPasswordAuthentication yes\n")
    try:
        for name in (b.ns, b.client):
            sh("ip", "netns", "add", name)
        vb, vc = f"wpmb{tag}", f"wpmc{tag}"
        sh("ip", "link", "add", vb, "netns", b.ns, "type", "veth", "peer", "name", vc,
           "netns", b.client)
        for name, dev, ip in ((b.ns, vb, BOX_IP), (b.client, vc, CLIENT_IP)):
            sh("ip", "-n", name, "addr", "add", f"{ip}/24", "dev", dev)
            sh("ip", "-n", name, "link", "set", dev, "up")
            sh("ip", "-n", name, "link", "set", "lo", "up")
        b.restart_sshd()
        yield b
    finally:
        b.stop_sshd()
        for name in (b.ns, b.client):
            sh("ip", "netns", "del", name, check=False)
        assert state_hash() == before, "the machine's own ufw/iptables state changed"


def stack(**box: Any) -> Any:
    return parse({"box": {"host": "box.example.org", "hostKey": HOST_KEY, **box},
                  "firewall": {"enabled": True}})


def apply(b: Box, s: Any, delete_ssh: str | None = None) -> str:
    """One `up`'s box commands in BoxSetup's order: firewall, then SSH (or its delete)."""
    out = ""
    fw = b.run(firewall(s).create)
    assert fw.returncode == 0, fw.stderr
    out += fw.stdout
    cmd = ssh(s)
    script = cmd.create if cmd is not None else delete_ssh
    if script is not None:
        done = b.run(script)
        assert done.returncode == 0, done.stderr
        out += done.stdout
    b.restart_sshd()
    return out


def test_two_step_port_move_then_hardening_off_never_locks_out(box: Box) -> None:
    assert box.login(22) and not box.login(NEW)  # a fresh box: sshd on 22 only

    step1 = stack(port=22, hardenSsh=True, newPort=NEW)
    apply(box, step1)
    assert box.login(22) and box.login(NEW)  # both: the next `up` can connect on NEW

    step2 = stack(port=NEW, hardenSsh=True)
    out = apply(box, step2)
    assert "removed 22/tcp" in out
    assert box.login(NEW) and not box.login(22)  # moved

    ssh2 = ssh(step2)
    assert ssh2 is not None and ssh2.delete is not None
    out = apply(box, stack(port=NEW), delete_ssh=ssh2.delete)  # hardenSsh turned off
    assert f"kept Port {NEW}" in out
    assert box.login(NEW), "hardenSsh off locked the user out: sshd left the port ufw allows"
