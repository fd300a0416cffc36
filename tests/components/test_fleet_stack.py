"""Several boxes under mocks: 3 boxes, 7 sites, 2 backends; each site on its box, no blast radius."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from tests.fleet_configs import BACKEND_SECRET, BOX_KEYS, box_of, fleet_config, fleet_secrets, with_box
from tests.harness import HOST_KEY, SECRETS, Graph, Rec, run_stack

DOCKER = "docker:index/"
COMMAND = "command:remote:Command"
PREFIX = {"default": "", "web2": "web2-", "web3": "web3-"}


@pytest.fixture(scope="module")
def graph() -> Graph:
    return run_stack(fleet_config(), fleet_secrets())


def top(g: Graph, r: Rec) -> Rec:
    """The top-level component a resource belongs to."""
    by = {x.urn: x for x in g.resources}
    while r.parent_urn in by:
        r = by[r.parent_urn]
    return r


def box_of_resource(g: Graph, r: Rec) -> str | None:
    """Which box a resource acts on: by its Docker provider or its SSH connection."""
    if r.type.startswith(DOCKER) and r.provider:
        name = g.by_urn(r.provider.rsplit("::", 1)[0]).name
        return next(b for b, p in PREFIX.items() if name == f"{p}box-docker")
    if r.type == COMMAND:
        return r.inputs["connection"]["host"].split(".")[0]
    if r.type == "pulumi:providers:docker":
        return r.inputs["host"].split("@")[1].split(".")[0]
    return None


HOST_BOX = {"box1": "default", "box2": "web2", "box3": "web3"}


def where(g: Graph, r: Rec) -> str | None:
    b = box_of_resource(g, r)
    return HOST_BOX.get(b, b) if b else None


def test_every_site_and_backend_resource_acts_on_its_own_box(graph: Graph) -> None:
    owner = box_of(fleet_config())
    for r in graph.resources:
        t = top(graph, r)
        name = next((n for n in owner if t.name in (n, f"{n}-net", f"{n}-install", f"{n}-cert")),
                    None)
        b = where(graph, r)
        if name is not None and b is not None:
            assert b == owner[name], f"{r.name} of {name} acts on box {b}, not {owner[name]}"
    # and every site has containers on its box, reached through its box's Docker provider
    for name, b in owner.items():
        containers = [r for r in graph.of_type(f"{DOCKER}container:Container")
                      if top(graph, r).name == name]
        assert containers or name == "api", name
        assert all(where(graph, c) == b for c in containers)


def test_box_wide_resources_are_per_box_and_prefixed(graph: Graph) -> None:
    for b, pre in PREFIX.items():
        for comp in ("box", "box-setup", "images", "apache"):
            rec = graph.get(f"{pre}{comp}")
            kids = [r for r in graph.resources if top(graph, r).urn == rec.urn and r is not rec]
            assert kids, f"{pre}{comp} has no resources"
            assert {where(graph, k) for k in kids} - {None} == {b}, f"{pre}{comp}"
            assert all(k.name.startswith(pre) for k in kids if where(graph, k))
    # web2 has its own SSH key; the others share wpfleet:sshPrivateKey
    keys = {where(graph, r): r.inputs["connection"]["privateKey"] for r in graph.of_type(COMMAND)}
    assert keys == {"default": SECRETS["sshPrivateKey"], "web2": BOX_KEYS["web2"],
                    "web3": SECRETS["sshPrivateKey"]}
    assert all("connection" in r.secret_inputs for r in graph.of_type(COMMAND))
    assert BOX_KEYS["web2"] not in graph.plain_text() and BACKEND_SECRET not in graph.plain_text()


def test_each_box_apache_holds_only_its_own_hosts(graph: Graph) -> None:
    cfg = fleet_config()
    owner = box_of(cfg)
    domains = {e["name"]: [e["domain"], *e.get("aliases", [])] for e in (*cfg["sites"], *cfg["backends"])}
    for b, pre in PREFIX.items():
        apache = graph.get(f"{pre}apache")
        text = json.dumps([r.inputs for r in graph.children(apache)])
        for name, ds in domains.items():
            for d in ds:
                assert (d in text) == (owner[name] == b), (b, d)
    # web3's Apache listens on its own ports
    web3 = json.dumps([r.inputs for r in graph.children(graph.get("web3-apache"))])
    assert "8443" in web3
    assert "8443" not in json.dumps([r.inputs for r in graph.children(graph.get("apache"))])


def test_outputs_are_grouped_by_box(graph: Graph) -> None:
    boxes = graph.outputs["boxes"]
    assert list(boxes) == ["default", "web2", "web3"]
    assert boxes["web2"]["dockerHost"] == "ssh://deploy@box2.example.org:2222"
    assert sorted(boxes["web3"]["sites"]) == ["cafe", "docs"]
    assert list(boxes["web2"]["backends"]) == ["api"]
    assert "sites" not in graph.outputs and graph.outputs["adminPasswords"][0] == "secret"
    assert len(graph.outputs["adminPasswords"][1]) == 7
    assert len(graph.outputs["adminUsers"]) == 7 and "adminUsers" not in boxes["web2"]


def inputs(g: Graph) -> dict[str, tuple[Any, set[str]]]:
    return {r.urn: (r.raw_inputs, r.deps) for r in g.resources}


def test_adding_a_box_or_a_site_changes_nothing_on_other_boxes(graph: Graph) -> None:
    before = inputs(graph)
    more = with_box(fleet_config(), "web4", 4, ["shop4"])
    after_box = inputs(run_stack(more, fleet_secrets()))
    assert [u for u, v in before.items() if after_box.get(u) != v] == []
    added = set(after_box) - set(before)
    assert added and all("web4-" in u.rsplit("::", 1)[-1] or "shop4" in u for u in added), added
    cfg = fleet_config()
    cfg["sites"].append({"name": "extra", "domain": "extra.example.org", "port": 9500,
                         "box": "web2"})
    g = run_stack(cfg, fleet_secrets())
    after_site = inputs(g)
    # only web2's preflight changes: it checks the loopback ports of every site on its box
    assert [u.rsplit("::", 1)[1] for u, v in before.items() if after_site.get(u) != v] == [
        "web2-box-preflight"]
    assert {where(g, r) for r in g.resources if r.urn not in before} - {None} == {"web2"}


def test_removing_a_box_removes_only_its_resources_and_keeps_its_volumes(graph: Graph) -> None:
    cfg = fleet_config()
    cfg["boxes"].pop("web3")
    cfg["sites"] = [s for s in cfg["sites"] if s["box"] != "web3"]
    cfg["backends"] = [b for b in cfg["backends"] if b["box"] != "web3"]
    secrets = {k: v for k, v in fleet_secrets().items() if k != "backendSecrets"}
    after = inputs(run_stack(cfg, secrets))
    before = inputs(graph)
    gone = [r for r in graph.resources if r.urn not in after]
    owner = box_of(fleet_config())
    assert gone
    for r in gone:
        t = top(graph, r).name
        assert t.startswith("web3-") or owner.get(t.removesuffix("-net").removesuffix(
            "-install").removesuffix("-cert")) == "web3", r.name
    assert all(after[u] == before[u] for u in after)
    volumes = [r for r in gone if r.type == f"{DOCKER}volume:Volume"]
    assert len(volumes) == 4 and all(v.retain_on_delete for v in volumes)


def test_a_boxes_stack_with_one_box_default_is_the_wpfleet_box_graph() -> None:
    from tests.harness import BASE_CONFIG

    legacy = copy.deepcopy(BASE_CONFIG)
    boxes = copy.deepcopy(BASE_CONFIG)
    boxes["boxes"] = {"default": boxes.pop("box")}
    a, b = run_stack(legacy), run_stack(boxes)
    assert inputs(a) == inputs(b)
    assert b.outputs["boxes"]["default"]["sites"] == a.outputs["sites"]


def test_moving_a_site_keeps_its_passwords_and_touches_no_other_site(graph: Graph) -> None:
    """What docs/scaling.md promises: docs moves from web3 to web2 with the same DB passwords."""
    cfg = fleet_config()
    docs = next(s for s in cfg["sites"] if s["name"] == "docs")
    docs.update(box="web2", port=8200)  # 8082 is wiki's port on web2
    moved = run_stack(cfg, fleet_secrets())
    before, after = inputs(graph), inputs(moved)
    passwords = [r for r in graph.of_type("random:index/randomPassword:RandomPassword")
                 if top(graph, r).name == "docs"]
    assert passwords and all(after[p.urn] == before[p.urn] for p in passwords)
    new = {r.urn: r for r in moved.resources}
    for r in graph.resources:
        if top(graph, r).name == "docs" and r.type.startswith(DOCKER):
            assert where(moved, new[r.urn]) == "web2" and where(graph, r) == "web3"
    others = [r.urn for r in graph.resources
              if top(graph, r).name in {"blog", "shop", "news", "wiki", "forum", "cafe"}]
    assert others and all(after[u] == before[u] for u in others)
    # its volumes keep their Docker names (restore into them on web2) and stay retained
    vols = sorted(r.inputs["name"] for r in moved.of_type(f"{DOCKER}volume:Volume")
                  if top(moved, r).name == "docs" and r.retain_on_delete)
    assert vols == ["wpfleet-docs-db", "wpfleet-docs-html"]


def test_each_box_runs_exactly_its_rendered_commands_under_its_prefix(graph: Graph) -> None:
    from components.config.fleet import parse
    from components.render import as_root, owned, plan

    fleet = parse(fleet_config())
    for b, pre in PREFIX.items():
        rendered = {pre + c.name: owned(c, pre + c.name) for c in plan(fleet.box(b)).commands}
        ran = {r.name: r for r in graph.of_type(COMMAND) if where(graph, r) == b}
        assert set(ran) == set(rendered), b
        for name, spec in rendered.items():
            assert ran[name].inputs["create"] == as_root(spec.create, sudo=True), name


def test_a_local_box_beside_a_remote_one_needs_only_the_remote_key() -> None:
    cfg = {"boxes": {"default": {"host": "local"}, "web2": {"host": "box2.example.org", "hostKey": HOST_KEY}},
           "acme": {"email": "admin@example.org"},
           "sites": [{"name": "blog", "domain": "blog.example.org", "port": 8082, "box": "default"},
                     {"name": "wiki", "domain": "wiki.example.org", "port": 8082, "box": "web2"}]}
    g = run_stack(cfg, {"sshPrivateKeys": json.dumps(BOX_KEYS)})
    local = {r.name for r in g.of_type("command:local:Command")}
    remote = {r.name for r in g.of_type(COMMAND)}
    assert "wordpress-blog" in local and "web2-wordpress-wiki" in remote
    assert all(n.startswith("web2-") for n in remote) and not any(n.startswith("web2-") for n in local)
    assert g.get("box-docker").inputs["host"] == "unix:///var/run/docker.sock"


def test_no_two_resources_share_a_urn(graph: Graph) -> None:
    """The engine refuses a duplicate URN (mocks do not): two boxes must never register one."""
    urns = [r.urn for r in graph.resources]
    assert len(urns) == len(set(urns)), sorted({u for u in urns if urns.count(u) > 1})
