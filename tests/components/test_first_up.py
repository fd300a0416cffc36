"""The first real `pulumi up` on a fresh box (issue 8): what the mocks and pure parts can show.

Docker waits for the preflight, containers carry memory_swap, one host-key policy, passphrase
keys refused, provider state free of this clone's paths. The real sshd/dockerd side is in
tests/integration/test_first_up_real.py.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from components.box import access_stamp, docker_ssh_opts, key_problem, memory_swap, swap_limit
from components.config import ConfigError, parse
from tests.harness import BASE_CONFIG, HOST_KEY, ROOT, SECRETS, FakeCloud, Graph, Rec, run_stack

CONTAINER = "docker:index/container:Container"


def full_config() -> dict[str, Any]:
    cfg = copy.deepcopy(BASE_CONFIG)
    cfg["box"]["installDocker"] = True
    cfg["backends"].append({"name": "node", "domain": "node.example.org", "image": "node:22.1.0",
                            "port": 8181})
    return cfg


@pytest.fixture(scope="module")
def graph() -> Graph:
    secrets = {**SECRETS, "backendSecrets": json.dumps({})}
    return run_stack(full_config(), secrets)


def waits_for(g: Graph, rec: Rec) -> set[str]:
    """Every URN registered before `rec` may be created: its dependencies and its provider's,
    transitively (the engine cannot create a resource before its provider)."""
    seen: set[str] = set()
    # a provider reference is "URN::ID"
    todo = list(rec.deps) + ([rec.provider.rsplit("::", 1)[0]] if rec.provider else [])
    while todo:
        urn = todo.pop()
        if urn in seen:
            continue
        seen.add(urn)
        dep = g.by_urn(urn)
        todo.extend(dep.deps)
        if dep.provider:
            todo.append(dep.provider.rsplit("::", 1)[0])
    return seen


def test_everything_on_the_docker_provider_waits_for_preflight(graph: Graph) -> None:
    provider = graph.get("box-docker")
    preflight = graph.get("box-preflight").urn
    on_docker = [r for r in graph.resources if r.provider.startswith(provider.urn + "::")]
    kinds = {r.type.split("/")[-1].split(":")[0] for r in on_docker}
    assert kinds >= {"network", "volume", "remoteImage", "container"}, kinds
    for rec in on_docker:
        assert preflight in waits_for(graph, rec), rec.name
    # the gate is the provider itself: nothing can use it before the preflight passed
    assert preflight in provider.deps


def test_every_container_sets_memory_swap_equal_to_memory(graph: Graph) -> None:
    containers = graph.of_type(CONTAINER)
    assert {c.name for c in containers} >= {"blog-db", "blog-wp-0", "blog-wp-1", "shop-db",
                                            "node-container"}
    for c in containers:
        memory = c.inputs["memory"]
        assert memory > 0 and c.inputs.get("memorySwap") == memory, (c.name, c.inputs)


class NoSwapAccounting(FakeCloud):
    """box-docker-access on a box whose Docker reports SwapLimit false (`docker info`)."""

    def new_resource(self, args: Any) -> tuple[str, dict]:
        rid, state = super().new_resource(args)
        if args.name == "box-docker-access":
            state["stdout"] = "docker-access-stamp=0\ndocker-swap-limit=false\n"
        return rid, state


def test_without_swap_accounting_every_container_sends_what_docker_reads_back() -> None:
    """Such a daemon stores MemorySwap=-1 whatever it is sent; anything else would show as an
    update at every `up` (issue 20 item 6)."""
    graph = run_stack(full_config(), {**SECRETS, "backendSecrets": json.dumps({})},
                      cloud=NoSwapAccounting())
    containers = graph.of_type(CONTAINER)
    assert len(containers) >= 5
    assert all(c.inputs.get("memorySwap") == -1 for c in containers), \
        [(c.name, c.inputs.get("memorySwap")) for c in containers]


def test_swap_limit_from_the_access_output() -> None:
    assert swap_limit("docker-access-stamp=0\ndocker-swap-limit=true\n")
    assert not swap_limit("docker-access-stamp=0\ndocker-swap-limit=false\n")
    assert swap_limit("") and swap_limit("docker-swap-limit=unknown")  # older state, no daemon
    assert memory_swap(512, True) == 512 and memory_swap(512, False) == -1


# ---- host keys: one policy for both connections ----

def box_config(**box: Any) -> dict[str, Any]:
    return {"box": {"host": "blog.example.org", "port": 2222, **box}}


def problems(raw: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as err:
        parse(raw)
    return str(err.value)


def test_remote_box_without_host_key_is_refused_with_the_keyscan_line() -> None:
    msg = problems(box_config())
    assert "wpfleet:box.hostKey: is required" in msg
    assert "ssh-keyscan -p 2222 -t ed25519 blog.example.org 2>/dev/null | cut -d' ' -f2-" in msg
    parse({"box": {"host": "local"}})  # pulumi runs on the box: no SSH, no host key


def test_rsa_host_key_is_refused() -> None:
    msg = problems(box_config(hostKey="ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7"))
    assert "wpfleet:box.hostKey" in msg and "ssh-rsa" in msg and "OpenSSH >= 8.8" in msg


def test_keyscan_line_with_the_host_reaches_both_connections_normalised() -> None:
    # issue 22 item 8: was refused ("cut the host name"); now the pin is what follows it
    config = box_config(hostKey=f"[blog.example.org]:2222 {HOST_KEY} root@blog")
    assert parse(config).box.host_key == HOST_KEY
    g = run_stack(config)
    for cmd in g.of_type("command:remote:Command"):
        assert cmd.inputs["connection"]["hostKey"] == HOST_KEY
    msg = problems(box_config(hostKey="blog.example.org ssh-ed25519"))  # no key at all
    assert "paste the output of" in msg and "cut -d' ' -f2-" in msg


def test_host_key_reaches_both_connections(graph: Graph) -> None:
    opts = graph.get("box-docker").inputs["sshOpts"]
    opts = json.loads(opts) if isinstance(opts, str) else opts
    assert "StrictHostKeyChecking=yes" in opts
    for cmd in graph.of_type("command:remote:Command"):
        assert cmd.inputs["connection"]["hostKey"] == HOST_KEY


# ---- the docker-access stamp in the ControlPath ----

def test_control_path_changes_with_the_docker_access_stamp() -> None:
    out = "box-preflight: added deploy to the docker group\n...\ndocker-access-stamp=1763900000\n"
    assert access_stamp(out) == "1763900000"
    assert access_stamp("") == access_stamp(None) == "0"
    old = [o for o in docker_ssh_opts("/kh", "/id", "0") if o.startswith("ControlPath=")]
    new = [o for o in docker_ssh_opts("/kh", "/id", access_stamp(out)) if o.startswith("ControlPath=")]
    assert old == ["ControlPath=~/.ssh/wpfleet-%C-0"] and new != old


# ---- passphrase-protected keys are refused, with the reason ----

def keygen(tmp_path: Path, name: str, *args: str) -> str:
    path = tmp_path / name
    subprocess.run(["ssh-keygen", "-q", "-f", str(path), "-C", "t", *args], check=True, timeout=60)
    return path.read_text()


def test_passphrase_protected_keys_are_detected(tmp_path: Path) -> None:
    assert key_problem(keygen(tmp_path, "plain", "-t", "ed25519", "-N", "")) is None
    assert key_problem(keygen(tmp_path, "enc", "-t", "ed25519", "-N", "s3cret")) \
        == "is protected by a passphrase"
    pem = keygen(tmp_path, "pem", "-t", "ecdsa", "-m", "PEM", "-N", "s3cret")
    assert key_problem(pem) == "is protected by a passphrase"
    assert key_problem(keygen(tmp_path, "pemplain", "-t", "ecdsa", "-m", "PEM", "-N", "")) is None


def test_up_with_a_passphrase_key_fails_naming_the_key(tmp_path: Path) -> None:
    # in a fresh interpreter: a program that fails mid-registration leaves the mocks unusable
    key = keygen(tmp_path, "enc", "-t", "ed25519", "-N", "pw")
    code = ("import sys; from tests.harness import BASE_CONFIG, SECRETS, run_stack\n"
            "run_stack(BASE_CONFIG, {**SECRETS, 'sshPrivateKey': sys.stdin.read()})\n")
    done = subprocess.run([sys.executable, "-c", code], input=key, capture_output=True, text=True,
                          timeout=120, cwd=ROOT, env={**os.environ, "HOME": str(tmp_path)})
    assert done.returncode != 0
    assert "wpfleet:sshPrivateKey is protected by a passphrase" in done.stderr
    assert "ssh-keygen -t ed25519 -N ''" in done.stderr


# ---- destroy/refresh from another clone ----

def test_provider_state_names_no_path_of_this_clone(tmp_path: Path, monkeypatch) -> None:
    seen = []
    for clone in ("a", "b"):
        (tmp_path / clone).mkdir()
        monkeypatch.chdir(tmp_path / clone)
        opts = run_stack(BASE_CONFIG).get("box-docker").inputs["sshOpts"]
        seen.append(json.loads(opts) if isinstance(opts, str) else opts)
    assert seen[0] == seen[1]  # the same provider config from either clone
    assert not any(str(tmp_path) in o for o in seen[0])
    assert any(o.startswith("UserKnownHostsFile=~/.wpfleet/") for o in seen[0])
    assert os.getcwd() == str(tmp_path / "b")


# ---- validation: ports and URLs (issue 8 item 16, issue 9 item 12) ----

def with_(mutate: Any) -> dict[str, Any]:
    cfg = copy.deepcopy(BASE_CONFIG)
    mutate(cfg)
    return cfg


def test_site_port_on_a_backend_upstream_is_refused_naming_both_keys() -> None:
    msg = problems(with_(lambda c: c["backends"][0].update(upstream="http://127.0.0.1:8083")))
    assert "wpfleet:backends[0].upstream" in msg and "wpfleet:sites[0].port (replica 1)" in msg
    msg = problems(with_(lambda c: c["backends"][0].update(upstream="http://localhost/")))
    assert "wpfleet:backends[0].upstream" in msg and "wpfleet:apache.httpPort" in msg
    # another machine's port 8082 is not ours to worry about
    parse(with_(lambda c: c["backends"][0].update(upstream="http://10.0.0.5:8082")))


def test_site_port_on_the_ssh_ports_is_refused() -> None:
    msg = problems(with_(lambda c: c["sites"][1].update(port=2222)))
    assert "wpfleet:sites[1].port" in msg and "wpfleet:box.port" in msg
    msg = problems(with_(lambda c: c["box"].update(hardenSsh=True, newPort=8090)))
    assert "wpfleet:sites[1].port" in msg and "wpfleet:box.newPort" in msg


def test_new_port_needs_hardening_and_differs_from_port() -> None:
    assert "needs wpfleet:box.hardenSsh: true" in problems(
        with_(lambda c: c["box"].update(newPort=2200)))
    assert "the move is done" in problems(
        with_(lambda c: c["box"].update(hardenSsh=True, newPort=2222)))
    stack = parse(with_(lambda c: c["box"].update(port=22, hardenSsh=True, newPort=2222)))
    assert stack.box.new_port == 2222


def test_hardened_sshd_needs_an_ed25519_pin() -> None:
    ecdsa = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBA"
    parse(with_(lambda c: c["box"].update(hostKey=ecdsa)))  # fine without hardening
    msg = problems(with_(lambda c: c["box"].update(hostKey=ecdsa, hardenSsh=True)))
    assert "wpfleet:box.hostKey" in msg and "ed25519" in msg


def test_duckdns_update_url_must_be_https_unless_loopback() -> None:
    msg = problems(with_(lambda c: c.update(duckdns={"domains": ["a"],
                                                     "updateUrl": "http://www.duckdns.org/update"})))
    assert "wpfleet:duckdns.updateUrl" in msg and "https" in msg
    parse(with_(lambda c: c.update(duckdns={"domains": ["a"], "updateUrl": "http://127.0.0.1:27001/u"})))
