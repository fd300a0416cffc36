"""The render CLI's whole output, byte for byte, against a recorded (golden) render.

Three stacks: the shipped example (Pulumi.prod.yaml with its secrets set as `secure:`
placeholders), a stack of three boxes (`wpfleet:boxes`) and a one-box stack with most optional
settings on. Each renders with `python -m components.render STACK OUT` (box files, command
scripts and the plan/ of every resource `up` would register) and must equal the files under
tests/fixtures/golden_render/<stack>/: same paths, same bytes, same executable bits. A
restructuring of the code must leave this untouched; a deliberate change of what lands on the
box re-records it with WPFLEET_UPDATE_GOLDEN=1 (then review `git diff` of the fixtures).
"""

from __future__ import annotations

import difflib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = next(p for p in Path(__file__).resolve().parents if (p / "Pulumi.yaml").is_file())
GOLDEN = ROOT / "tests" / "fixtures" / "golden_render"
UPDATE = "WPFLEET_UPDATE_GOLDEN"
# what `pulumi config set --secret` adds to the example (render never decrypts it)
EXAMPLE_SECRETS = ("  wpfleet:sshPrivateKey:\n    secure: AAABAKeyCiphertext\n"
                   "  wpfleet:duckdnsToken:\n    secure: AAABAExampleCiphertext\n")
STACKS = ("prod", "fleet", "features")


def stack_file(name: str, tmp_path: Path) -> Path:
    """Pulumi.<name>.yaml: the stack name (from the file name) is part of every URN."""
    path = tmp_path / f"Pulumi.{name}.yaml"
    if name == "prod":
        path.write_text((ROOT / "Pulumi.prod.yaml").read_text() + EXAMPLE_SECRETS)
    else:
        shutil.copy(GOLDEN / "stacks" / path.name, path)
    return path


def tree(root: Path) -> dict[str, tuple[bytes, bool]]:
    """Relative path -> (content, executable) of every file under root."""
    return {p.relative_to(root).as_posix(): (p.read_bytes(), os.access(p, os.X_OK))
            for p in sorted(root.rglob("*")) if p.is_file()}


def differences(new: dict[str, tuple[bytes, bool]], old: dict[str, tuple[bytes, bool]]) -> list[str]:
    out = [f"new file {rel}" for rel in sorted(new.keys() - old.keys())]
    out += [f"missing file {rel}" for rel in sorted(old.keys() - new.keys())]
    for rel in sorted(new.keys() & old.keys()):
        (text, exe), (was, was_exe) = new[rel], old[rel]
        if exe != was_exe:
            out.append(f"{rel}: executable bit {was_exe} -> {exe}")
        if text != was:
            diff = difflib.unified_diff(was.decode().splitlines(), text.decode().splitlines(),
                                        f"golden/{rel}", f"render/{rel}", lineterm="", n=1)
            out.append("\n".join(list(diff)[:40]))
    return out


@pytest.mark.parametrize("name", STACKS)
def test_render_equals_the_golden_render(name: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "components.render", str(stack_file(name, tmp_path)),
                           str(out)], cwd=ROOT, capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 0, done.stderr
    golden = GOLDEN / name
    if os.environ.get(UPDATE) == "1":
        shutil.rmtree(golden, ignore_errors=True)
        shutil.copytree(out, golden)
        return
    problems = differences(tree(out), tree(golden))
    assert not problems, (
        f"the render of the {name} stack differs from tests/fixtures/golden_render/{name}/ "
        f"({len(problems)} difference(s)). If the change of what lands on the box is deliberate, "
        f"re-record with `{UPDATE}=1 python -m pytest {Path(__file__).relative_to(ROOT)}` and "
        "review `git diff tests/fixtures/golden_render`:\n" + "\n".join(problems[:10]))
