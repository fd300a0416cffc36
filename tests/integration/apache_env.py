"""A private, loopback-only Apache for integration tests (no systemd needed).

Usage (any test that needs the rendered confs served by a real Apache):

    from tests.integration.apache_env import ApacheEnv, missing_binaries
    env = ApacheEnv.create(http_port=28080, https_port=28443)   # private config root
    env.load_rendered(out_dir)       # OUT_DIR of `python -m components.render`: confs enabled
    env.start()                      # apache2ctl start; waits for the HTTP port
    env.run_script(out_dir / "commands/apache-conf-blog.sh")   # a rendered box script, for real
    env.graceful()                   # apache2ctl graceful; waits until the reload is done
    env.stop()                       # always (fixture finalizer); also removes nothing on disk

`ApacheEnv.create` copies /etc/apache2 to `<base>/apache2` (APACHE_CONFDIR: apache2ctl, a2enmod
and the rendered scripts honour it), points run/lock/log dirs into `<base>`, writes
`Listen 127.0.0.1:<port>` for both ports and enables the modules the install script enables.
`base` is world-traversable (Apache's children run as www-data), so tests can put an ACME
webroot or certificates under `env.base`. Nothing outside `base` is written.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from components.render.apache.scripts import MODULES, ports_conf

BINARIES = ("apache2", "apache2ctl", "a2enmod")


def missing_binaries() -> list[str]:
    """Binaries these tests need that are not installed (apt-get install apache2)."""
    return [b for b in BINARIES if shutil.which(b) is None]


def wait_port(port: int, timeout: float = 10.0, open_: bool = True) -> None:
    """Wait until 127.0.0.1:port accepts connections (or refuses them, open_=False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            s.settimeout(0.5)
            is_open = s.connect_ex(("127.0.0.1", port)) == 0
        if is_open == open_:
            return
        time.sleep(0.05)
    raise TimeoutError(f"127.0.0.1:{port} still {'closed' if open_ else 'open'} after {timeout}s")


@dataclass
class ApacheEnv:
    base: Path  # world-traversable state dir; everything lives under it
    http_port: int
    https_port: int

    @property
    def root(self) -> Path:
        """The private config root (APACHE_CONFDIR)."""
        return self.base / "apache2"

    @property
    def log_dir(self) -> Path:
        return self.base / "log"

    @property
    def pid_file(self) -> Path:
        return self.base / "run" / "apache2.pid"

    @property
    def env(self) -> dict[str, str]:
        """Environment for apache2ctl and the rendered scripts (loopback-only ports.conf)."""
        return {**os.environ, "APACHE_CONFDIR": str(self.root),
                "WPFLEET_LISTEN_ADDRESS": "127.0.0.1"}

    @classmethod
    def create(cls, http_port: int, https_port: int, base: Path | None = None,
               enable_modules: bool = True) -> ApacheEnv:
        """A fresh private root; enable_modules=False leaves that to the rendered install script."""
        if base is None:
            base = Path(tempfile.mkdtemp(prefix="wpfleet-apache-"))
        base.mkdir(parents=True, exist_ok=True)
        base.chmod(0o755)
        env = cls(base=base, http_port=http_port, https_port=https_port)
        for d in ("run", "lock", "log"):
            (base / d).mkdir(exist_ok=True)
        shutil.rmtree(env.root, ignore_errors=True)
        shutil.copytree("/etc/apache2", env.root, symlinks=True)
        (env.root / "envvars").write_text(
            "unset HOME\nexport APACHE_RUN_USER=www-data APACHE_RUN_GROUP=www-data\n"
            f"export APACHE_RUN_DIR={base}/run APACHE_PID_FILE={env.pid_file}\n"
            f"export APACHE_LOCK_DIR={base}/lock APACHE_LOG_DIR={env.log_dir} LANG=C\n")
        (env.root / "ports.conf").write_text(ports_conf(http_port, https_port, "127.0.0.1:"))
        (env.root / "conf-available" / "servername.conf").write_text("ServerName 127.0.0.1\n")
        (env.root / "conf-enabled" / "servername.conf").symlink_to(
            "../conf-available/servername.conf")
        default = env.root / "sites-enabled" / "000-default.conf"
        default.unlink(missing_ok=True)  # its *:80 vhost is not ours
        for m in ("mpm_prefork", "mpm_worker"):
            if (env.root / "mods-enabled" / f"{m}.load").exists():
                env._run(["a2dismod", "-q", m])
        if enable_modules:
            env._run(["a2enmod", "-q", *MODULES])
        return env

    def _run(self, argv: list[str], check: bool = True,
             timeout: float = 60) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(argv, env=self.env, capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed ({proc.returncode}):\n"
                               f"{proc.stdout}{proc.stderr}")
        return proc

    def ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """apache2ctl against the private root."""
        return self._run(["apache2ctl", *args], check=check)

    def configtest(self) -> subprocess.CompletedProcess[str]:
        return self.ctl("configtest", check=False)

    def load_rendered(self, out_dir: Path) -> list[str]:
        """Copy the rendered wpfleet-* confs from a render OUT_DIR and enable them."""
        loaded = []
        for kind in ("sites", "conf"):
            src = out_dir / "etc/apache2" / f"{kind}-available"
            for conf in sorted(src.glob("wpfleet-*.conf")) if src.is_dir() else []:
                shutil.copy(conf, self.root / f"{kind}-available" / conf.name)
                link = self.root / f"{kind}-enabled" / conf.name
                link.unlink(missing_ok=True)
                link.symlink_to(f"../{kind}-available/{conf.name}")
                loaded.append(f"{kind}/{conf.name}")
        return loaded

    def run_script(self, script: Path, check: bool = False) -> subprocess.CompletedProcess[str]:
        """Run a rendered box script for real against this private root."""
        return self._run(["bash", str(script)], check=check, timeout=120)

    def _reloads(self) -> int:
        log = self.log_dir / "error.log"
        return log.read_text(errors="replace").count("resuming normal operations") \
            if log.exists() else 0

    def wait_reloads(self, before: int, timeout: float = 15.0) -> None:
        """Wait until Apache logged more (re)starts than `before`."""
        deadline = time.monotonic() + timeout
        while self._reloads() <= before:
            if time.monotonic() > deadline:
                raise TimeoutError(f"Apache did not (re)load within {timeout}s:\n"
                                   + self.error_log()[-2000:])
            time.sleep(0.05)

    def start(self) -> None:
        before = self._reloads()
        self.ctl("start")
        self.wait_reloads(before)
        wait_port(self.http_port)

    def graceful(self) -> None:
        """apache2ctl graceful (re-checks the config first); returns once the reload happened."""
        before = self._reloads()
        self.ctl("graceful")
        self.wait_reloads(before)

    def pid(self) -> int | None:
        try:
            return int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None

    def stop(self, timeout: float = 10.0) -> None:
        """Stop Apache (idempotent); SIGKILL the master we started if it does not go away."""
        pid = self.pid()
        if pid is None:
            return
        self.ctl("stop", check=False)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
        os.kill(pid, signal.SIGKILL)

    def error_log(self, name: str = "error.log") -> str:
        path = self.log_dir / name
        return path.read_text(errors="replace") if path.exists() else ""
