"""The resources `pulumi up` would create, recorded by running the real program under mocks.

The render CLI cannot run containers, but it can show them: it runs `__main__.py` itself under
Pulumi's mocks (no engine, no provider, no network) and records every RegisterResource request,
so the plan can never drift from what the components create. No real secret exists here: every
secret config value and every generated password is a run of `*` (the right length, so code that
slices a salt block still works), shown as `<secret>`. The run happens in a throwaway working and
home directory (also for components/box.py, which otherwise writes to the passwd entry's home),
because the program writes the SSH key and known_hosts files for the Docker provider
(`.wpfleet/`), and those of the last real `up` must stay untouched.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import runpy
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from google.protobuf import json_format
from pulumi.runtime import mocks, rpc, settings
from pulumi.runtime.stack import run_pulumi_func

from components.config import BACKEND_SECRETS_KEY, NAMESPACE, StackConfig
from components.render.stackfile import StackFile, is_secure

ROOT = Path(__file__).resolve().parents[3]
MASKED = "*" * 16  # what the program gets for each secret config value
_SECRET_RUN = re.compile(r"\*{8,}")
_SIG = rpc._special_sig_key


@dataclass
class Resource:
    type: str
    name: str
    urn: str
    parent: str  # parent URN ("" or the stack's for top-level resources)
    provider: str
    depends_on: list[str]
    inputs: dict[str, Any]  # secrets unwrapped (they are masked placeholders)
    secret_inputs: list[str]
    outputs: dict[str, Any] = field(default_factory=dict)


class _Cloud(pulumi.runtime.Mocks):
    """The computed outputs the program reads; secrets are runs of `*`."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        state = dict(args.inputs)
        if args.typ == "random:index/randomPassword:RandomPassword":
            state["result"] = "*" * int(args.inputs.get("length", 16))
        elif args.typ == "docker:index/remoteImage:RemoteImage":
            state["imageId"] = f"<image id of {args.inputs['name']}>"
            state["repoDigest"] = f"<digest of {args.inputs['name']}>"
        elif args.typ.startswith("command:"):
            state.update(stdout="", stderr="")
        elif args.typ == "docker:index/network:Network":
            state["name"] = args.inputs.get("name", args.name)
        return f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list | None]:
        return {}, None


def unwrap_secrets(value: Any) -> Any:
    """Registered inputs (as sent to the monitor) with every secret replaced by its value."""
    if isinstance(value, dict):
        if value.get(_SIG) == rpc._special_secret_sig:
            return unwrap_secrets(value.get("value"))
        return {k: unwrap_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap_secrets(v) for v in value]
    return value


def secret_input_names(raw: dict[str, Any]) -> list[str]:
    """The top-level inputs sent as secrets."""
    return sorted(k for k, v in raw.items()
                  if isinstance(v, dict) and v.get(_SIG) == rpc._special_secret_sig)


class EngineMonitor(mocks.MockMonitor):
    """A MockMonitor that marks additionalSecretOutputs secret, as the engine does (the stock
    mock ignores them). Also the base of the tests' recording monitor (tests/harness.py)."""

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC name)
        response = super().RegisterResource(request)
        self.registered(request, response)
        secret_outs = list(request.additionalSecretOutputs)
        if secret_outs and response.object is not None:
            state = rpc.deserialize_properties(response.object)
            for key in secret_outs:
                if key in state:
                    state[key] = rpc.wrap_rpc_secret(state[key])
            response.object.CopyFrom(mocks._sync_await(rpc.serialize_properties(state, {})))
        return response

    def registered(self, request: Any, response: Any) -> None:
        """Called with the mock's answer before its secret outputs are marked; no-op here."""


class _Monitor(EngineMonitor):
    """Records every registration."""

    def __init__(self, cloud: _Cloud) -> None:
        super().__init__(cloud)
        self.recorded: list[Resource] = []

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC name)
        raw = json_format.MessageToDict(request.object)
        urn = self.make_urn(request.parent, request.type, request.name)
        if request.type != "pulumi:pulumi:Stack":
            self.recorded.append(Resource(
                type=request.type, name=request.name, urn=urn, parent=request.parent,
                provider=request.provider, depends_on=sorted(request.dependencies),
                inputs=unwrap_secrets(raw), secret_inputs=secret_input_names(raw)))
        return super().RegisterResource(request)


def _masked(value: Any) -> Any:
    """A config value with every `secure:` leaf replaced by the placeholder."""
    if is_secure(value):
        return MASKED
    if isinstance(value, dict):
        return {k: _masked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v) for v in value]
    return value


def _config_string(value: Any) -> str:
    """Pulumi hands the program scalars as strings and objects as JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, default=str)
    return str(value)


def program_config(sf: StackFile, stack: StackConfig) -> tuple[dict[str, str], list[str]]:
    """The config map `up` would hand the program, with placeholders for the secrets."""
    values: dict[str, str] = {}
    secret: list[str] = []
    for name, value in sf.raw.items():
        if name == BACKEND_SECRETS_KEY and is_secure(value):  # one encrypted blob: names unseen
            value = {b.name: dict.fromkeys(b.secret_names, MASKED) for b in stack.backends}
        values[f"{NAMESPACE}:{name}"] = _config_string(_masked(value))
        if name in sf.secret_keys:
            secret.append(f"{NAMESPACE}:{name}")
    for key, value in sf.other.items():
        values[key] = _config_string(_masked(value))
    return values, secret


# components/box.py writes the Docker provider's key files under this directory instead of the
# passwd entry's home (where ssh looks, so where a real `up` writes them)
SANDBOX_ENV = "WPFLEET_RENDER_SANDBOX"


@contextlib.contextmanager
def _sandbox() -> Iterator[str]:
    """A throwaway cwd and home for whatever the program writes locally (removed afterwards)."""
    saved = {k: os.environ.get(k) for k in ("HOME", SANDBOX_ENV)}
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="wpfleet-render-") as tmp:
        tmp = os.path.realpath(tmp)
        os.chdir(tmp)
        os.environ["HOME"] = os.environ[SANDBOX_ENV] = tmp
        try:
            yield tmp
        finally:
            os.chdir(cwd)
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


def record(sf: StackFile, stack: StackConfig, stack_name: str) -> list[Resource]:
    """Run `__main__.py` once under mocks; every resource it registers, grouped by parent."""
    values, secret = program_config(sf, stack)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    pulumi.runtime.set_all_config(values, secret)
    settings.set_root_resource(None)  # type: ignore[arg-type]
    monitor = _Monitor(_Cloud())
    export = pulumi.export
    pulumi.export = lambda name, value: None  # type: ignore[assignment]  # no stack resource

    def program() -> None:
        runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")

    cwd = os.getcwd()
    try:
        with _sandbox() as sandbox:
            mocks.set_mocks(_Cloud(), project=NAMESPACE, stack=stack_name, preview=False,
                            monitor=monitor)
            mocks._sync_await(run_pulumi_func(program))
    finally:
        pulumi.export = export  # type: ignore[assignment]
    by_urn = {r.urn: r for r in monitor.recorded}

    def path(r: Resource) -> tuple[str, ...]:
        parent = by_urn.get(r.parent)
        return (*(path(parent) if parent else ()), r.name, r.type)

    for r in monitor.recorded:  # local paths as `up` run from here would send them
        r.inputs = _replace(r.inputs, sandbox, cwd)
    # registrations race on threads: sort (each child after its parent) so renders diff cleanly
    return sorted(monitor.recorded, key=path)


def _replace(value: Any, old: str, new: str) -> Any:
    if isinstance(value, str):
        return value.replace(old, new)
    if isinstance(value, dict):
        return {k: _replace(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace(v, old, new) for v in value]
    return value


def mask(value: Any) -> Any:
    """Show placeholders as <secret>; integral floats (how numbers travel) as ints."""
    if isinstance(value, str):
        return _SECRET_RUN.sub("<secret>", value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):  # sorted: renders diff cleanly
        return {k: mask(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [mask(v) for v in value]
    return value
