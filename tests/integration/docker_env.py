"""A private Docker engine for tests: vfs storage, no default bridge, no iptables, own socket.

Nothing can be pulled here (no registry): tests import a tiny image from a tarball instead.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


@pytest.fixture
def dockerd(tmp_path: Path) -> Iterator[Path]:
    missing = missing_tools()
    if missing:
        pytest.skip(missing)
    with private_dockerd() as sock:
        yield sock


def missing_tools() -> str:
    """'' when a private dockerd can run here, else one line naming what to install."""
    if shutil.which("dockerd") is None or shutil.which("docker") is None:
        return "dockerd missing: apt-get install docker.io"
    for tool, package in (("ip", "iproute2"), ("nsenter", "util-linux")):
        if shutil.which(tool) is None:
            return f"{tool} missing: apt-get install {package}"
    return ""


@contextmanager
def private_dockerd(netns: str | None = None, storage: str = "vfs") -> Iterator[Path]:
    """A dockerd in its own network namespace (default wpf-test-dk<pid>); yields its socket.

    storage: vfs works everywhere; overlay2 (data root under /tmp, on the machine's own file
    system) starts a container in well under a second instead of copying its whole image."""
    # short: containerd's socket lives below --exec-root and unix socket paths max out near 108
    root = Path(tempfile.mkdtemp(prefix="wpf-dk-", dir="/tmp"))
    sock = root / "docker.sock"
    log = (root / "dockerd.log").open("wb")
    # its own network namespace: the bridges of the networks tests create live and die there,
    # never in the machine's own namespace (the API is a unix socket, reachable from outside)
    netns = netns or f"wpf-test-dk{os.getpid()}"
    subprocess.run(["ip", "netns", "add", netns], check=True, timeout=30)
    proc = subprocess.Popen(
        ["nsenter", f"--net=/run/netns/{netns}",  # not `ip netns exec`: it hides the cgroups
         "dockerd", f"--storage-driver={storage}", "-H", f"unix://{sock}", "--data-root", str(root / "data"),
         "--exec-root", str(root / "exec"), "--pidfile", str(root / "docker.pid"),
         "--bridge=none", "--iptables=false", "--ip-masq=false"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while subprocess.run(["curl", "-sf", "--unix-socket", str(sock), "http://d/_ping"],
                             capture_output=True, timeout=10, check=False).stdout != b"OK":
            assert proc.poll() is None and time.monotonic() < deadline, \
                (root / "dockerd.log").read_text()[-2000:]
            time.sleep(0.2)
        yield sock
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        log.close()
        for line in Path("/proc/mounts").read_text().splitlines():  # a dockerd killed early
            if line.split()[1].startswith(str(root)):                # can leave its bind mount
                subprocess.run(["umount", "-l", line.split()[1]], check=False, timeout=30)
        shutil.rmtree(root, ignore_errors=True)
        subprocess.run(["ip", "netns", "del", netns], check=False, timeout=30)


def docker(sock: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", "-H", f"unix://{sock}", *args], capture_output=True,
                          text=True, timeout=60, check=check)


def import_tiny_image(sock: Path, tag: str = "wpfleet-test/tiny:1") -> str:
    """An image made here (a root fs holding /bin/true): enough to create containers."""
    with tempfile.TemporaryDirectory() as d:
        shutil.copy("/bin/true", Path(d) / "true")
        tar = subprocess.run(["tar", "-C", d, "-c", "."], capture_output=True, check=True,
                             timeout=60).stdout
    subprocess.run(["docker", "-H", f"unix://{sock}", "import", "-", tag], input=tar,
                   capture_output=True, check=True, timeout=60)
    return tag
