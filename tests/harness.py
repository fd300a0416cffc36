"""Mocks harness: run `__main__.py` with a given stack config and record the whole resource graph.

`run_stack(config, secrets)` registers every resource against a recording `MockMonitor` and
returns a `Graph` of `Rec`s (type, name, parent, provider, dependencies, inputs). The monitor
emulates the engine's `additionalSecretOutputs`, which the stock mock ignores.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import runpy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from google.protobuf import json_format
from pulumi.runtime import mocks, rpc, settings
from pulumi.runtime.stack import run_pulumi_func

from components.render.resource_plan.dump import EngineMonitor, secret_input_names, unwrap_secrets

ROOT = Path(__file__).resolve().parent.parent
SECRET_SIG = rpc._special_sig_key  # "4dabf18193072939515e22adb298388d"

# Values the mocks hand out for secrets; tests scan for them in plaintext.
SECRETS: dict[str, str] = {
    "sshPrivateKey": "-----BEGIN OPENSSH PRIVATE KEY-----\nTESTKEYMATERIALxyz\n-----END OPENSSH PRIVATE KEY-----",
    "duckdnsToken": "duck-token-0f3a9c11-secret",
}

HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAITestHostKey"  # any well-formed pinned key

BASE_CONFIG: dict[str, Any] = {
    "box": {"host": "blog.example.org", "port": 2222, "user": "deploy",
            "hostKey": HOST_KEY},
    "acme": {"email": "admin@example.org"},
    "sites": [
        {"name": "blog", "domain": "blog.example.org", "aliases": ["www.blog.example.org"],
         "port": 8082, "replicas": 2, "tls": True},
        {"name": "shop", "domain": "shop.example.org", "port": 8090, "replicas": 1, "tls": False},
    ],
    "backends": [{"name": "api", "domain": "api.example.org", "path": "/",
                  "upstream": "http://127.0.0.1:8180"}],
}


@dataclass
class Rec:
    type: str
    name: str
    urn: str
    parent_urn: str
    provider: str  # provider reference "urn::id" or ""
    deps: set[str]
    inputs: dict[str, Any]  # plain values, secrets unwrapped
    secret_inputs: set[str]  # top-level input names sent as secrets
    raw_inputs: dict[str, Any]  # as sent, secrets still wrapped
    property_deps: dict[str, set[str]] = field(default_factory=dict)
    delete_before_replace: bool = False
    retain_on_delete: bool = False
    protect: bool = False
    # the other resource options that can make the engine replace, skip or keep a resource
    # (ignoreChanges, replaceOnChanges, aliases, customTimeouts, deletedWith...), as sent
    options: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)  # what the mock returned


@dataclass
class Graph:
    resources: list[Rec]
    outputs: dict[str, Any]

    def of_type(self, type_: str) -> list[Rec]:
        return [r for r in self.resources if r.type == type_]

    def get(self, name: str, type_: str | None = None) -> Rec:
        found = [r for r in self.resources if r.name == name and (type_ is None or r.type == type_)]
        assert len(found) == 1, f"expected one resource named {name!r}, found {len(found)}"
        return found[0]

    def by_urn(self, urn: str) -> Rec:
        return next(r for r in self.resources if r.urn == urn)

    def children(self, parent: Rec) -> list[Rec]:
        return [r for r in self.resources if r.parent_urn == parent.urn]

    def issued_secrets(self) -> list[str]:
        """Every value the mocks generated for random passwords."""
        return [r.outputs["result"] for r in self.resources if "result" in r.outputs]

    def plain_text(self) -> str:
        """Every recorded input as JSON text with secret values removed."""
        return json.dumps([_strip_secrets(r.raw_inputs) for r in self.resources], default=str)


def _strip_secrets(value: Any) -> Any:
    if isinstance(value, dict):
        if value.get(SECRET_SIG) == rpc._special_secret_sig:
            return "<secret>"
        return {k: _strip_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_strip_secrets(v) for v in value]
    return value


LAST_RECORDS: list[Rec] = []  # resources of the latest run, also when it raised


class FakeCloud(pulumi.runtime.Mocks):
    """Returns the computed outputs the program reads, derived from the inputs."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        state = dict(args.inputs)
        if args.typ == "random:index/randomPassword:RandomPassword":
            length = int(args.inputs.get("length", 16))
            stream = "".join(hashlib.sha256(f"{args.name}/{i}".encode()).hexdigest()
                             for i in range(length // 64 + 1))
            state["result"] = (f"pw-{args.name}-" + stream)[:length]
        elif args.typ == "docker:index/remoteImage:RemoteImage":
            state["imageId"] = f"sha256:{abs(hash(args.inputs['name'])):064d}"[:71]
            state["repoDigest"] = f"{args.inputs['name']}@sha256:{'0' * 64}"
        elif args.typ.startswith("command:"):
            state["stdout"] = ""
            state["stderr"] = ""
        elif args.typ == "docker:index/network:Network":
            state["name"] = args.inputs.get("name", args.name)
        return f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list | None]:
        return {}, None


class RecordingMonitor(EngineMonitor):
    """The render's monitor (secret outputs marked as the engine does), recording more."""

    def __init__(self, cloud: FakeCloud) -> None:
        super().__init__(cloud)
        self.records: list[Rec] = []
        self.by_urn: dict[str, Rec] = {}

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC name)
        raw = json_format.MessageToDict(request.object)
        if request.type != "pulumi:pulumi:Stack":
            rec = Rec(
                type=request.type, name=request.name,
                urn=self.make_urn(request.parent, request.type, request.name),
                parent_urn=request.parent, provider=request.provider,
                deps=set(request.dependencies), inputs=unwrap_secrets(raw),
                secret_inputs=set(secret_input_names(raw)),
                raw_inputs=raw,
                property_deps={k: set(v.urns) for k, v in request.propertyDependencies.items()},
                delete_before_replace=request.deleteBeforeReplace,
                retain_on_delete=request.retainOnDelete,
                protect=request.protect,
                options=_options(request),
            )
            self.records.append(rec)
            self.by_urn[rec.urn] = rec
        return super().RegisterResource(request)

    def registered(self, request: Any, response: Any) -> None:
        urn = self.make_urn(request.parent, request.type, request.name)
        if urn in self.by_urn:  # registrations run on several threads: match by URN
            self.by_urn[urn].outputs = rpc.deserialize_properties(response.object)


OPTION_FIELDS = ("ignoreChanges", "replaceOnChanges", "aliasURNs", "aliasSpecs", "aliases",
                 "customTimeouts", "deletedWith", "replaceWith", "replacementTrigger",
                 "hideDiffs", "importId")  # JSON names of RegisterResourceRequest fields


def _options(request: Any) -> dict[str, Any]:
    slim = type(request)()
    slim.CopyFrom(request)
    slim.ClearField("object")  # the inputs are recorded apart
    as_dict = json_format.MessageToDict(slim)
    return {k: as_dict[k] for k in OPTION_FIELDS if k in as_dict}


def run_stack(config: dict[str, Any], secrets: dict[str, str] | None = None,
              preview: bool = False, cloud: FakeCloud | None = None) -> Graph:
    """Run __main__.py once with this config; return every registered resource."""
    secrets = SECRETS if secrets is None else secrets
    values = {f"wpfleet:{k}": json.dumps(v) if isinstance(v, (dict, list)) else str(v)
              for k, v in copy.deepcopy(config).items()}
    values.update({f"wpfleet:{k}": v for k, v in secrets.items()})
    pulumi.runtime.set_all_config(values, [f"wpfleet:{k}" for k in secrets])
    settings.set_root_resource(None)  # type: ignore[arg-type]  # reset between runs
    cloud = cloud or FakeCloud()
    monitor = RecordingMonitor(cloud)
    outputs: dict[str, Any] = {}
    original_export = pulumi.export
    pulumi.export = lambda name, value: outputs.__setitem__(name, value)  # type: ignore[assignment]
    resolved: dict[str, Any] = {}
    global LAST_RECORDS
    LAST_RECORDS = monitor.records

    def program() -> Any:
        runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")
        return _resolve(outputs, resolved)

    try:
        _ensure_event_loop()
        mocks.set_mocks(cloud, project="wpfleet", stack="test", preview=preview,
                        monitor=monitor)
        mocks._sync_await(run_pulumi_func(program))
    finally:
        pulumi.export = original_export  # type: ignore[assignment]
    return Graph(resources=monitor.records, outputs=resolved)


def _ensure_event_loop() -> None:
    """Pulumi's mocks create futures on the current loop: a test that ran `asyncio.run()` before
    (it closes its loop and leaves none set) would make every later run_stack fail."""
    try:
        loop = asyncio.get_event_loop()
        if not loop.is_closed():
            return
    except RuntimeError:
        pass
    asyncio.set_event_loop(asyncio.new_event_loop())


async def _resolve(outputs: dict[str, Any], into: dict[str, Any]) -> None:
    """Wait for exported Outputs; keep secrecy visible as ('secret', value)."""
    for key, value in outputs.items():
        out = pulumi.Output.from_input(value)
        plain = await out.future()
        into[key] = ("secret", plain) if await out.is_secret() else plain


