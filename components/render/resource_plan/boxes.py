"""Which box each recorded resource acts on, so a `wpfleet:boxes` render writes OUT/<box>/plan/.

Read from the resources themselves, not from their names: a Docker resource acts on the box of
its provider (`<prefix>box-docker`), a command on the box its SSH connection reaches (or the
local box); a top-level component and everything under it (random passwords, sub-components)
belong to the box its resources act on. So a component added later is placed without a change
here.
"""

from __future__ import annotations

from components.config import FleetConfig, name_prefix
from components.render.resource_plan.dump import Resource


def owners(resources: list[Resource], fleet: FleetConfig) -> dict[str, str]:
    """URN -> box name, for every resource that belongs to one box."""
    providers = {f"{name_prefix(name)}box-docker": name for name in fleet.names}
    targets = {(st.box.host, st.box.port): name for name, st in fleet.boxes if not st.box.local}
    local = next((name for name, st in fleet.boxes if st.box.local), None)
    by_urn = {r.urn: r for r in resources}
    names = {r.urn: r.name for r in resources}

    def acts_on(r: Resource) -> str | None:
        if r.type == "pulumi:providers:docker":
            return providers.get(r.name)
        if r.provider:
            return providers.get(names.get(r.provider.rsplit("::", 1)[0], ""))
        if r.type == "command:local:Command":
            return local
        conn = r.inputs.get("connection")
        if r.type == "command:remote:Command" and isinstance(conn, dict):
            return targets.get((str(conn.get("host")), int(conn.get("port", 22))))
        return None

    def root(r: Resource) -> Resource:
        while r.parent in by_urn:
            r = by_urn[r.parent]
        return r

    box_of_root: dict[str, str] = {}
    for r in resources:
        box = acts_on(r)
        if box is not None:
            box_of_root.setdefault(root(r).urn, box)
    return {r.urn: box_of_root[root(r).urn] for r in resources if root(r).urn in box_of_root}
