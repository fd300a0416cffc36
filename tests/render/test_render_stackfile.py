"""The render CLI reads a stack file as `pulumi up` does: what `up` refuses or ignores, render
refuses with the file and line (issue 8, items 14 and 15)."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import pytest

from components.config import ConfigError, missing_secrets, parse
from tests.harness import BASE_CONFIG, ROOT, run_stack

# a small stack; tests insert or replace lines, so line numbers are computed, never guessed
STACK = """\
config:
  wpfleet:box:
    host: blog.example.org
    port: 2222
    hostKey: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAITestHostKey
    user: deploy
  wpfleet:sshPrivateKey:
    secure: AAABAKeyCiphertext
  wpfleet:acme:
    email: admin@example.org
  wpfleet:sites:
    - name: blog
      domain: blog.example.org
      port: 8082
      replicas: 2
    - name: notes
      domain: notes.example.org
      port: 8090
"""


def render(tmp_path: Path, text: str) -> subprocess.CompletedProcess[str]:
    stack_file = tmp_path / "Pulumi.t.yaml"
    stack_file.write_text(text)
    return subprocess.run([sys.executable, "-m", "components.render", str(stack_file),
                           str(tmp_path / "out")], cwd=ROOT, capture_output=True, text=True,
                          check=False, timeout=60)


def line_of(text: str, fragment: str, nth: int = 1) -> int:
    lines = [i for i, line in enumerate(text.splitlines(), 1) if fragment in line]
    return lines[nth - 1]


def refused(tmp_path: Path, text: str) -> str:
    done = render(tmp_path, text)
    assert done.returncode == 1, done.stdout
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()  # nothing written
    return done.stderr


def test_the_base_stack_renders(tmp_path: Path) -> None:
    done = render(tmp_path, STACK)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out/etc/apache2/sites-available/wpfleet-notes.conf").is_file()


def test_a_second_sites_block_is_refused_with_its_line(tmp_path: Path) -> None:
    # PyYAML alone kept only the second block: the blog site vanished without a word
    text = STACK + "  wpfleet:sites:\n    - name: shop\n      domain: shop.example.org\n" \
                   "      port: 8100\n"
    err = refused(tmp_path, text)
    second, first = line_of(text, "wpfleet:sites:", 2), line_of(text, "wpfleet:sites:")
    assert f"Pulumi.t.yaml:{second}: `wpfleet:sites` is already set at line {first}" in err


def test_a_doubled_port_and_a_second_config_block_are_refused(tmp_path: Path) -> None:
    text = STACK.replace("      port: 8090\n", "      port: 8090\n      port: 8092\n") \
        + "config:\n  wpfleet:firewall:\n    enabled: true\n"
    err = refused(tmp_path, text)
    assert f"Pulumi.t.yaml:{line_of(text, 'port: 8092')}: `port` is already set at line " \
           f"{line_of(text, 'port: 8090')}" in err
    assert f"Pulumi.t.yaml:{line_of(text, 'config:', 2)}: `config` is already set at line 1" in err


def test_a_setting_under_the_wrong_parent_is_refused_with_its_line(tmp_path: Path) -> None:
    # `user:` meant for wpfleet:box, dedented one level: Pulumi refuses a key without namespace
    text = STACK.replace("    user: deploy\n", "  user: deploy\n")
    err = refused(tmp_path, text)
    assert f"Pulumi.t.yaml:{line_of(text, 'user: deploy')}: `user` is not a `namespace:name` " \
           "key" in err and "indented under the wrong parent" in err
    # a block dedented out of config: entirely is never read by `up`
    text = STACK + "wpfleet:firewall:\n  enabled: true\n"
    err = refused(tmp_path, text)
    assert f"Pulumi.t.yaml:{line_of(text, 'wpfleet:firewall')}: `wpfleet:firewall` is outside " \
           "`config:`" in err


def test_a_setting_under_another_wpfleet_parent_names_its_line(tmp_path: Path) -> None:
    # `hostKey:` written under wpfleet:acme instead of wpfleet:box; a misspelled key and a bad
    # value point at their lines the same way
    text = STACK.replace("    email: admin@example.org\n",
                         "    email: admin@example.org\n    hostKey: ssh-ed25519 AAAA\n") \
        .replace("      replicas: 2\n", "      replica: 2\n").replace("port: 8090", "port: 99")
    err = refused(tmp_path, text)
    assert f"Pulumi.t.yaml:{line_of(text, 'hostKey:', nth=2)}: wpfleet:acme.hostKey: " \
           "'ssh-ed25519 AAAA' is not a known setting" in err
    assert f"Pulumi.t.yaml:{line_of(text, 'replica: 2')}: wpfleet:sites[0].replica: 2 is not " \
           "a known setting" in err
    assert f"Pulumi.t.yaml:{line_of(text, 'port: 99')}: wpfleet:sites[1].port: 99 must be a " \
           "port" in err


def test_yaml_1_1_booleans_are_strings_as_in_pulumi(tmp_path: Path) -> None:
    # Go's yaml.v3 (Pulumi) reads `yes` as the string "yes": `up` refuses it, so render must
    text = STACK.replace("      replicas: 2\n", "      replicas: 2\n      tls: yes\n")
    err = refused(tmp_path, text)
    assert f"Pulumi.t.yaml:{line_of(text, 'tls: yes')}: wpfleet:sites[0].tls: 'yes' must be a " \
           "boolean" in err


def test_misspelled_namespaces_are_refused(tmp_path: Path) -> None:
    for key in ("wpflet:firewall", "wpfleet-prod:firewall", "WPFleet:firewall", "mysite:sites"):
        text = STACK + f"  {key}:\n    enabled: true\n"
        err = refused(tmp_path, text)
        assert f"Pulumi.t.yaml:{line_of(text, key)}: `{key}` is not in the `wpfleet:` " \
               "namespace, so pulumi up ignores it" in err, key


def test_other_namespaces_are_kept_and_noted(tmp_path: Path) -> None:
    text = STACK + "  aws:region: eu-west-1\n  pulumi:tags:\n    team: web\n"
    done = render(tmp_path, text)
    assert done.returncode == 0, done.stderr
    assert f"note: {tmp_path}/Pulumi.t.yaml:{line_of(text, 'aws:region')}: `aws:region` " \
           "belongs to another namespace" in done.stderr
    assert "`pulumi:tags` belongs to another namespace" in done.stderr


def test_legacy_config_spelling_is_the_same_key(tmp_path: Path) -> None:
    text = STACK + "  wpfleet:config:firewall:\n    enabled: true\n"
    assert render(tmp_path, text).returncode == 0
    (tmp_path / "again").mkdir()
    err = refused(tmp_path / "again", text + "  wpfleet:firewall:\n    enabled: false\n")
    assert "repeats `wpfleet:firewall`" in err


# --- item 15: secrets, exactly as `up` checks them ------------------------------------------

def test_missing_secrets_are_refused_like_up(tmp_path: Path) -> None:
    text = STACK.replace("  wpfleet:sshPrivateKey:\n    secure: AAABAKeyCiphertext\n", "") \
        + "  wpfleet:duckdns:\n    domains: [meljuju]\n"
    err = refused(tmp_path, text)
    assert "wpfleet:sshPrivateKey: is required by this stack but not set" in err
    assert "wpfleet:duckdnsToken: is required by this stack but not set" in err


BACKEND = """\
  wpfleet:backends:
    - name: api
      domain: api.example.org
      image: node:22.11.0-alpine
      port: 8180
      secretEnv: [API_KEY, DB_URL]
"""


def test_backend_secrets_missing_show_the_path_form_as_up_does(tmp_path: Path) -> None:
    err = refused(tmp_path, STACK + BACKEND)
    hint = "pulumi config set --secret --path 'wpfleet:backendSecrets.api.API_KEY'"
    assert f"wpfleet:backendSecrets: is required by this stack but not set; set it with `{hint}`" \
        in err
    # the same rule, and the same sentence, stops `pulumi up` (config.load under mocks)
    config = copy.deepcopy(BASE_CONFIG)
    config["backends"] = [{"name": "api", "domain": "api.example.org",
                           "image": "node:22.11.0-alpine", "port": 8180,
                           "secretEnv": ["API_KEY", "DB_URL"]}]
    with pytest.raises(ConfigError) as up:
        run_stack(config)
    assert up.value.problems == missing_secrets(parse(copy.deepcopy(config)), {"sshPrivateKey"})
    assert hint in up.value.problems[0]


def test_backend_secrets_mixing_secure_and_plaintext_are_refused(tmp_path: Path) -> None:
    text = STACK + BACKEND + ("  wpfleet:backendSecrets:\n    api:\n      API_KEY:\n"
                              "        secure: AAABAMore\n      DB_URL: postgres://u:hunter2@db\n")
    err = refused(tmp_path, text)
    assert f"Pulumi.t.yaml:{line_of(text, 'DB_URL: postgres')}: wpfleet:backendSecrets.api." \
           "DB_URL: is stored in plaintext beside encrypted values; remove it and set it with " \
           "`pulumi config set --secret --path 'wpfleet:backendSecrets.api.DB_URL'`" in err
    assert "hunter2" not in err


def test_backend_secrets_lacking_a_listed_name_are_refused(tmp_path: Path) -> None:
    text = STACK + BACKEND + ("  wpfleet:backendSecrets:\n    api:\n      API_KEY:\n"
                              "        secure: AAABAMore\n")
    err = refused(tmp_path, text)
    assert f"Pulumi.t.yaml:{line_of(text, '    api:')}: wpfleet:backendSecrets.api: missing " \
           "DB_URL" in err
    assert "--path 'wpfleet:backendSecrets.api.DB_URL'" in err
    text = text.replace("        secure: AAABAMore\n",
                        "        secure: AAABAMore\n      DB_URL:\n        secure: AAABAX\n")
    assert render(tmp_path, text).returncode == 0


def test_plaintext_backend_secrets_hint_the_path_form(tmp_path: Path) -> None:
    text = STACK + BACKEND + "  wpfleet:backendSecrets:\n    api:\n      API_KEY: k\n" \
                             "      DB_URL: u\n"
    err = refused(tmp_path, text)
    assert "wpfleet:backendSecrets: is stored in plaintext; remove it and set it with " \
           "`pulumi config set --secret --path 'wpfleet:backendSecrets.BACKEND.NAME'`" in err
