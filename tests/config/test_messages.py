"""Messages a first-timer meets (issue 22 item 8): each says exactly what to write instead."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from components.config import ConfigError, parse
from tests.harness import HOST_KEY

BOX: dict[str, Any] = {"box": {"host": "blog.example.org", "port": 2222, "hostKey": HOST_KEY},
                       "acme": {"email": "a@example.org"},
                       "sites": [{"name": "blog", "domain": "blog.example.org", "port": 8082}]}
KEY = HOST_KEY.split()[1]


def with_box(**kw: Any) -> dict[str, Any]:
    raw = copy.deepcopy(BOX)
    raw["box"].update(kw)
    return raw


@pytest.mark.parametrize("pasted", [
    f"blog.example.org ssh-ed25519 {KEY}",                # ssh-keyscan without the cut
    f"[blog.example.org]:2222 ssh-ed25519 {KEY}",         # known_hosts, custom port
    f"ssh-ed25519 {KEY} root@blog",                       # /etc/ssh/ssh_host_ed25519_key.pub
    f"  ssh-ed25519 {KEY}\n",                             # stray spaces and newline
    f"# blog.example.org:22 SSH-2.0-OpenSSH_9.6\nblog.example.org ssh-ed25519 {KEY}"])
def test_a_pasted_host_key_line_is_accepted_and_normalised(pasted: str) -> None:
    assert parse(with_box(hostKey=pasted)).box.host_key == HOST_KEY


def test_several_keys_pasted_say_which_line_to_keep() -> None:
    pasted = f"h ssh-rsa AAAAB3NzaC1yc2E\nh ssh-ed25519 {KEY}\n"
    with pytest.raises(ConfigError) as e:
        parse(with_box(hostKey=pasted))
    assert "holds several lines" in e.value.problems[0]
    assert "keep only the ssh-ed25519 one" in e.value.problems[0]


def test_the_rsa_messages_give_one_reason_and_one_fix() -> None:
    with pytest.raises(ConfigError) as rsa:
        parse(with_box(hostKey="ssh-rsa AAAAB3NzaC1yc2EAAAADAQAB"))
    ecdsa_key = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAA"
    with pytest.raises(ConfigError) as hardened:
        parse(with_box(hostKey=ecdsa_key, hardenSsh=True))
    for problem in (rsa.value.problems[0], hardened.value.problems[0]):
        assert "wpfleet cannot pin it (pulumi-command checks an RSA host key only with SHA-1" \
               in problem
        assert "ed25519 key" in problem
    assert "rsa-sha2" not in hardened.value.problems[0]  # no hint that an RSA pin would do


def test_localhost_says_to_write_local() -> None:
    with pytest.raises(ConfigError) as e:
        parse(with_box(host="localhost"))
    assert e.value.problems == [
        "wpfleet:box.host: 'localhost' would make pulumi log in to this machine over SSH; when "
        "pulumi runs on the box itself, write host: local (no SSH key or hostKey needed)"]


@pytest.mark.parametrize("value", [True, 60])
def test_cache_true_says_to_write_a_ttl(value: Any) -> None:
    raw = copy.deepcopy(BOX)
    raw["sites"][0]["cache"] = value
    with pytest.raises(ConfigError) as e:
        parse(raw)
    assert e.value.problems == [
        f"wpfleet:sites[0].cache: {value!r} must be a mapping: write cache: {{ttl: 60}} (seconds "
        "a page stays cached for anonymous visitors; see docs/cache.md)"]


def test_a_tab_in_the_stack_file_gets_a_hint(tmp_path: Path) -> None:
    stack = tmp_path / "Pulumi.t.yaml"
    stack.write_text("config:\n  wpfleet:box:\n\thost: local\n")
    done = subprocess.run([sys.executable, "-m", "components.render", str(stack),
                           str(tmp_path / "out")], capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "YAML indents with spaces, never tabs: line(s) 3 start with a tab" in done.stderr
