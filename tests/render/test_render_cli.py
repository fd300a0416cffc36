"""The render CLI on stack files: the shipped example renders; secrets are never needed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.harness import ROOT


def render(stack_file: Path, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "components.render", str(stack_file), str(out)],
                          cwd=ROOT, capture_output=True, text=True, check=False, timeout=60)


# what `pulumi config set --secret` adds to the example (render never decrypts it)
SECRETS = ("  wpfleet:sshPrivateKey:\n    secure: AAABAKeyCiphertext\n"
           "  wpfleet:duckdnsToken:\n    secure: AAABAExampleCiphertext\n")


def example(tmp_path: Path, extra: str = "") -> Path:
    """The shipped example stack with its secrets set, plus `extra` config lines."""
    path = tmp_path / "Pulumi.s.yaml"
    path.write_text((ROOT / "Pulumi.prod.yaml").read_text() + SECRETS + extra)
    return path


def test_example_stack_renders_every_file_and_command(tmp_path: Path) -> None:
    done = render(example(tmp_path), tmp_path / "out")
    tmp_path = tmp_path / "out"
    assert done.returncode == 0, done.stderr
    for rel in ("etc/apache2/sites-available/wpfleet-blog.conf",
                "etc/apache2/sites-available/wpfleet-api.conf",
                "etc/apache2/conf-available/wpfleet-acme.conf",
                "commands/box-preflight.sh", "commands/apache-conf-blog.sh",
                "commands/apache-conf-blog.delete.sh", "commands/cert-blog.sh",
                "commands/box-duckdns.sh", "commands/box-firewall.sh"):
        assert (tmp_path / rel).is_file(), rel
    for script in (tmp_path / "commands").iterdir():
        assert subprocess.run(["bash", "-n", str(script)], check=False).returncode == 0, script


def test_nested_secure_values_count_as_secrets(tmp_path: Path) -> None:
    stack_file = example(tmp_path, "  wpfleet:backendSecrets:\n    api:\n      API_KEY:\n"
                                   "        secure: AAABAMore\n")
    assert render(stack_file, tmp_path / "out").returncode == 0


def test_plaintext_secret_in_stack_file_is_refused(tmp_path: Path) -> None:
    text = (ROOT / "Pulumi.prod.yaml").read_text() + "  wpfleet:duckdnsToken: 0f3a9c11-plain\n"
    (tmp_path / "Pulumi.s.yaml").write_text(text)
    done = render(tmp_path / "Pulumi.s.yaml", tmp_path / "out")
    assert done.returncode == 1
    assert "wpfleet:duckdnsToken: is stored in plaintext" in done.stderr
    assert "Traceback" not in done.stderr and "0f3a9c11-plain" not in done.stderr
    assert not (tmp_path / "out").exists()
