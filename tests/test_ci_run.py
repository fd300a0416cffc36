"""`.ci/run` on a fresh Debian 12: pip goes into a virtualenv, never into Debian's own python3.

Debian marks its python3 EXTERNALLY-MANAGED (PEP 668): `python3 -m pip install` stops there.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CI = (ROOT / ".ci" / "run").read_text()


def commands() -> list[str]:
    return [ln.strip() for ln in CI.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]


def test_python_tools_run_from_a_virtualenv() -> None:
    lines = commands()
    venv = next(i for i, ln in enumerate(lines) if "python3 -m venv .venv" in ln)
    activate = next(i for i, ln in enumerate(lines) if 'PATH="$PWD/.venv/bin:$PATH"' in ln)
    assert venv < activate
    for tool in ("pip install", "ruff check", "mypy", "pytest"):
        users = [i for i, ln in enumerate(lines) if f"-m {tool}" in ln]
        assert users, tool
        assert all(i > activate for i in users), f"{tool} runs before the venv is active"
    # nothing after the venv falls back to the system interpreter
    assert not [ln for ln in lines[activate:] if re.search(r"\bpython3 -m (pip|ruff|mypy|pytest)", ln)]


def test_venv_package_is_installed_by_ci() -> None:
    listed = " ".join(re.sub(r"#.*", "", p.read_text()) for p in (ROOT / ".ci" / "packages.d").glob("*.txt"))
    assert "python3-venv" in listed.split()


def test_debian_python_makes_a_venv_that_accepts_pip(tmp_path: Path) -> None:
    # what .ci/run does first, for real (python3-venv from apt); pip there is not refused
    subprocess.run([sys.executable, "-m", "venv", str(tmp_path / ".venv")], check=True, timeout=120)
    py = tmp_path / ".venv" / "bin" / "python"
    out = subprocess.run([str(py), "-m", "pip", "install", "--dry-run", "--no-index",
                          "--disable-pip-version-check", "pip"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "externally-managed-environment" not in out.stderr


def test_readme_test_command_is_ci_run() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "```sh\nbash .ci/run\n```" in readme
