"""Secrets never on a command line, in the docs or in any hint wpfleet prints (issue 22 item 4).

A value typed as an argument stays in the shell history and shows in `ps`. Every
`pulumi config set --secret` the README, docs/, the example stack or a message shows gives only
the key: pulumi then asks for the value without echoing it, or reads it from stdin (`< FILE`,
`cmd | pulumi config set ...`; checked in pulumi 3.276.0's config set). Other tools' password
options (`--user_pass=...`, `--admin_password=...`) may not carry a value either.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest

from components.config import (
    MAP_SECRET_KEYS,
    SECRET_KEYS,
    ConfigError,
    parse,
    set_path_hint,
    set_secret_hint,
)
from components.config.secrets import missing_secrets, secret_env_values
from components.render.backup import restic
from components.render.box import duckdns

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", ROOT / "Pulumi.prod.yaml", *sorted((ROOT / "docs").glob("*.md"))]
# `pulumi config set` up to the end of its command (a backtick, a newline, ; && ) or a comment:
# `# ...` or ` (...)`)
CONFIG_SET = re.compile(r"pulumi config set([^`\n;)#]*?)(?=`|\n|;|&&|\)|\s#|\s\(|$)")
FLAG_WITH_VALUE = {"--stack", "-s", "--config-file", "--cwd", "-C"}
# another tool's password/token option given a value: --user_pass=x, --admin_password x
PASSWORD_OPTION = re.compile(r"--[a-z_-]*(?:pass|token)[a-z_-]*(?:=|\s+)(?!-)['\"]?\w")


def value_arguments(command: str) -> list[str]:
    """The arguments after the key of one `pulumi config set` command ([] when none)."""
    try:
        words = shlex.split(command)
    except ValueError:
        words = command.split()
    args, skip = [], False
    for w in words:
        if skip:
            skip = False
        elif w in FLAG_WITH_VALUE:
            skip = True
        elif not w.startswith("-"):
            args.append(w)
    return args[1:]  # args[0] is the key


def problems(text: str, where: str) -> list[str]:
    out = []
    for m in CONFIG_SET.finditer(text):
        rest = m.group(1)
        if "--secret" not in rest:
            continue
        before_redirect = rest.split("<", 1)[0]
        extra = value_arguments(before_redirect)
        if extra or "$(" in rest:
            out.append(f"{where}: `pulumi config set{rest.rstrip()}` puts a value on the command line")
    out += [f"{where}: {m.group(0)!r} gives a password option a value"
            for m in PASSWORD_OPTION.finditer(text) if "--prompt" not in m.group(0)]
    return out


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_docs_never_put_a_secret_on_a_command_line(path: Path) -> None:
    assert problems(path.read_text(), path.name) == []


def hints() -> list[str]:
    """Every command wpfleet's messages suggest for a secret."""
    out = [set_secret_hint(None, k) for k in SECRET_KEYS]
    out += [set_path_hint(f"wpfleet:{k}.{entry}") for k, entry in MAP_SECRET_KEYS.items()]
    needs_all: dict[str, Any] = {
        "box": {"host": "blog.example.org", "hostKey": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIT"},
        "acme": {"email": "a@example.org"}, "duckdns": {"domains": ["x"]},
        "backup": {"repository": None} | {"schedule": "daily"},
        "sites": [{"name": "blog", "domain": "blog.example.org", "port": 8082,
                   "smtp": {"host": "smtp.example.org", "user": "u", "from": "a@example.org"}}],
        "backends": [{"name": "api", "domain": "api.example.org", "image": "node:22.1.0",
                      "port": 8180, "secretEnv": ["API_KEY"]}]}
    needs_all["backup"].pop("repository")
    stack = parse(needs_all)
    out += missing_secrets(stack, set())
    with pytest.raises(Exception) as e:
        secret_env_values(stack.backends[0], {})
    out.append(str(e.value))
    with pytest.raises(ConfigError) as c:
        parse({**needs_all, "backup": {"repository": "rest:https://u:p@host/"}})
    out += c.value.problems
    duck = duckdns.duckdns(stack)
    assert duck is not None and stack.backup is not None
    out += [duck.create, restic.install(stack.backup).create]  # box scripts' own hints
    return out


def test_every_secret_hint_keeps_the_value_off_the_command_line() -> None:
    found = hints()
    assert sum("pulumi config set --secret" in h for h in found) >= len(SECRET_KEYS) + 8
    assert [p for h in found for p in problems(h, "hint")] == []


@pytest.mark.parametrize("bad", [
    "pulumi config set --secret wpfleet:duckdnsToken 0f3a9c11",
    "`pulumi config set --secret --path 'wpfleet:smtpPassword.blog' VALUE`",
    'pulumi config set --secret wpfleet:resticPassword "$(openssl rand -base64 32)"',
    "sudo wpfleet-wp blog user update admin --user_pass='new password'",
    "wp core install --admin_password=hunter2"])
def test_the_checker_catches_a_value_on_the_command_line(bad: str) -> None:
    assert problems(bad, "x")


@pytest.mark.parametrize("good", [
    "pulumi config set --secret wpfleet:duckdnsToken\n",
    "`pulumi config set --secret --path 'wpfleet:sshPrivateKeys.web2' < KEY_FILE`",
    "openssl rand -base64 32 | pulumi config set --secret wpfleet:resticPassword   # piped",
    "pulumi config set wpfleet:box.port 2222",  # not a secret
    "wp user update editor --prompt=user_pass"])
def test_the_checker_accepts_the_safe_forms(good: str) -> None:
    assert problems(good, "x") == []
