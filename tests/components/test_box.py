"""Box: how the Docker provider and commands reach the box (pure parts + under mocks)."""

from __future__ import annotations

import copy
import json
import shlex
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from components.box import docker_ssh_opts, docker_ssh_url, expand, known_hosts_line
from components.render import as_root
from tests.harness import BASE_CONFIG, SECRETS, run_stack


def test_ssh_opts_pin_the_host_key_offer_only_the_key_and_multiplex() -> None:
    opts = docker_ssh_opts("/tmp/kh", "/tmp/id")
    pairs = dict(o.split("=", 1) for flag, o in zip(opts, opts[1:], strict=False) if flag == "-o")
    assert pairs["StrictHostKeyChecking"] == "yes"
    assert pairs["UserKnownHostsFile"] == "/tmp/kh"
    assert pairs["ControlMaster"] == "auto" and pairs["BatchMode"] == "yes"
    assert pairs["IdentitiesOnly"] == "yes" and opts[-2:] == ["-i", "/tmp/id"]
    assert pairs["ControlPath"] == "~/.ssh/wpfleet-%C-0"
    # one policy: the host key is always checked, there is no variant without it
    assert "StrictHostKeyChecking=yes" in docker_ssh_opts("/tmp/kh", None, "17")


def test_known_hosts_line_uses_bracket_form_for_custom_ports() -> None:
    assert known_hosts_line("h.org", 22, "ssh-ed25519 AAAA") == "h.org ssh-ed25519 AAAA\n"
    assert known_hosts_line("h.org", 2222, "ssh-ed25519 AAAA") == "[h.org]:2222 ssh-ed25519 AAAA\n"


def test_as_root_quotes_the_whole_script() -> None:
    script = "#!/bin/bash\necho \"it's $HOME\"; exit 3\n"
    line = as_root(script, sudo=False)
    assert shlex.split(line) == ["bash", "-c", script]
    assert shlex.split(as_root(script, sudo=True))[:3] == ["sudo", "-n", "bash"]
    # run it: quoting survives a real shell, and the exit code comes back
    done = subprocess.run(["sh", "-c", line], capture_output=True, text=True, check=False)
    assert done.returncode == 3 and done.stdout.startswith("it's ")


def test_key_files_hold_exactly_the_configured_keys(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("components.box.ssh_home", lambda: tmp_path / "home")
    g = run_stack(BASE_CONFIG)
    provider = g.get("box-docker")
    opts = provider.inputs["sshOpts"]
    opts = json.loads(opts) if isinstance(opts, str) else opts  # provider inputs arrive as JSON
    assert "sshOpts" in provider.secret_inputs  # derived from the private key
    known = Path(next(o.split("=", 1)[1] for o in opts if o.startswith("UserKnownHostsFile=")))
    known = expand(str(known))
    assert known.read_text() == f"[blog.example.org]:2222 {BASE_CONFIG['box']['hostKey']}\n"
    key = expand(opts[opts.index("-i") + 1])
    assert key.read_text() == SECRETS["sshPrivateKey"] + "\n"
    assert key.stat().st_mode & 0o777 == 0o600 and key.parent.stat().st_mode & 0o777 == 0o700
    assert key.parent == tmp_path / "home" / ".wpfleet"


def test_root_user_runs_without_sudo() -> None:
    cfg = copy.deepcopy(BASE_CONFIG)
    cfg["box"]["user"] = "root"
    for cmd in run_stack(cfg).of_type("command:remote:Command"):
        assert cmd.inputs["create"].startswith("bash -c ")


@pytest.mark.parametrize(("host", "url", "known"), [
    ("203.0.113.7", "ssh://deploy@203.0.113.7:2222", "[203.0.113.7]:2222"),
    ("2001:db8::7", "ssh://deploy@[2001:db8::7]:2222", "[2001:db8::7]:2222"),
    ("blog.example.org", "ssh://deploy@blog.example.org:2222", "[blog.example.org]:2222"),
    ("local", "unix:///var/run/docker.sock", None)])
def test_docker_host_is_a_valid_url_for_ipv4_ipv6_a_name_and_local(
        host: str, url: str, known: str | None, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("components.box.ssh_home", lambda: tmp_path / "home")
    cfg = copy.deepcopy(BASE_CONFIG)
    cfg["box"]["host"] = host
    if host == "local":
        cfg["box"] = {"host": "local"}
    g = run_stack(cfg, secrets={} if host == "local" else SECRETS)
    assert g.get("box-docker").inputs["host"] == url
    if known is None:
        return
    parts = urlsplit(url)  # what Docker's ssh helper does with it (url.Parse, Hostname())
    assert (parts.username, parts.hostname, parts.port) == ("deploy", host, 2222)
    # the command connection takes the bare address: pulumi-command joins host and port
    conn = g.get("box-preflight").inputs["connection"]
    assert (conn["host"], conn["port"]) == (host, 2222)
    lines = (tmp_path / "home" / ".wpfleet").glob("known_hosts-*")
    assert [p.read_text().split(" ", 1)[0] for p in lines] == [known]


def test_known_hosts_line_of_an_ipv6_box_on_port_22_is_the_bare_address() -> None:
    # OpenSSH looks up "2001:db8::7" on port 22 and "[2001:db8::7]:2222" otherwise
    assert known_hosts_line("2001:db8::7", 22, "ssh-ed25519 AAAA") == "2001:db8::7 ssh-ed25519 AAAA\n"
    assert docker_ssh_url("root", "2001:db8::7", 22) == "ssh://root@[2001:db8::7]:22"
