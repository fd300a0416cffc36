"""SSH hardening with a real sshd, and box scripts run through a real sshd on 127.0.0.1:22222.

The hardening drop-in is checked by `sshd -t` and then by an sshd started with it: the key
still logs in, a password is no longer offered. The remote-command tests send the rendered
scripts over ssh exactly as `Box.run` does (user, key, port, pinned host key, `bash -c '...'`).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from components.config import parse
from components.render.box.duckdns import duckdns
from components.render.box.preflight import preflight
from components.render.box.ssh import drop_in, ssh
from tests.harness import HOST_KEY
from tests.integration import test_duckdns_real as duck_tests
from tests.integration.sshd_env import PORT, SshdEnv, require_ssh
from tests.integration.test_duckdns_real import FAKE_SYSTEMCTL, TOKEN, FakeDuck

pytestmark = pytest.mark.integration
fake_duck = duck_tests.fake_duck  # the fake DuckDNS server fixture


@pytest.fixture
def env(tmp_path: Path) -> Iterator[SshdEnv]:
    require_ssh()
    with SshdEnv(tmp_path) as e:
        yield e


def box_env(env: SshdEnv) -> dict[str, str]:
    """Redirects for the scripts (tests only): sshd paths in the test dir, a fake systemctl."""
    fake = env.dir / "systemctl"
    fake.write_text(FAKE_SYSTEMCTL)
    fake.chmod(0o755)
    return {"SSHD_CONFIG_DIR": str(env.drop_in_dir), "SSHD_CONFIG": str(env.config),
            "SYSTEMCTL": str(fake)}


def run_local(script: str, redirects: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", script], env={"PATH": "/usr/sbin:/usr/bin:/bin",
                                                        **redirects},
                          text=True, capture_output=True, timeout=60)


def hardening(port: int = PORT) -> tuple[str, str, str]:
    stack = parse({"box": {"host": "box.example.org", "port": port, "hardenSsh": True, "hostKey": HOST_KEY}})
    cmd = ssh(stack)
    assert cmd is not None and cmd.delete is not None
    return cmd.create, cmd.delete, drop_in(stack)


def test_hardened_sshd_accepts_key_and_refuses_password(env: SshdEnv) -> None:
    create, delete, conf = hardening()
    redirects = box_env(env)
    env.write_config()
    # control: the lax main config offers passwords, so the change below is the drop-in's
    env.start(port_flag=True)
    assert "password" in env.auth_methods().split(",")
    env.stop()

    out = run_local(create, redirects)
    assert out.returncode == 0, out.stderr
    target = env.drop_in_dir / "00-wpfleet.conf"
    assert target.read_text() == conf
    assert subprocess.run(["/usr/sbin/sshd", "-t", "-f", str(env.config)]).returncode == 0
    assert "reload ssh" in (env.dir / "systemctl.log").read_text()

    env.start(port_flag=False)  # the port now comes from the drop-in
    assert env.auth_methods() == "publickey"
    ok = env.ssh("id -un")
    assert ok.returncode == 0 and ok.stdout.strip() == "root", ok.stderr

    again = run_local(create, redirects)
    assert again.returncode == 0 and "no change" in again.stdout

    gone = run_local(delete, redirects)
    assert gone.returncode == 0, gone.stderr
    # sshd_config alone lists no Port 22222: the delete keeps just that line (never locked out)
    kept = [ln for ln in target.read_text().splitlines() if not ln.startswith("#")]
    assert kept == ["Port 22222"] and "kept Port 22222" in gone.stdout


def test_invalid_sshd_config_reverts_the_drop_in(env: SshdEnv) -> None:
    create, _, _ = hardening()
    redirects = box_env(env)
    env.write_config()
    previous = "# an earlier wpfleet drop-in\nPort 22222\n"
    target = env.drop_in_dir / "00-wpfleet.conf"
    target.write_text(previous)
    (env.drop_in_dir / "zz-broken.conf").write_text("ThisIsNotAnSshdOption yes\n")
    out = run_local(create, redirects)
    assert out.returncode == 1
    assert "sshd -t rejected" in out.stderr and "restored" in out.stderr
    assert target.read_text() == previous
    assert not (env.dir / "systemctl.log").exists(), "sshd was reloaded with a bad config"
    assert [p.name for p in env.drop_in_dir.iterdir()] == sorted(["00-wpfleet.conf",
                                                                 "zz-broken.conf"])


def test_drop_in_ignored_by_sshd_config_is_reverted(env: SshdEnv) -> None:
    create, _, _ = hardening()
    redirects = box_env(env)
    env.write_config(include_drop_ins=False)  # sshd would never read the drop-in
    out = run_local(create, redirects)
    assert out.returncode == 1 and "lacks 'port 22222'" in out.stderr
    assert not (env.drop_in_dir / "00-wpfleet.conf").exists()


def test_duckdns_script_over_real_ssh(env: SshdEnv, fake_duck: FakeDuck,
                                      tmp_path: Path) -> None:
    box = tmp_path / "box"
    redirects = {"DUCKDNS_TOKEN_FILE": f"{box}/etc/wpfleet/duckdns.token",
                 "WPFLEET_LIB": f"{box}/lib", "SYSTEMD_UNIT_DIR": f"{box}/units",
                 **box_env(env)}
    env.write_config(set_env=redirects)
    env.start()
    stack = parse({"box": {"host": "127.0.0.1", "port": PORT, "hostKey": HOST_KEY}, "duckdnsToken": "x",
                   "duckdns": {"domains": ["meljuju"], "updateUrl": fake_duck.url}})
    cmd = duckdns(stack)
    assert cmd is not None
    out = env.run_script(cmd.create, stdin=TOKEN + "\n")
    assert out.returncode == 0, out.stderr
    assert "enabled wpfleet-duckdns.timer" in out.stdout and TOKEN not in out.stdout
    assert fake_duck.requests == [{"domains": ["meljuju"], "token": [TOKEN], "ip": [""]}]
    token_file = Path(redirects["DUCKDNS_TOKEN_FILE"])
    assert token_file.read_text().strip() == TOKEN and token_file.stat().st_mode & 0o777 == 0o600


def test_failing_preflight_over_real_ssh(env: SshdEnv, tmp_path: Path) -> None:
    env.write_config()
    env.start()
    stack = parse({"box": {"host": "127.0.0.1", "port": PORT, "minFreeDiskMb": 2**40, "hostKey": HOST_KEY}})
    out = env.run_script(preflight(stack).create)
    assert out.returncode == 1
    assert "box-preflight: the box is not ready" in out.stderr
    assert "below wpfleet:box.minFreeDiskMb" in out.stderr
    # with a free-space threshold of 0 and a Docker stand-in, the same check passes
    fake_docker = tmp_path / "docker"
    fake_docker.write_text("#!/bin/sh\necho 28.2.2\n")
    fake_docker.chmod(0o755)
    ok = env.run_script(f"export DOCKER={fake_docker}\n" + preflight(
        parse({"box": {"host": "127.0.0.1", "port": PORT, "minFreeDiskMb": 0, "hostKey": HOST_KEY},
               "apache": {"httpPort": 27180, "httpsPort": 27443}})).create)
    assert ok.returncode == 0, ok.stderr
    assert "box-preflight: ok: Docker 28.2.2 running" in ok.stdout


def test_host_key_is_pinned(env: SshdEnv) -> None:
    env.write_config()
    env.start()
    assert env.ssh("true").returncode == 0
    other = env.dir / "other_host"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    pub = " ".join(Path(f"{other}.pub").read_text().split()[:2])
    env.known_hosts.write_text(f"[127.0.0.1]:{PORT} {pub}\n")
    refused = env.ssh("true")
    assert refused.returncode == 255 and "Host key verification failed" in refused.stderr
