"""`backend-secrets-<backend>` run for real under a scratch root: files, modes, owners,
idempotence, removal, refusals, and what it prints (never a value). A container reading the
file as a non-root user: tests/integration/test_backend_secret_files_docker.py."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from components.config import BackendConfig, parse
from components.render import plan
from components.render.box import backend_secrets

KEY, TOKEN = "k3y-!#%()*+,-./:;<=>?@[]^_{|}~ 'q\"= x", "t0ken-0123456789"


def backend(*files: str) -> BackendConfig:
    return parse({"box": {"host": "local"}, "acme": {"email": "a@example.org"}, "sites": [],
                  "backends": [{"name": "api", "domain": "api.example.org", "image": "me/api:1.0",
                                "port": 8180, "secretFiles": list(files)}]}).backends[0]


def run(script: str, root: Path, text: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", script], input=text, capture_output=True, text=True,
                          timeout=60, env={**os.environ, "WPFLEET_ROOT": str(root)})


def tree(root: Path) -> dict[str, tuple[str, int, int, str]]:
    top = root / backend_secrets.TOP.lstrip("/")
    return {str(p.relative_to(root)): (oct(p.stat().st_mode & 0o7777), p.stat().st_uid,
                                       p.stat().st_gid, p.read_text() if p.is_file() else "")
            for p in sorted([top, *top.rglob("*")])}


@pytest.fixture
def root_only() -> None:
    if os.geteuid() != 0:
        pytest.skip("the script sets owners (root): run as root")


def test_writes_each_file_once_readable_in_the_container_hidden_on_the_box(
        tmp_path: Path, root_only: None) -> None:
    b = backend("API_KEY", "TOKEN")
    cmd = backend_secrets.secrets_command(b)
    text = backend_secrets.stdin_text(b, {"API_KEY": KEY, "TOKEN": TOKEN})
    first = run(cmd.create, tmp_path, text)
    assert first.returncode == 0, first.stderr
    top, d = "etc/wpfleet/backend-secrets", "etc/wpfleet/backend-secrets/api"
    assert tree(tmp_path) == {top: ("0o700", 0, 0, ""), d: ("0o755", 0, 0, ""),
                              f"{d}/API_KEY": ("0o444", 0, 0, KEY),
                              f"{d}/TOKEN": ("0o444", 0, 0, TOKEN)}
    assert first.stdout.split("\n")[:2] == ["backend-secrets-api: wrote API_KEY",
                                            "backend-secrets-api: wrote TOKEN"]
    assert KEY not in first.stdout + first.stderr and TOKEN not in first.stdout + first.stderr
    again = run(cmd.update or cmd.create, tmp_path, text)
    assert again.returncode == 0 and "up to date; no change" in again.stdout
    # a rotated value is a rename inside the mounted directory (a new inode: the container sees it)
    inode = (tmp_path / d / "API_KEY").stat().st_ino
    rotated = run(cmd.update or cmd.create, tmp_path,
                  backend_secrets.stdin_text(b, {"API_KEY": "new-key-value", "TOKEN": TOKEN}))
    assert rotated.stdout.strip() == "backend-secrets-api: wrote API_KEY"
    assert (tmp_path / d / "API_KEY").read_text() == "new-key-value"
    assert (tmp_path / d / "API_KEY").stat().st_ino != inode
    # a name no longer listed is removed; the delete removes the backend's directory
    fewer = backend("API_KEY")
    gone = run(backend_secrets.secrets_command(fewer).create, tmp_path,
               backend_secrets.stdin_text(fewer, {"API_KEY": "new-key-value"}))
    assert "removed TOKEN (no longer in secretFiles)" in gone.stdout
    assert sorted(p.name for p in (tmp_path / d).iterdir()) == ["API_KEY"]
    assert cmd.delete is not None
    deleted = run(cmd.delete, tmp_path, "")
    assert deleted.returncode == 0 and not (tmp_path / d).exists()


@pytest.mark.parametrize("text, says", [
    ("API_KEY=x\n", "no TOKEN on stdin"),
    ("API_KEY=x\nTOKEN=y\nOTHER=z\n", "not one of this backend's secretFiles"),
    ("API_KEY=x\nTOKEN=\n", "TOKEN is empty"),
    ("API_KEY=x\nTOKEN\n", "not one of this backend's secretFiles"),
])
def test_wrong_stdin_writes_nothing_and_shows_no_value(
        tmp_path: Path, root_only: None, text: str, says: str) -> None:
    done = run(backend_secrets.secrets_command(backend("API_KEY", "TOKEN")).create, tmp_path, text)
    assert done.returncode == 1 and says in done.stderr
    assert not (tmp_path / "etc").exists()
    assert "=x" not in done.stderr and "=z" not in done.stderr


def test_stdin_text_refuses_a_multi_line_or_empty_value_naming_the_secret() -> None:
    b = backend("API_KEY")
    with pytest.raises(ValueError, match=r"wpfleet:backendSecrets.api.API_KEY: is empty or not one line"):
        backend_secrets.stdin_text(b, {"API_KEY": "a\nb"})
    with pytest.raises(ValueError, match="API_KEY: is empty"):
        backend_secrets.stdin_text(b, {})


def test_the_render_plan_has_the_command_only_for_backends_with_secret_files() -> None:
    stack = parse({"box": {"host": "local"}, "acme": {"email": "a@example.org"}, "sites": [],
                   "backends": [
                       {"name": "api", "domain": "api.example.org", "image": "me/api:1.0",
                        "port": 8180, "secretFiles": ["API_KEY"]},
                       {"name": "old", "domain": "old.example.org", "image": "me/old:1.0",
                        "port": 8181, "secretEnv": ["API_KEY"]}]})
    names = [c.name for c in plan(stack).commands]
    assert "backend-secrets-api" in names and "backend-secrets-old" not in names
