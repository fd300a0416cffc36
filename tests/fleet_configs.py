"""Stack configs with several boxes (`wpfleet:boxes`), for the mocks tests and the benchmark."""

from __future__ import annotations

import copy
import json
from typing import Any

from tests.harness import SECRETS

BACKEND_SECRET = "fleet-backend-secret-value"
BOX_KEYS = {"web2": "-----BEGIN OPENSSH PRIVATE KEY-----\nWEB2KEYMATERIAL\n-----END OPENSSH PRIVATE KEY-----"}


def box(i: int, **extra: Any) -> dict[str, Any]:
    return {"host": f"box{i}.example.org", "port": 2222, "user": "deploy",
            "hostKey": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAITestHostKey", **extra}


def site(name: str, box_name: str, port: int, tls: bool = True) -> dict[str, Any]:
    return {"name": name, "domain": f"{name}.example.org", "aliases": [f"www.{name}.example.org"],
            "port": port, "replicas": 2, "tls": tls, "box": box_name}


# 3 boxes, 7 sites, 2 backends. Each box has its own basics; web2 has its own SSH key, the
# others use the shared one. Ports repeat across boxes on purpose (they are per box).
SITES_ON = {"default": ["blog", "shop", "news"], "web2": ["wiki", "forum"], "web3": ["docs", "cafe"]}


def fleet_config() -> dict[str, Any]:
    boxes = {
        "default": box(1, hardenSsh=True, firewall={"enabled": True}),
        "web2": box(2, installDocker=True, duckdns={"domains": ["meljuju"]},
                    firewall={"enabled": True, "allow": ["51820/udp"]}),
        "web3": box(3, apache={"httpPort": 8080, "httpsPort": 8443}),
    }
    sites = [site(name, b, 8082 + 10 * j, tls=j != 1)
             for b, names in SITES_ON.items() for j, name in enumerate(names)]
    backends = [
        {"name": "api", "domain": "api.example.org", "upstream": "http://127.0.0.1:8180",
         "box": "web2"},
        {"name": "node", "domain": "node.example.org", "image": "node:22.1.0", "port": 8180,
         "secretEnv": ["API_KEY"], "box": "web3"},
    ]
    return {"boxes": boxes, "acme": {"email": "admin@example.org"}, "sites": sites,
            "backends": backends}


def fleet_secrets() -> dict[str, str]:
    return {**SECRETS, "sshPrivateKeys": json.dumps(BOX_KEYS),
            "backendSecrets": json.dumps({"node": {"API_KEY": BACKEND_SECRET}})}


def box_of(config: dict[str, Any]) -> dict[str, str]:
    """Site/backend name -> its box."""
    return {e["name"]: e["box"] for e in (*config["sites"], *config.get("backends", []))}


def sized(n_boxes: int, sites_per_box: int) -> dict[str, Any]:
    """n boxes (the first is `default`) with the same number of sites each (for the bench)."""
    names = ["default", *(f"box{i}" for i in range(1, n_boxes))]
    return {"boxes": {n: box(i) for i, n in enumerate(names)},
            "acme": {"email": "admin@example.org"},
            "sites": [site(f"{n[:3]}{n[3:]}s{j}", n, 10000 + 10 * j, tls=j % 2 == 0)
                      for n in names for j in range(sites_per_box)]}


def with_box(config: dict[str, Any], name: str, host: int, sites: list[str]) -> dict[str, Any]:
    cfg = copy.deepcopy(config)
    cfg["boxes"][name] = box(host)
    cfg["sites"] += [site(s, name, 9000 + 10 * j) for j, s in enumerate(sites)]
    return cfg
