"""Readable YAML views of the recorded resources: everything, and per site/backend container.

`plan/resources.yaml` lists every resource `pulumi up` would register, each after its parent.
For each site (and each backend wpfleet runs as a container), `plan/<sites|backends>/<name>.yaml`
gathers its containers and the networks, volumes and images they use — found through the
containers' own inputs (network names, volume names, image references), not a hand-kept list — plus
the rest of its component.
"""

from __future__ import annotations

from typing import Any

import yaml

from components.config import StackConfig
from components.render.resource_plan.dump import Resource, mask

CONTAINER = "docker:index/container:Container"
NETWORK = "docker:index/network:Network"
VOLUME = "docker:index/volume:Volume"
IMAGE = "docker:index/remoteImage:RemoteImage"
HEADER = ("# {what}\n"
          "# What `pulumi up` would register, recorded by `python -m components.render` running\n"
          "# the wpfleet program under Pulumi mocks: nothing here was created. Secrets show as\n"
          "# <secret>; IDs that only exist after `up` show as <image id of ...>.\n")


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def _dump(header: str, doc: Any) -> str:
    return header + yaml.dump(doc, Dumper=_Dumper, sort_keys=False, width=100,
                              allow_unicode=True, default_flow_style=False)


def _entry(r: Resource, names: dict[str, str]) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": r.name, "type": r.type}
    if r.parent in names:
        entry["parent"] = names[r.parent]
    provider = r.provider.split("::")[:-1]
    if provider:
        entry["provider"] = names.get("::".join(provider), "::".join(provider))
    if r.depends_on:
        entry["dependsOn"] = [names.get(u, u) for u in r.depends_on]
    if r.secret_inputs:
        entry["secretInputs"] = r.secret_inputs
    entry["inputs"] = mask(r.inputs)
    return entry


def _subtree(resources: list[Resource], root: Resource) -> list[Resource]:
    inside = {root.urn}
    for r in resources:  # a parent comes before its children (plan_dump.record)
        if r.parent in inside:
            inside.add(r.urn)
    return [r for r in resources if r.urn in inside]


def _group(resources: list[Resource], root: Resource) -> dict[str, list[Resource]]:
    own = _subtree(resources, root)
    containers = [r for r in own if r.type == CONTAINER]
    nets = {n.get("name") for c in containers for n in c.inputs.get("networksAdvanced", [])}
    vols = {v.get("volumeName") for c in containers for v in c.inputs.get("volumes", [])}
    image_refs = {c.inputs.get("image") for c in containers}

    def used(r: Resource) -> bool:
        name = r.inputs.get("name")
        return (r.type == NETWORK and name in nets) or (r.type == VOLUME and name in vols) \
            or (r.type == IMAGE and name in image_refs)

    picked = own + [r for r in resources if r not in own and used(r)]
    groups: dict[str, list[Resource]] = {"containers": [], "networks": [], "volumes": [],
                                         "images": [], "other": []}
    kinds = {CONTAINER: "containers", NETWORK: "networks", VOLUME: "volumes", IMAGE: "images"}
    for r in picked:
        if r is not root:
            groups[kinds.get(r.type, "other")].append(r)
    return groups


def files(resources: list[Resource], stack: StackConfig) -> dict[str, str]:
    """OUT_DIR-relative path -> text of every plan file."""
    names = {r.urn: r.name for r in resources}
    out = {"plan/resources.yaml": _dump(HEADER.format(what="Every resource, each after its parent."),
                                        [_entry(r, names) for r in resources])}
    top = {r.name: r for r in resources if r.parent not in names}
    for kind, entries in (("sites", stack.sites), ("backends", stack.backends)):
        for item in entries:
            root = top.get(item.name)
            if root is None:
                continue  # e.g. a backend routed to an existing service: nothing to run
            groups = _group(resources, root)
            doc: dict[str, Any] = {"component": {"name": root.name, "type": root.type}}
            doc.update({k: [_entry(r, names) for r in v] for k, v in groups.items() if v})
            out[f"plan/{kind}/{item.name}.yaml"] = _dump(
                HEADER.format(what=f"The {kind[:-1]} {item.name}: its containers and the networks, "
                                   "volumes and images they use."), doc)
    return out
