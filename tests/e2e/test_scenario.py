"""From a fresh box to day two, through the real `pulumi` (issues 18 and 19).

One scenario on the test box of tests/e2e/box.sh (systemd, sshd on 22, ufw, its own dockerd,
stand-in images; pebble, fake DuckDNS, SMTP sink and SFTP target beside it), driven by the real
CLI, language host and providers (engine/build.sh) on a copy of this program, as a user would:
`pulumi preview`, `up`, `refresh`, `destroy`. Each step is a test, in order; a failed step skips
the rest (`incremental`). Every step's time is written to the report (docs/testing.md).

The stack is the seed's operator's: two WordPress sites (one with 2 replicas and the page cache),
a Node.js API under the first site's domain at /api and another on its own name, TLS from the
test CA, DuckDNS, the firewall, SSH hardening moving SSH from 22 to 2222, backups to SFTP.
"""

from __future__ import annotations

import copy
import json
import re
import secrets
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.boxlib import BoxManager
from tests.e2e.pulumi_cli import Project, steps_by_op

pytestmark = [pytest.mark.e2e, pytest.mark.incremental]

SITES = [
    {"name": "blog", "domain": "blog.test", "aliases": ["www.blog.test"], "port": 8082,
     "replicas": 2, "tls": True, "cache": {"ttl": 60}, "title": "The blog", "adminUser": "editor"},
    {"name": "notes", "domain": "notes.test", "port": 8090, "replicas": 1, "tls": True,
     "title": "Notes", "adminUser": "noter"},
]
BACKENDS = [
    {"name": "blog-api", "domain": "blog.test", "path": "/api", "upstream": "http://127.0.0.1:8180"},
    {"name": "api", "domain": "api.test", "upstream": "http://127.0.0.1:8180"},
]
TIMINGS: dict[str, float] = {}


def config_for(box: Any, *, port: int = 2222, new_port: int | None = None,
               sites: list[dict[str, Any]] | None = None,
               backends: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    env = box.env
    box_cfg: dict[str, Any] = {"host": box.address, "port": port, "user": "root",
                               "hostKey": env["WPFLEET_BOX_HOST_KEY"], "hardenSsh": True}
    if new_port is not None:
        box_cfg["newPort"] = new_port
    cfg = {
        "box": box_cfg,
        "acme": {"email": "admin@blog.test", "server": env["WPFLEET_BOX_ACME_DIR"]},
        "apache": {"httpPort": 80, "httpsPort": 443},
        "sites": copy.deepcopy(SITES if sites is None else sites),
        "backends": copy.deepcopy(BACKENDS if backends is None else backends),
        "duckdns": {"domains": ["wpfleet-e2e"]},
        "firewall": {"enabled": True},
        "backup": {"repository": env["WPFLEET_BOX_SFTP_REPOSITORY"], "schedule": "daily"},
    }
    return {f"wpfleet:{k}": v for k, v in cfg.items()}


class Scenario:
    def __init__(self, box: Any, project: Project) -> None:
        self.box = box
        self.project = project
        self.sites = copy.deepcopy(SITES)
        self.port = 22
        self.secrets: dict[str, str] = {}

    def configure(self, **kw: Any) -> None:
        self.project.write_config(config_for(self.box, sites=self.sites, **kw))

    def https(self, host: str, path: str = "/", *, check: bool = True, extra: tuple[str, ...] = ()
              ) -> subprocess.CompletedProcess[str]:
        """GET https://HOST/PATH from the machine, at the box's address, trusting the test CA."""
        return curl(["--cacert", self.box.env["WPFLEET_BOX_CA"],
                     "--resolve", f"{host}:443:{self.box.address}", *extra,
                     f"https://{host}{path}"], check=check)

    def ssh(self, command: str, **kw: Any) -> subprocess.CompletedProcess[str]:
        return self.box.ssh(command, port=self.port, **kw)


def curl(args: list[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(["curl", "-sS", "--max-time", "30", "-o", "-", "-w",
                           "\n%{http_code}", *args], capture_output=True, text=True, timeout=60,
                          check=False)
    if check:
        assert done.returncode == 0, f"curl {args[-1]}: {done.stderr}"
    return done


def status_of(done: subprocess.CompletedProcess[str]) -> int:
    return int(done.stdout.rsplit("\n", 1)[-1] or 0)


def body_of(done: subprocess.CompletedProcess[str]) -> str:
    return done.stdout.rsplit("\n", 1)[0]


@pytest.fixture(autouse=True)
def _timed(request: pytest.FixtureRequest) -> Iterator[None]:
    start = time.monotonic()
    yield
    TIMINGS[request.node.name] = round(time.monotonic() - start, 1)
    Path("/tmp/wpfleet-e2e-timings.json").write_text(json.dumps(TIMINGS, indent=1))


@pytest.fixture(scope="module")
def scenario(box_manager: BoxManager, pulumi_env: dict[str, str],
             tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    box_manager.stop()  # a fresh box: the box's own tests may have installed Apache on it
    box = box_manager.ensure()
    project = Project.copy_of_program(tmp_path_factory.mktemp("scenario") / "project", pulumi_env)
    s = Scenario(box, project)
    project.init(config_for(box, port=22, new_port=2222))
    s.secrets = {"wpfleet:sshPrivateKey": Path(box.key_file).read_text(),
                 "wpfleet:duckdnsToken": f"duck-{secrets.token_hex(12)}",
                 "wpfleet:resticPassword": f"restic-{secrets.token_hex(16)}"}
    for key, value in s.secrets.items():
        project.set_secret(key, value)
    return s


def test_preview_plans_every_resource_and_shows_no_secret(scenario: Scenario) -> None:
    preview = scenario.project.preview()
    ops = steps_by_op(preview)
    assert set(ops) == {"create"}, ops
    names = set(ops["create"])
    for expected in ("box-docker-access", "box-preflight", "box-firewall", "box-ssh",
                     "box-duckdns", "blog-db", "blog-wp-0", "blog-wp-1", "notes-wp-0",
                     "cert-blog", "cert-notes", "cert-api", "apache-install"):
        assert expected in names, expected
    assert_no_secret_printed(scenario)


def test_first_up_converges(scenario: Scenario) -> None:
    scenario.project.up()
    outputs = scenario.project.outputs()
    assert set(outputs["sites"]) == {"blog", "notes"}


def test_ssh_port_move_second_up(scenario: Scenario) -> None:
    """The documented two-step move (docs/operations.md): sshd answers on 2222, then 22 goes."""
    assert scenario.box.ssh("true", port=2222, check=False).returncode == 0
    scenario.configure()  # port 2222, newPort removed
    scenario.port = 2222
    scenario.project.up()
    assert scenario.box.ssh("true", port=22, check=False, timeout=20).returncode != 0


def test_second_up_changes_nothing(scenario: Scenario) -> None:
    scenario.project.preview("--expect-no-changes")
    scenario.project.refresh("--expect-no-changes")
    scenario.project.up("--expect-no-changes")


def test_sites_from_outside(scenario: Scenario) -> None:
    blog = scenario.https("blog.test", "/")
    assert status_of(blog) == 200 and "The blog" in body_of(blog)
    notes = scenario.https("notes.test", "/")
    assert status_of(notes) == 200 and "Notes" in body_of(notes)
    api = scenario.https("blog.test", "/api/hello")
    assert status_of(api) == 200
    got = json.loads(body_of(api))
    assert got["path"].startswith("/api/hello") and got["forwarded"]["x-forwarded-proto"] == "https"
    own = scenario.https("api.test", "/v1")
    assert status_of(own) == 200 and json.loads(body_of(own))["path"] == "/v1"
    unknown = scenario.https("nobody.test", "/", check=False, extra=("-k",))
    assert status_of(unknown) == 421
    plain = curl(["--resolve", f"blog.test:80:{scenario.box.address}", "http://blog.test/"])
    assert status_of(plain) in (301, 308)


def test_only_80_443_and_2222_are_open(scenario: Scenario) -> None:
    for port in (22, 8082, 8090, 3306, 8180, 2375):
        done = subprocess.run(["bash", "-c", f"exec 3<>/dev/tcp/{scenario.box.address}/{port}"],
                              capture_output=True, timeout=15, check=False)
        assert done.returncode != 0, f"port {port} answers from outside"


def test_ssh_refuses_passwords(scenario: Scenario) -> None:
    done = subprocess.run(
        ["ssh", "-F", scenario.box.env["WPFLEET_BOX_SSH_CONFIG"], "-p", "2222",
         "-o", "PubkeyAuthentication=no", "-o", "PreferredAuthentications=password,keyboard-interactive",
         "-o", "BatchMode=yes", f"root@{scenario.box.address}", "true"],
        capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode != 0 and "Permission denied" in done.stderr
    sshd = scenario.ssh("sshd -T | grep -Ei '^(passwordauthentication|permitrootlogin) '")
    assert "passwordauthentication no" in sshd.stdout


def assert_no_secret_printed(scenario: Scenario) -> None:
    texts = "\n".join(scenario.project.log)
    for key, value in scenario.secrets.items():
        body = value.strip().splitlines()[1] if "PRIVATE KEY" in value else value
        assert body not in texts, f"{key} printed by pulumi"


def test_secrets_never_in_plaintext(scenario: Scenario) -> None:
    state_dir = Path(scenario.project.env["WPFLEET_STATE_DIR"])
    home = Path(scenario.project.env["PULUMI_HOME"])
    stored = "".join(p.read_text(errors="replace") for d in (state_dir, home)
                     for p in d.rglob("*") if p.is_file() and p.stat().st_size < 50_000_000
                     and "plugins" not in p.parts)
    stored += scenario.project.stack_file.read_text()
    state = json.dumps(scenario.project.state())
    generated = [v for v in re.findall(r'"result": "([^"]+)"', state)]
    assert not generated, "a generated password is in the state in plaintext"
    for key, value in scenario.secrets.items():
        body = value.strip().splitlines()[1] if "PRIVATE KEY" in value else value
        assert body not in stored, f"{key} is stored in plaintext"
    assert_no_secret_printed(scenario)
