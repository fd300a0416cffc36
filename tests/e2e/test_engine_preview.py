"""`pulumi preview` of the shipped example stack through the real engine, CLI and language host.

No box is contacted: a preview only plans. What the mocks recorded (the render's plan) must be
exactly what the engine plans, with the same inputs wherever both know them, and no secret may
show in anything pulumi prints or stores.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.e2e.pulumi_cli import ROOT, Project, input_differences, steps_by_op


def new_key(directory: Path) -> str:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "e2e",
                    "-f", str(directory / "id")], check=True, timeout=60)
    return (directory / "id").read_text()


def mock_plan(stack_file: Path, out: Path) -> list[dict[str, Any]]:
    """Every resource the program registers under Pulumi mocks (python -m components.render)."""
    subprocess.run([sys.executable, "-m", "components.render", str(stack_file), str(out)],
                   cwd=ROOT, check=True, capture_output=True, timeout=300)
    return yaml.safe_load((out / "plan" / "resources.yaml").read_text())


def test_preview_of_the_example_stack(pulumi_env: dict[str, str], tmp_path: Path) -> None:
    project = Project.copy_of_program(tmp_path / "project", pulumi_env, stack="preview")
    project.init(yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())["config"])
    key = new_key(tmp_path)
    token = f"e2e-duckdns-{secrets.token_hex(12)}"
    project.set_secret("wpfleet:sshPrivateKey", key)
    project.set_secret("wpfleet:duckdnsToken", token)

    preview = project.preview()  # exits 0 (else PulumiError)

    ops = steps_by_op(preview)
    assert set(ops) == {"create"}, ops
    real = {s["urn"].rsplit("::", 1)[-1]: s["newState"] for s in preview["steps"]}
    plan = mock_plan(project.stack_file, tmp_path / "render")
    assert {(r["type"], r["name"]) for r in plan} | {("pulumi:pulumi:Stack", "wpfleet-preview")} \
        == {(s["type"], name) for name, s in real.items()}
    assert len(real) > 50  # the example: 2 sites, a backend, 3 certificates, the box basics
    differences = [d for r in plan for d in
                   input_differences(r.get("inputs", {}), real[r["name"]].get("inputs", {}),
                                     r["name"])]
    assert differences == []

    key_body = "".join(key.strip().splitlines()[1:-1])
    printed = "\n".join(project.log) + project.stack_file.read_text()
    for secret in (token, key_body, key_body[:40]):
        assert secret not in printed
