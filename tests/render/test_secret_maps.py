"""Map-shaped secrets follow one rule, driven by `MAP_SECRET_KEYS`: the render refuses a
plaintext entry beside encrypted ones at that entry's line, and `up` and the render give the
same `--path` hint for a map stored in plaintext."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi
import pytest

from components.backup import stdin_text
from components.config import MAP_SECRET_KEYS, ConfigError, SiteConfig, SmtpConfig, parse
from components.config import fleet as config_fleet
from components.wp_tools import pick_smtp_password
from tests.render.test_render_stackfile import STACK, line_of, refused

HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAITestHostKey"
FLEET = f"""\
config:
  wpfleet:boxes:
    default:
      host: box1.example.org
      hostKey: {HOST_KEY}
    web2:
      host: box2.example.org
      hostKey: {HOST_KEY}
  wpfleet:acme:
    email: admin@example.org
  wpfleet:sites:
    - name: blog
      domain: blog.example.org
      port: 8082
      box: default
    - name: wiki
      domain: wiki.example.org
      port: 8082
      box: web2
"""
SMTP = """\
      smtp:
        host: smtp.example.org
        user: blog@example.org
        from: blog@example.org
"""
# per key: (stack, the key's map with one encrypted and one plaintext entry, the plain entry)
CASES: dict[str, tuple[str, dict[str, Any], str]] = {
    "backendSecrets": (
        STACK + "  wpfleet:backends:\n    - name: api\n      domain: api.example.org\n"
                "      image: node:22.11.0-alpine\n      port: 8180\n"
                "      secretEnv: [API_KEY, DB_URL]\n",
        {"api": {"API_KEY": "SECURE", "DB_URL": "postgres://u:hunter2@db"}}, "api.DB_URL"),
    "adminPasswords": (STACK, {"blog": "SECURE", "notes": "hunter2-admin"}, "notes"),
    "backupEnv": (
        STACK + "  wpfleet:backup:\n    repository: s3:s3.amazonaws.com/bucket/wp\n"
                "  wpfleet:resticPassword:\n    secure: AAABARestic\n",
        {"AWS_ACCESS_KEY_ID": "SECURE", "AWS_SECRET_ACCESS_KEY": "hunter2-s3"},
        "AWS_SECRET_ACCESS_KEY"),
    "smtpPassword": (STACK.replace("      replicas: 2\n", "      replicas: 2\n" + SMTP),
                     {"blog": "SECURE", "notes": "hunter2-smtp"}, "notes"),
    "sshPrivateKeys": (FLEET, {"default": "SECURE", "web2": "hunter2-key"}, "web2"),
    "resticPasswords": (FLEET + "  wpfleet:backup:\n    repository: /srv/restic\n"
                        "  wpfleet:sshPrivateKey:\n    secure: AAABAKey\n",
                        {"default": "SECURE", "web2": "hunter2-restic"}, "web2"),
}


def test_every_map_secret_key_has_a_case() -> None:
    assert set(CASES) == set(MAP_SECRET_KEYS)


def yaml_map(key: str, value: dict[str, Any], indent: int = 4) -> str:
    out = "" if indent > 4 else f"  wpfleet:{key}:\n"
    for k, v in value.items():
        if isinstance(v, dict):
            out += f"{' ' * indent}{k}:\n" + yaml_map(key, v, indent + 2)
        elif v == "SECURE":
            out += f"{' ' * indent}{k}:\n{' ' * (indent + 2)}secure: AAABACipher{k}\n"
        else:
            out += f"{' ' * indent}{k}: {v}\n"
    return out


@pytest.mark.parametrize("key", sorted(CASES))
def test_a_plaintext_entry_beside_encrypted_ones_is_refused_at_its_line(
        tmp_path: Path, key: str) -> None:
    stack, value, entry = CASES[key]
    text = stack + yaml_map(key, value)
    err = refused(tmp_path, text)
    leaf = entry.rsplit(".", 1)[-1]
    source = " < KEY_FILE" if key == "sshPrivateKeys" else ""
    assert f"Pulumi.t.yaml:{line_of(text, f' {leaf}: ')}: wpfleet:{key}.{entry}: is stored in " \
           f"plaintext beside encrypted values; remove it and set it with `pulumi config set " \
           f"--secret --path 'wpfleet:{key}.{entry}'{source}`" in err
    assert "hunter2" not in err


@pytest.mark.parametrize("key", sorted(CASES))
def test_a_plaintext_map_gets_the_same_path_hint_from_up_and_render(
        tmp_path: Path, key: str) -> None:
    stack, value, _ = CASES[key]
    plain = {k: ({n: "x" for n in v} if isinstance(v, dict) else "x") for k, v in value.items()}
    err = refused(tmp_path, stack + yaml_map(key, plain))
    source = " < KEY_FILE" if key == "sshPrivateKeys" else ""
    entry = "api.API_KEY" if key == "backendSecrets" else MAP_SECRET_KEYS[key]
    hint = f"pulumi config set --secret --path 'wpfleet:{key}.{entry}'{source}"
    assert f"wpfleet:{key}: is stored in plaintext; remove it and set it with `" in err
    assert hint in err or hint.replace("api.API_KEY", "BACKEND.NAME") in err
    # `up` (config/parser.py's _check_secrets, key not among the secret keys) says the same
    with pytest.raises(ConfigError) as up:
        raw = {"box": {"host": "local"}, "acme": {"email": "a@example.org"}, key: plain}
        (config_fleet.parse if key in ("sshPrivateKeys", "resticPasswords") else parse)(raw, set())
    said = [p for p in up.value.problems if p.startswith(f"wpfleet:{key}: is stored in plaintext")]
    assert said and (hint in said[0] or hint.replace("api.API_KEY", "BACKEND.NAME") in said[0])


def test_up_time_errors_of_map_secrets_use_the_same_hint() -> None:
    """Checks that only run once the secret is decrypted (`up`) word their hint the same way."""
    site = SiteConfig(name="blog", domain="blog.example.org", port=8082,
                      smtp=SmtpConfig(host="smtp.example.org", user="u",
                                      from_address="u@example.org"))
    with pytest.raises(pulumi.RunError) as smtp:
        pick_smtp_password(site, {"notes": "x"})
    assert "`pulumi config set --secret --path 'wpfleet:smtpPassword.blog'`" in str(smtp.value)
    with pytest.raises(pulumi.RunError) as env:
        stdin_text("restic-pw", ["not", "a", "map"])
    assert "`pulumi config set --secret --path 'wpfleet:backupEnv.AWS_ACCESS_KEY_ID'`" \
        in str(env.value)
