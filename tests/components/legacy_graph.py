"""A recorded run of the single-box program, to prove `wpfleet:box` stacks keep their graph.

`snapshot(graph)` reduces a mocks run to what the engine would diff: each resource's type,
name, parent, provider, dependencies, options and inputs (URNs as type/name paths, mock-made
image IDs and the checkout's path normalised). `python3 tests/components/legacy_graph.py --record` rewrites
tests/fixtures/legacy_graph.json; it was first written by the program as it was before
`wpfleet:boxes` existed (commit fcb3b0c). Re-record only for a deliberate change of the graph.
"""

from __future__ import annotations

import copy
import json
import re
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.harness import BASE_CONFIG, ROOT, SECRETS, Graph, run_stack  # noqa: E402

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "legacy_graph.json"
BACKEND_SECRET = "legacy-backend-secret-value"


def full_config() -> dict[str, Any]:
    """BASE_CONFIG plus every box-wide feature: firewall, DuckDNS, SSH hardening, a container."""
    cfg = copy.deepcopy(BASE_CONFIG)
    cfg["box"].update(hardenSsh=True, installDocker=True)
    cfg["firewall"] = {"enabled": True, "allow": ["51820/udp"]}
    cfg["duckdns"] = {"domains": ["meljuju"]}
    cfg["apache"] = {"httpPort": 80, "httpsPort": 443, "balancerManager": True}
    cfg["backends"].append({"name": "node", "domain": "node.example.org", "image": "node:22.1.0",
                            "port": 8180, "secretEnv": ["API_KEY"]})
    return cfg


def full_secrets() -> dict[str, str]:
    return {**SECRETS, "backendSecrets": json.dumps({"node": {"API_KEY": BACKEND_SECRET}}),
            "adminPasswords": json.dumps({"blog": "configured-admin-pw-0123"})}


CASES: dict[str, tuple[Any, Any]] = {
    "base": (lambda: copy.deepcopy(BASE_CONFIG), lambda: SECRETS),
    "full": (full_config, full_secrets),
}


def _norm(text: str) -> str:
    text = re.sub(r"sha256:\d{64}", "sha256:<mock-image-id>", text)
    return text.replace(str(ROOT), "<root>")


def snapshot(graph: Graph) -> list[dict[str, Any]]:
    by_urn = {r.urn: r for r in graph.resources}

    def path(urn: str) -> str:
        r = by_urn.get(urn)
        if r is None:
            return urn.rsplit("::", 1)[-1] if urn else ""
        return f"{path(r.parent_urn)}/{r.type}::{r.name}".lstrip("/")

    def provider(ref: str) -> str:
        return path(ref.split("::" + ref.rsplit("::", 1)[-1])[0]) if ref else ""

    out = [{
        "path": path(r.urn), "provider": provider(r.provider),
        "deps": sorted(path(d) for d in r.deps),
        "propertyDeps": {k: sorted(path(d) for d in v) for k, v in sorted(r.property_deps.items())},
        "deleteBeforeReplace": r.delete_before_replace, "retainOnDelete": r.retain_on_delete,
        "secretInputs": sorted(r.secret_inputs), "inputs": r.inputs,
    } for r in graph.resources]
    out.sort(key=lambda e: str(e["path"]))
    return json.loads(_norm(json.dumps(out, sort_keys=True, default=str)))


def run_case(name: str) -> list[dict[str, Any]]:
    config, secrets = CASES[name]
    return snapshot(run_stack(config(), secrets()))


def main() -> None:
    if sys.argv[1:] != ["--record"]:
        sys.exit("usage: python3 tests/components/legacy_graph.py --record")
    FIXTURE.parent.mkdir(exist_ok=True)
    FIXTURE.write_text(json.dumps({n: run_case(n) for n in CASES}, indent=1, sort_keys=True) + "\n")
    print(f"wrote {FIXTURE}")


if __name__ == "__main__":
    main()
