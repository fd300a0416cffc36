"""A private sshd on 127.0.0.1 for tests, and a client that runs commands like Box.run does.

Usage: `with SshdEnv(tmp_path) as env: env.start(); env.run_script(script, stdin)`.
The client pins the host key (known_hosts + StrictHostKeyChecking=yes) and sends the command
line `bash -c '<script>'` built by `components.render.as_root`, exactly what the remote
commands send; `set_env` values reach the session through sshd's own `SetEnv`.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

import pytest

from components.box import known_hosts_line
from components.render import as_root

SSHD = "/usr/sbin/sshd"
PORT = 22222


def require_ssh() -> None:
    for path in (SSHD, shutil.which("ssh"), shutil.which("ssh-keygen")):
        if path is None or not Path(path).exists():
            pytest.skip("sshd/ssh missing: apt-get install openssh-server openssh-client")


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


class SshdEnv:
    def __init__(self, workdir: Path, port: int = PORT) -> None:
        self.dir = workdir / "sshd"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.dir.chmod(0o700)
        self.port = port
        self.key = self.dir / "client_ed25519"
        self.host_key = self.dir / "host_ed25519"
        self.config = self.dir / "sshd_config"
        self.drop_in_dir = self.dir / "sshd_config.d"
        self.drop_in_dir.mkdir(exist_ok=True)
        self.known_hosts = self.dir / "known_hosts"
        self.log = self.dir / "sshd.log"
        self.proc: subprocess.Popen[bytes] | None = None
        for key in (self.key, self.host_key):
            if not key.exists():
                subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)],
                               check=True, timeout=30)
        shutil.copy(f"{self.key}.pub", self.dir / "authorized_keys")
        host_pub = " ".join(Path(f"{self.host_key}.pub").read_text().split()[:2])
        self.known_hosts.write_text(known_hosts_line("127.0.0.1", port, host_pub))

    def write_config(self, include_drop_ins: bool = True, set_env: dict[str, str] | None = None,
                     extra: str = "") -> None:
        """A main config like Debian's: Include first, then lax settings the drop-in overrides."""
        lines = [f"Include {self.drop_in_dir}/*.conf"] if include_drop_ins else []
        lines += ["ListenAddress 127.0.0.1", f"HostKey {self.host_key}",
                  f"PidFile {self.dir}/sshd.pid",
                  f"AuthorizedKeysFile .ssh/authorized_keys {self.dir}/authorized_keys",
                  "UsePAM no", "StrictModes no",  # StrictModes rejects keys below /tmp
                  "PasswordAuthentication yes", "PermitRootLogin yes", "PrintMotd no",
                  "LogLevel VERBOSE"]
        if set_env:
            lines.append("SetEnv " + " ".join(f"{k}={v}" for k, v in set_env.items()))
        self.config.write_text("\n".join(lines) + "\n" + extra)

    def start(self, port_flag: bool = True) -> None:
        """Start sshd; without port_flag the port must come from the config (the drop-in)."""
        assert self.proc is None, "already running"
        assert not port_open(self.port), f"127.0.0.1:{self.port} is already in use"
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # privilege separation directory
        args = [SSHD, "-D", "-e", "-f", str(self.config)]  # absolute -f: SIGHUP re-exec needs it
        if port_flag:
            args += ["-p", str(self.port)]
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        deadline = time.monotonic() + 10
        while not port_open(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"sshd did not start: {self.log.read_text()[-2000:]}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # its own session: sshd and its children
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self.proc = None

    def ssh_args(self, user: str = "root", *opts: str) -> list[str]:
        return ["ssh", "-p", str(self.port), "-i", str(self.key), "-o", "IdentitiesOnly=yes",
                "-o", f"UserKnownHostsFile={self.known_hosts}", "-o", "StrictHostKeyChecking=yes",
                "-o", "BatchMode=yes", "-o", "ConnectTimeout=5", *opts, f"{user}@127.0.0.1"]

    def ssh(self, command: str, stdin: str = "", *opts: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*self.ssh_args("root", *opts), command], input=stdin, text=True,
                              capture_output=True, timeout=60)

    def run_script(self, script: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        """Run a rendered box script the way the remote commands do (root: no sudo)."""
        return self.ssh(as_root(script, sudo=False), stdin)

    def auth_methods(self) -> str:
        """What the server offers to a client without a key, e.g. "publickey,password"."""
        out = subprocess.run(
            ["ssh", "-v", "-p", str(self.port), "-o", "PubkeyAuthentication=no",
             "-o", f"UserKnownHostsFile={self.known_hosts}", "-o", "StrictHostKeyChecking=yes",
             "-o", "BatchMode=yes", "-o", "ConnectTimeout=5", "root@127.0.0.1", "true"],
            text=True, capture_output=True, timeout=30)
        assert out.returncode != 0, "a login without a key succeeded"
        lines = [ln for ln in out.stderr.splitlines() if "Authentications that can continue" in ln]
        assert lines, out.stderr
        return lines[0].rsplit(":", 1)[1].strip()

    def __enter__(self) -> SshdEnv:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
