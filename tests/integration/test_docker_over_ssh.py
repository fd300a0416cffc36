"""The Docker provider's transport, for real: the system `ssh` with the options Box renders
(pinned host key, key file only, multiplexing) reaching a real dockerd through a real sshd.

pulumi-docker's ssh:// hosts run `ssh <ssh_opts> -p PORT USER@HOST -- docker system dial-stdio`
and speak the Docker API over that pipe; this test does exactly that with a private dockerd
(vfs storage, no bridge, no iptables) and a private sshd, both on loopback / unix sockets.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from components.box import docker_ssh_opts, write_private
from tests.integration.sshd_env import SshdEnv, require_ssh

pytestmark = pytest.mark.integration
PORT = 22223  # not sshd_env's default: both may run in one session


@pytest.fixture
def sshd(tmp_path: Path, dockerd: Path) -> Iterator[SshdEnv]:
    require_ssh()
    with SshdEnv(tmp_path, port=PORT) as env:
        env.write_config(set_env={"DOCKER_HOST": f"unix://{dockerd}"})  # the box's daemon
        env.start()
        yield env


def docker_api(env: SshdEnv, opts: list[str], request: str) -> subprocess.CompletedProcess[bytes]:
    """One Docker API request over `ssh ... -- docker system dial-stdio`, like the provider.

    stdin stays open until the daemon has answered (closing it first makes dial-stdio
    half-close the socket, and the daemon may drop the request).
    """
    argv = ["ssh", *opts, "-p", str(env.port), "root@127.0.0.1", "--", "docker", "system",
            "dial-stdio"]
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    killer = threading.Timer(60, proc.kill)  # bounded, whatever happens
    killer.start()
    try:
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        proc.stdin.write(request.encode())
        proc.stdin.flush()
        out = proc.stdout.read()  # HTTP/1.0: the daemon closes after its answer
        proc.stdin.close()
        err = proc.stderr.read()
        return subprocess.CompletedProcess(argv, proc.wait(timeout=30), out, err)
    finally:
        killer.cancel()


def box_opts(env: SshdEnv, tmp_path: Path, host_key_line: str) -> list[str]:
    """What Box passes to the Docker provider: its own key file and pinned known_hosts."""
    key_file, known = tmp_path / "wpf" / "id", tmp_path / "wpf" / "known_hosts"
    write_private(key_file, env.key.read_text())
    write_private(known, host_key_line)
    opts = docker_ssh_opts(str(known), str(key_file))
    # a ControlPath of our own (short: unix socket paths max out near 108 bytes) so the
    # multiplexing master is ours to stop and to look at
    short = Path(tempfile.mkdtemp(prefix="wpf-cm-", dir="/tmp"))
    (tmp_path / "cm").symlink_to(short)
    return [o.replace("~/.ssh/wpfleet-%C", f"{short}/%C") for o in opts]


def stop_master(env: SshdEnv, opts: list[str]) -> None:
    subprocess.run(["ssh", *opts, "-O", "exit", "-p", str(env.port), "root@127.0.0.1"],
                   capture_output=True, timeout=30, check=False)


def test_docker_api_over_ssh_with_box_options(sshd: SshdEnv, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    opts = box_opts(sshd, tmp_path, sshd.known_hosts.read_text())
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)  # the key file alone must be enough
    try:
        ping = docker_api(sshd, opts, "GET /_ping HTTP/1.0\r\n\r\n")
        # (dial-stdio may exit 1 when the daemon closes the HTTP/1.0 stream: judge the reply)
        assert ping.stdout.startswith(b"HTTP/1.0 200 OK"), ping.stderr.decode()
        assert ping.stdout.endswith(b"OK")
        # the API is usable, not just reachable: create an internal network like Network does
        body = json.dumps({"Name": "wpfleet-t-db", "Driver": "bridge", "Internal": True})
        made = docker_api(sshd, opts, (
            "POST /networks/create HTTP/1.0\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n{body}"))
        assert made.stdout.startswith(b"HTTP/1.0 201"), made.stdout + made.stderr
        shown = docker_api(sshd, opts, "GET /networks/wpfleet-t-db HTTP/1.0\r\n\r\n")
        assert b'"Internal":true' in shown.stdout
        # multiplexed: the master connection now exists and serves the next session
        control = list((tmp_path / "cm").resolve().iterdir())
        assert len(control) == 1 and control[0].is_socket()
    finally:
        stop_master(sshd, opts)
        shutil.rmtree((tmp_path / "cm").resolve(), ignore_errors=True)


def test_wrong_pinned_host_key_is_refused(sshd: SshdEnv, tmp_path: Path) -> None:
    other = tmp_path / "other"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True,
                   timeout=30)
    fake_line = f"[127.0.0.1]:{PORT} " + " ".join(other.with_suffix(".pub").read_text().split()[:2])
    opts = box_opts(sshd, tmp_path, fake_line + "\n")
    try:
        done = docker_api(sshd, opts, "GET /_ping HTTP/1.0\r\n\r\n")
        assert done.returncode != 0
        assert b"Host key verification failed" in done.stderr
        assert b"200 OK" not in done.stdout
    finally:
        stop_master(sshd, opts)
        shutil.rmtree((tmp_path / "cm").resolve(), ignore_errors=True)
