"""A box for the backup programs: real MariaDB servers, real restic, a thin `docker` stand-in.

Each site's "DB container" is a private `mariadbd` (Debian's mariadb-server) in a temp dir,
listening on its own unix socket only (no TCP). The `docker` stand-in understands exactly what
wpfleet-backup/-restore call: `inspect`, `volume inspect` (volumes are temp dirs), `stop`/
`start` (recorded), and `exec -i <db> sh -c SCRIPT`, which runs SCRIPT with the container's
MARIADB_ROOT_PASSWORD in its environment and `mariadb`/`mariadb-dump` wrappers that reach that
container's server: the SQL dump, the import and the restic repository are all real.
Every docker and restic command line is logged, so tests can check no secret was on one.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from components.config import BackupConfig, SiteConfig
from components.render.backup.restic import site_file
from components.render.backup.wpfleet_backup import backup_program
from components.render.backup.wpfleet_restore import restore_program
from tests.integration.restic_fast_key import weaken

TOOLS = ("mariadbd", "mariadb-install-db", "mariadb", "mariadb-dump", "restic")
MISSING = [t for t in TOOLS if shutil.which(t) is None]
SKIP = pytest.mark.skipif(bool(MISSING), reason=f"missing {MISSING}: apt-get install "
                          "restic mariadb-server mariadb-client")

FAKE_DOCKER = r"""#!/bin/bash
# stand-in for the box's docker CLI (tests/integration/backup_env.py)
set -euo pipefail
F=$WPFLEET_FAKE
printf '%s\n' "docker $*" >> "$F/docker.log"
c() { [ -d "$F/containers/$1" ] || { echo "Error: No such container: $1" >&2; exit 1; }; }
case "$1" in
  inspect)
    shift; fmt=""
    while [ "$#" -gt 1 ]; do
      case "$1" in --type) shift 2 ;; --format|-f) fmt=$2; shift 2 ;; *) break ;; esac
    done
    c "$1"
    case "$fmt" in
      '{{.State.Running}}') [ -e "$F/containers/$1/running" ] && echo true || echo false ;;
      *'{{println .}}'*) cat "$F/containers/$1/env" 2>/dev/null || true ;;  # .Config.Env
      *.Config.Env*) ;;  # WORDPRESS_CONFIG_EXTRA: none here
      *) echo '[{}]' ;;
    esac ;;
  run)
    # `docker run ... --env-file F ... --network container:C IMAGE wp ARGS`: recorded (argv in
    # docker.log, the env file's content in run-env.log); C must be running
    shift
    while [ "$#" -gt 0 ]; do
      case "$1" in
        --env-file) { echo "--- $2"; cat "$2"; } >> "$F/run-env.log"; shift 2 ;;
        --network) c "${2#container:}"
          [ -e "$F/containers/${2#container:}/running" ] \
            || { echo "Error: container ${2#container:} is not running" >&2; exit 1; }
          shift 2 ;;
        *) shift ;;
      esac
    done
    exit "${WPFLEET_FAKE_RUN_RC:-0}" ;;
  ps)
    # `docker ps [-a] --filter label=org.wpfleet.site=S --filter label=org.wpfleet.role=wordpress
    # [--filter status=running] --format {{.Names}}`: the site's WordPress replicas (by name here)
    shift; site="" running=0
    while [ "$#" -gt 0 ]; do
      case "$1" in
        --filter) case "$2" in label=org.wpfleet.site=*) site=${2#label=org.wpfleet.site=} ;;
                    status=running) running=1 ;; esac; shift 2 ;;
        --format) shift 2 ;;
        *) shift ;;
      esac
    done
    for d in "$F"/containers/wpfleet-"$site"-wp-*; do
      [ -d "$d" ] || continue
      [ "$running" = 0 ] || [ -e "$d/running" ] || continue
      basename "$d"
    done ;;
  volume)
    [ "$2" = inspect ] || exit 1
    v=${@: -1}
    [ -d "$F/volumes/$v/_data" ] || { echo "Error: no such volume: $v" >&2; exit 1; }
    echo "local $F/volumes/$v/_data" ;;
  stop|start)
    c "$2"
    if [ "$1" = stop ]; then rm -f "$F/containers/$2/running"; else touch "$F/containers/$2/running"; fi
    echo "$2" ;;
  exec)
    shift; [ "$1" = -i ] && shift
    name=$1; shift; c "$name"
    [ -e "$F/containers/$name/running" ] || { echo "Error: container $name is not running" >&2; exit 1; }
    [ "$1" = sh ] && [ "$2" = -c ] || { echo "stand-in: only 'sh -c' is supported" >&2; exit 1; }
    MARIADB_ROOT_PASSWORD=$(cat "$F/containers/$name/root_password") \
      WPFLEET_FAKE_CNF="$F/containers/$name/client.cnf" PATH="$F/in-container:$PATH" \
      exec sh -c "$3" ;;
  *) echo "stand-in docker: unsupported: $*" >&2; exit 1 ;;
esac
"""
# inside the "container": the client tools reach that container's own server
CLIENT_WRAPPER = """#!/bin/sh
exec /usr/bin/{tool} --defaults-file="$WPFLEET_FAKE_CNF" "$@"
"""
RESTIC_SHIM = """#!/bin/sh
printf '%s\\n' "$(date +%s.%N) restic $*" >> "$WPFLEET_FAKE/restic.log"
exec {restic} "$@"
"""


@pytest.fixture(scope="session")
def mariadb_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One `mariadb-install-db` per test session (seconds); each server copies its datadir."""
    return install_datadir(tmp_path_factory.mktemp("mariadb-template") / "data")


def install_datadir(root: Path) -> Path:
    subprocess.run(["mariadb-install-db", "--no-defaults", f"--datadir={root}", "--user=root",
                    "--auth-root-authentication-method=normal", "--skip-test-db"],
                   check=True, capture_output=True)
    return root


@dataclass
class Db:
    """One real mariadbd standing in for the container wpfleet-<site>-db."""

    name: str
    root: Path
    root_password: str
    template: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def socket(self) -> Path:
        return self.root / "mysqld.sock"

    def start(self) -> None:
        data = self.root / "data"
        shutil.copytree(self.template, data, symlinks=True)
        self.proc = subprocess.Popen(
            ["mariadbd", "--no-defaults", f"--datadir={data}", f"--socket={self.socket}",
             "--skip-networking", "--user=root", f"--pid-file={self.root}/pid",
             "--innodb-buffer-pool-size=32M", "--character-set-server=utf8mb4", f"--log-error={self.root}/error.log"])
        setup = ["mariadb", "--no-defaults", f"--socket={self.socket}", "-uroot", "-e",
                 f"ALTER USER root@localhost IDENTIFIED BY '{self.root_password}';"
                 "CREATE DATABASE wordpress; CREATE USER wordpress@localhost;"
                 "GRANT ALL ON wordpress.* TO wordpress@localhost;"]
        for _ in range(300):  # the socket appears a little before the server accepts
            if self.socket.exists() and subprocess.run(setup, capture_output=True).returncode == 0:
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError(f"mariadbd {self.name} did not start: "
                           f"{(self.root / 'error.log').read_text()[-500:]}")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=60)

    def sql(self, query: str, db: str = "wordpress") -> str:
        out = subprocess.run(
            ["mariadb", "--no-defaults", f"--socket={self.socket}", "-uroot", "-N", "-B", db,
             "--default-character-set=utf8mb4",
             "-e", query], capture_output=True, text=True,
            env={**os.environ, "MYSQL_PWD": self.root_password})
        if out.returncode != 0:
            raise AssertionError(f"SQL failed on {self.name}: {out.stderr.strip()}")
        return out.stdout.strip()

    def fingerprint(self) -> dict[str, str]:
        """Row count and CHECKSUM TABLE of every table in the site's database."""
        tables = self.sql("SHOW TABLES").split()
        return {t: self.sql(f"SELECT COUNT(*) FROM `{t}`") + "/" +
                self.sql(f"CHECKSUM TABLE `{t}`").split()[-1] for t in tables}


@dataclass
class Box:
    root: Path
    template: Path  # a fresh MariaDB datadir to copy
    dbs: dict[str, Db] = field(default_factory=dict)

    @property
    def fake(self) -> Path:
        return self.root / "fake"

    @property
    def conf(self) -> Path:
        return self.root / "etc-wpfleet-backup"

    @property
    def state(self) -> Path:
        return self.root / "var-lib-wpfleet-backup"

    def html(self, site: str) -> Path:
        return self.fake / "volumes" / f"wpfleet-{site}-html" / "_data"

    def add_site(self, site: str, replicas: int = 2, domain: str | None = None) -> Db:
        db = Db(site, self.root / f"db-{site}", f"root-pw-{site}-7f3a9c", self.template)
        db.root.mkdir()
        db.start()
        self.dbs[site] = db
        for name in [f"wpfleet-{site}-db", *(f"wpfleet-{site}-wp-{i}" for i in range(replicas))]:
            d = self.fake / "containers" / name
            d.mkdir(parents=True)
            (d / "running").touch()
        cdir = self.fake / "containers" / f"wpfleet-{site}-db"
        (cdir / "root_password").write_text(db.root_password)
        (cdir / "client.cnf").write_text(f"[client]\nsocket={db.socket}\n")
        # the replicas' environment (what `wpfleet_wp` copies into its 0600 env file)
        for i in range(replicas):
            (self.fake / "containers" / f"wpfleet-{site}-wp-{i}" / "env").write_text(
                f"WORDPRESS_DB_HOST=db:3306\nWORDPRESS_DB_PASSWORD={self.wp_password(site)}\n"
                "PATH=/usr/local/bin:/usr/bin\n")
        self.html(site).mkdir(parents=True)
        self.enable(site, domain or f"{site}.example.org")
        return db

    @staticmethod
    def wp_password(site: str) -> str:
        return f"wp-db-pw-{site}-c41d"

    def enable(self, site: str, domain: str = "site.example.org", tls: bool = True) -> None:
        """The site file its backup-site command writes (with the site's url= line)."""
        (self.conf / "sites").mkdir(parents=True, exist_ok=True)
        (self.conf / "sites" / site).write_text(
            site_file(SiteConfig(name=site, domain=domain, port=8080, tls=tls)))

    def install(self, backup: BackupConfig, password: str) -> None:
        """What backup-install leaves on the box, minus systemd: programs and the 0600 secret."""
        bindir = self.root / "bin"
        for name, text in (("wpfleet-backup", backup_program(backup)),
                           ("wpfleet-restore", restore_program(backup))):
            (bindir / name).write_text(text)
            (bindir / name).chmod(0o755)
        self.conf.mkdir(mode=0o700, exist_ok=True)
        pw = self.conf / "restic.password"
        pw.touch(mode=0o600)
        pw.write_text(password + "\n")

    def env(self, **extra: str) -> dict[str, str]:
        return {**os.environ, "WPFLEET_FAKE": str(self.fake), "DOCKER": str(self.root / "bin/docker"),
                "RESTIC": str(self.root / "bin/restic"), "WPFLEET_BACKUP_CONF": str(self.conf),
                "WPFLEET_BACKUP_STATE": str(self.state), "WPFLEET_HOLD_DIR": str(self.root / "hold"),
                "RESTIC_CACHE_DIR": str(self.root / "cache"), **extra}

    def run(self, prog: str, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(self.root / "bin" / prog), *args], capture_output=True,
                              text=True, env=self.env(**extra), timeout=300)

    def init_repo(self, repo: Path, password: str) -> None:
        """`restic init`, then cheap-to-open keys (restic_fast_key: tests only)."""
        self.restic(repo, "init")
        weaken(repo, password)

    def restic(self, repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["restic", "-r", str(repo), *args], capture_output=True, text=True,
                              check=True, env={**os.environ, "RESTIC_CACHE_DIR": str(self.root / "cache"),
                                               "RESTIC_PASSWORD_FILE": str(self.conf / "restic.password")})

    def status(self, site: str) -> dict[str, str]:
        text = (self.state / f"{site}.status").read_text()
        return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)

    def logs(self) -> str:
        return "".join((self.fake / f).read_text() for f in ("docker.log", "restic.log")
                       if (self.fake / f).exists())


def file_hashes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def new_box(tmp_path: Path, mariadb_template: Path) -> Box:
    """The stand-in docker, the logging restic shim and the in-container client wrappers."""
    b = Box(tmp_path, mariadb_template)
    bindir = tmp_path / "bin"
    incont = b.fake / "in-container"
    incont.mkdir(parents=True)
    bindir.mkdir()
    (bindir / "docker").write_text(FAKE_DOCKER)
    (bindir / "restic").write_text(RESTIC_SHIM.format(restic=shutil.which("restic")))
    for tool in ("mariadb", "mariadb-dump"):
        (incont / tool).write_text(CLIENT_WRAPPER.format(tool=tool))
    for f in [bindir / "docker", bindir / "restic", *incont.iterdir()]:
        f.chmod(0o755)
    return b


@pytest.fixture
def box(tmp_path: Path, mariadb_template: Path) -> Iterator[Box]:
    b = new_box(tmp_path, mariadb_template)
    try:
        yield b
    finally:
        for db in b.dbs.values():
            db.stop()
