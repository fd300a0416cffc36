"""Driving tests/e2e/box.sh from Python: start/stop, ssh into the box, the machine's state.

`box.sh start --fresh` prints KEY=VALUE lines (also in /run/wpfleet-box/env) and, last,
"ADDRESS SSH_PORT KEY_FILE". Everything here runs as root on the machine.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

BOX_SH = Path(__file__).with_name("box.sh")
RUN_DIR = Path(os.environ.get("WPFLEET_BOX_RUN", "/run/wpfleet-box"))
CACHE_DIR = Path(os.environ.get("WPFLEET_BOX_CACHE", "/var/cache/wpfleet-box"))
NETNS = "wpfbox"
VETH_HOST = "wpfbox-h"
CGROUP_PARENT = "wpfleet-box"

# tool -> Debian package, for the skip message
TOOLS = {"dockerd": "docker.io", "debootstrap": "debootstrap", "pebble": "pebble",
         "pebble-challtestsrv": "pebble", "iptables": "iptables", "ip": "iproute2",
         "nsenter": "util-linux", "ssh": "openssh-client", "openssl": "openssl",
         "curl": "curl", "sysctl": "procps"}

# sysctls that move by themselves (counters, random values)
VOLATILE_SYSCTLS = ("fs.dentry-state", "fs.file-nr", "fs.inode-nr", "fs.inode-state",
                    "fs.quota.", "fs.aio-nr", "kernel.ns_last_pid", "kernel.random.",
                    "kernel.pty.nr", "net.netfilter.nf_conntrack_count")


def missing_tools() -> str | None:
    """None when box.sh can run here, else a one-line reason naming what to install."""
    if os.geteuid() != 0:
        return "the test box needs root (it creates a network namespace and a dockerd)"
    missing = sorted({pkg for tool, pkg in TOOLS.items() if shutil.which(tool) is None})
    if missing:
        return f"the test box needs: apt-get install {' '.join(missing)}"
    return None


@dataclass
class Box:
    address: str
    ssh_port: int
    key_file: str
    env: dict[str, str] = field(default_factory=dict)
    start_seconds: float = 0.0

    def ssh_args(self, port: int | None = None) -> list[str]:
        return ["ssh", "-F", self.env["WPFLEET_BOX_SSH_CONFIG"], "-i", self.key_file,
                "-p", str(port or self.ssh_port), f"root@{self.address}"]

    def ssh(self, command: str, *, check: bool = True, timeout: float = 120,
            port: int | None = None, input: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run COMMAND (a shell line) on the box as root; check=True raises with its output."""
        proc = subprocess.run([*self.ssh_args(port), command], capture_output=True, text=True,
                              timeout=timeout, check=False, input=input)
        if check and proc.returncode != 0:
            raise AssertionError(f"on the box: {command!r} exited {proc.returncode}\n"
                                 f"stdout: {proc.stdout[-3000:]}\nstderr: {proc.stderr[-3000:]}")
        return proc

    def docker(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """The OUTER dockerd (the one that runs the box container), not the box's own."""
        return subprocess.run(["docker", "-H", self.env["WPFLEET_BOX_DOCKER_HOST"], *args],
                              capture_output=True, text=True, timeout=120, check=check)

    def wait_ssh(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.ssh("true", check=False, timeout=15).returncode == 0:
                return
            assert time.monotonic() < deadline, f"ssh root@{self.address} not back in {timeout}s"
            time.sleep(0.5)


def run_box_sh(*args: str, timeout: float = 1200) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(BOX_SH), *args], capture_output=True, text=True,
                          timeout=timeout, check=False)


def parse_start_output(stdout: str) -> Box:
    lines = [line for line in stdout.splitlines() if line.strip()]
    address, port, key = lines[-1].split()
    env = {}
    for line in lines[:-1]:
        name, sep, value = line.partition("=")
        if sep:
            env[name] = value.strip('"')
    return Box(address=address, ssh_port=int(port), key_file=key, env=env)


def sysctls() -> dict[str, str]:
    """The machine's sysctls, less the volatile ones and the box link's own entries."""
    out = subprocess.run(["sysctl", "-a"], capture_output=True, text=True, timeout=60,
                         check=True).stdout
    values = {}
    for line in out.splitlines():
        name, sep, value = line.partition(" = ")
        if not sep or name.startswith(VOLATILE_SYSCTLS) or f".{VETH_HOST}." in name:
            continue
        values[name] = value
    return values


def sysctl_changes(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return sorted(
        [f"{k}: {before[k]!r} -> {after[k]!r}" for k in before.keys() & after.keys()
         if before[k] != after[k]]
        + [f"{k}: gone (was {before[k]!r})" for k in before.keys() - after.keys()]
        + [f"{k}: new ({after[k]!r})" for k in after.keys() - before.keys()])


def iptables_rules() -> str:
    """The machine's own iptables rules (no counters): the box must never add any."""
    if shutil.which("iptables-save") is None:
        return ""
    out = subprocess.run(["iptables-save"], capture_output=True, text=True, timeout=60,
                         check=False).stdout
    return "\n".join(line.split(" [")[0] for line in out.splitlines()
                     if not line.startswith("#"))


def leftovers() -> list[str]:
    """Whatever box.sh stop should have removed and did not."""
    found = []
    netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True,
                           check=False).stdout.split()
    if NETNS in netns:
        found.append(f"network namespace {NETNS}")
    if subprocess.run(["ip", "link", "show", VETH_HOST], capture_output=True,
                      check=False).returncode == 0:
        found.append(f"link {VETH_HOST}")
    if RUN_DIR.exists():
        found.append(f"directory {RUN_DIR}")
    for line in Path("/proc/mounts").read_text().splitlines():
        mnt = line.split()[1]
        if mnt.startswith((str(RUN_DIR), str(CACHE_DIR / "docker"))):
            found.append(f"mount {mnt}")
    ps = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True,
                        check=True).stdout
    for line in ps.splitlines():
        if str(RUN_DIR) in line or "/run/netns/" + NETNS in line or "sidecar.py" in line \
                and str(BOX_SH.parent) in line:
            found.append(f"process {line.strip()}")
    for path in Path("/sys/fs/cgroup").glob(f"*/{CGROUP_PARENT}"):
        found.append(f"cgroup {path}")
    return found


class BoxManager:
    """One box at a time: started fresh on first use (and after a stop), stopped at the end."""

    def __init__(self) -> None:
        self.box: Box | None = None
        self.sysctls_before: dict[str, str] = {}
        self.iptables_before = ""

    def ensure(self) -> Box:
        if self.box is None:
            self.sysctls_before = sysctls()
            self.iptables_before = iptables_rules()
            t0 = time.monotonic()
            proc = run_box_sh("start", "--fresh")
            if proc.returncode != 0:
                run_box_sh("stop")
                raise AssertionError(f"box.sh start --fresh exited {proc.returncode}:\n"
                                     f"{proc.stderr[-4000:]}")
            self.box = parse_start_output(proc.stdout)
            self.box.start_seconds = time.monotonic() - t0
        return self.box

    def stop(self) -> subprocess.CompletedProcess[str]:
        self.box = None
        return run_box_sh("stop", timeout=300)


def q(value: str) -> str:
    return shlex.quote(value)
