"""The real Pulumi CLI on a copy of this project, run the way a user runs it.

`engine/build.sh` gives the directory of `pulumi`, the plugins and the Python language host;
`engine/env.sh` sets the no-cloud environment (file backend, passphrase, no downloads, plugins
only at the pinned versions). A `Project` is a copy of the program's files (Pulumi.yaml,
__main__.py, components/, requirements.txt) whose `venv` is the virtualenv running the tests, so
`pulumi preview`/`up` start the same __main__.py through the real language host.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
PROGRAM_FILES = ("Pulumi.yaml", "__main__.py", "components", "requirements.txt")
PASSPHRASE = "e2e passphrase, not a secret"


def build_engine(timeout: float = 3600) -> tuple[Path | None, str]:
    """(engine dir, "") or (None, the one line engine/build.sh printed about what is missing)."""
    done = subprocess.run(["bash", str(ROOT / "engine" / "build.sh")], capture_output=True,
                          text=True, timeout=timeout, check=False)
    last = (done.stdout.strip().splitlines() or [""])[-1]
    if done.returncode == 3:
        return None, last
    if done.returncode != 0:
        raise AssertionError(f"engine/build.sh failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return Path(last), ""


def engine_env(engine: Path, home: Path) -> dict[str, str]:
    """The environment `. engine/env.sh ENGINE` makes, with PULUMI_HOME and state under HOME."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("PULUMI_")}
    base |= {"PULUMI_HOME": str(home / "pulumi-home"), "WPFLEET_STATE_DIR": str(home / "state"),
             "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE}
    out = subprocess.run(["bash", "-c", '. "$0" "$1" && env -0', str(ROOT / "engine" / "env.sh"),
                          str(engine)], env=base, capture_output=True, check=True, timeout=120)
    return dict(item.split("=", 1) for item in out.stdout.decode().split("\0") if "=" in item)


class PulumiError(AssertionError):
    pass


class Project:
    """A copy of the program in DIR with one stack; every method runs the real `pulumi`."""

    def __init__(self, directory: Path, env: dict[str, str], stack: str) -> None:
        self.dir = directory
        self.env = env
        self.stack = stack
        self.log: list[str] = []  # every command's output, for the secret checks

    @classmethod
    def copy_of_program(cls, directory: Path, env: dict[str, str], stack: str) -> Project:
        directory.mkdir(parents=True, exist_ok=True)
        for name in PROGRAM_FILES:
            src = ROOT / name
            if src.is_dir():
                shutil.copytree(src, directory / name, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy2(src, directory / name)
        # Pulumi.yaml's `virtualenv: venv`: the one running these tests (requirements installed)
        (directory / "venv").symlink_to(Path(sys.prefix))
        return cls(directory, env, stack)

    @property
    def stack_file(self) -> Path:
        return self.dir / f"Pulumi.{self.stack}.yaml"

    def pulumi(self, *args: str, check: bool = True, timeout: float = 1800,
               stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(["pulumi", *args, "--non-interactive", "--stack", self.stack]
                              if args[0] not in ("stack", "version") else ["pulumi", *args],
                              cwd=self.dir, env=self.env, capture_output=True, text=True,
                              timeout=timeout, check=False, input=stdin)
        if "--show-secrets" not in args:  # what the secret checks scan: the rest must not leak
            self.log.append(f"$ pulumi {' '.join(args)}\n{done.stdout}\n{done.stderr}")
        if check and done.returncode != 0:
            raise PulumiError(f"pulumi {' '.join(args)} exited {done.returncode}\n"
                              f"--- stdout ---\n{done.stdout[-12000:]}\n--- stderr ---\n{done.stderr[-4000:]}")
        return done

    def init(self, config: dict[str, Any]) -> None:
        """`pulumi stack init`, then the stack file holds CONFIG (plain values only)."""
        self.pulumi("stack", "init", self.stack)
        self.write_config(config)

    def write_config(self, config: dict[str, Any]) -> None:
        """Replace the plain config, keeping every `secure:` value `config set --secret` wrote."""
        current = yaml.safe_load(self.stack_file.read_text()) if self.stack_file.exists() else {}
        current = current or {}
        kept = {k: v for k, v in (current.get("config") or {}).items()
                if isinstance(v, dict) and "secure" in v}
        current["config"] = {**config, **kept}
        self.stack_file.write_text(yaml.safe_dump(current, sort_keys=False))

    def set_secret(self, key: str, value: str, path: bool = False) -> None:
        """`pulumi config set --secret KEY < value`: the value never reaches an argv."""
        self.pulumi("config", "set", "--secret", *(["--path"] if path else []), key, stdin=value)

    def preview(self, *extra: str) -> dict[str, Any]:
        """`pulumi preview --json`: the engine's steps, parsed."""
        done = self.pulumi("preview", "--json", *extra)
        return json.loads(done.stdout)

    def up(self, *extra: str) -> subprocess.CompletedProcess[str]:
        return self.pulumi("up", "--yes", "--skip-preview", *extra)

    def refresh(self, *extra: str) -> subprocess.CompletedProcess[str]:
        return self.pulumi("refresh", "--yes", "--skip-preview", *extra)

    def destroy(self, *extra: str) -> subprocess.CompletedProcess[str]:
        return self.pulumi("destroy", "--yes", "--skip-preview", *extra)

    def state(self) -> dict[str, Any]:
        return json.loads(self.pulumi("stack", "export", "--stack", self.stack).stdout)

    def outputs(self, show_secrets: bool = False) -> dict[str, Any]:
        args = ["stack", "output", "--json", "--stack", self.stack]
        return json.loads(self.pulumi(*args, *(["--show-secrets"] if show_secrets else [])).stdout)


def steps_by_op(preview: dict[str, Any]) -> dict[str, list[str]]:
    """{op: sorted [resource name]} from `preview --json` (same-op steps counted once)."""
    ops: dict[str, list[str]] = {}
    for step in preview.get("steps", []):
        name = step["urn"].rsplit("::", 1)[-1]
        ops.setdefault(step["op"], []).append(name)
    return {op: sorted(names) for op, names in ops.items()}


UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # the engine's "known after apply" in JSON


def input_differences(mock: Any, real: Any, path: str) -> list[str]:
    """Where the mocks' recorded inputs differ from the real engine's, for values both know.

    The mock plan shows secrets as <secret>/<...> placeholders and the engine as "[secret]";
    a value either side does not know yet (UNKNOWN, a placeholder) is not compared.
    """
    if real == UNKNOWN or real == "[secret]" or (isinstance(mock, str) and mock.startswith("<")):
        return []
    if isinstance(mock, dict) and isinstance(real, dict):
        out = []
        for key in sorted(set(mock) | set(real)):
            if key not in mock:
                continue  # the engine adds provider defaults (e.g. a provider's version)
            if key not in real:
                out.append(f"{path}.{key}: mock {mock[key]!r}, real absent")
            else:
                out += input_differences(mock[key], real[key], f"{path}.{key}")
        return out
    if isinstance(mock, list) and isinstance(real, list) and len(mock) == len(real):
        return [d for i, (m, r) in enumerate(zip(mock, real, strict=True)) for d in
                input_differences(m, r, f"{path}[{i}]")]
    return [] if mock == real else [f"{path}: mock {mock!r}, real {real!r}"]
