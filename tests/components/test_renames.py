"""Renames under the mocks (issue 20 item 1): a renamed box or site finds its old resources.

The engine matches a registered resource to the state first by URN, then by its aliases; a
resource of the old run that nothing matches is deleted, a new one that matches nothing is
created. So a rename is safe for the engine exactly when the aliases of the new run map
one-to-one onto the URNs that left: these tests resolve every alias spec the program sends
the way the engine does (stack/collapseAliasToUrn: a missing name, type or parent is the
resource's own) and compare the two runs. What the real engine then does on a real box is
tests/e2e/test_renames.py.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.harness import BASE_CONFIG, HOST_KEY, Graph, Rec, run_stack

STACK = "urn:pulumi:test::wpfleet::"


def make_urn(parent: str, type_: str, name: str) -> str:
    """The URN the mock monitor gives (tests/harness.py): the parent's type, then the name."""
    if parent:
        type_ = parent.split("::")[2].split("$")[-1] + "$" + type_
    return f"{STACK}{type_}::{name}"


def alias_urns(rec: Rec) -> list[str]:
    """Every alias of REC as the URN it names (alias specs resolved like the engine does)."""
    out = []
    for alias in rec.options.get("aliases", []):
        if "urn" in alias:
            out.append(alias["urn"])
            continue
        spec = alias["spec"]
        parent = "" if spec.get("noParent") else (spec.get("parentUrn") or rec.parent_urn)
        out.append(make_urn(parent, spec.get("type") or rec.type, spec.get("name") or rec.name))
    return out


def engine_plan(old: Graph, new: Graph) -> dict[str, list[str]]:
    """create/delete/aliased, by resource name, as the engine would match NEW against OLD."""
    olds = {r.urn for r in old.resources}
    matched: dict[str, str] = {}
    creates = []
    for rec in new.resources:
        if rec.urn in olds:
            continue
        found = [u for u in alias_urns(rec) if u in olds]
        if found:
            assert found[0] not in matched.values(), f"two resources claim {found[0]}"
            matched[rec.urn] = found[0]
        else:
            creates.append(rec.name)
    kept = {r.urn for r in new.resources} | set(matched.values())
    deletes = [r.name for r in old.resources if r.urn not in kept]
    return {"create": sorted(creates), "delete": sorted(deletes),
            "aliased": sorted(u.rsplit("::", 1)[-1] for u in matched)}


def full_config() -> dict[str, Any]:
    """Every box-wide feature and a container backend: each kind of prefixed resource."""
    cfg = copy.deepcopy(BASE_CONFIG)
    cfg["box"].update(hardenSsh=True)
    cfg["firewall"] = {"enabled": True}
    cfg["duckdns"] = {"domains": ["meljuju"]}
    cfg["backup"] = {"repository": "/srv/restic", "schedule": "daily"}
    cfg["backends"].append({"name": "node", "domain": "node.example.org", "image": "node:22.1.0",
                            "port": 8180})
    return cfg


SECRETS = {"sshPrivateKey": "-----BEGIN OPENSSH PRIVATE KEY-----\nk\n-----END OPENSSH PRIVATE KEY-----",
           "duckdnsToken": "duck-token", "resticPassword": "restic-password-0123456789"}


def as_boxes(cfg: dict[str, Any], name: str, renamed_from: str | None = None) -> dict[str, Any]:
    """CFG (a wpfleet:box stack) as wpfleet:boxes with one box NAME."""
    out = copy.deepcopy(cfg)
    box = out.pop("box")
    for key in ("apache", "firewall", "duckdns"):
        if key in out:
            box[key] = out.pop(key)
    if renamed_from is not None:
        box["renamedFrom"] = renamed_from
    out["boxes"] = {name: box}
    return out


@pytest.fixture(scope="module")
def legacy() -> Graph:
    return run_stack(full_config(), SECRETS)


def test_box_rename_with_renamed_from_creates_and_deletes_nothing(legacy: Graph) -> None:
    """`wpfleet:box` -> `wpfleet:boxes.web1` with renamedFrom: default."""
    renamed = run_stack(as_boxes(full_config(), "web1", renamed_from="default"), SECRETS)
    plan = engine_plan(legacy, renamed)
    assert plan["create"] == [] and plan["delete"] == []
    # every prefixed resource was renamed, and found through its alias: the components, the
    # Docker provider, every command and image pull
    assert {"web1-box", "web1-box-setup", "web1-apache", "web1-images", "web1-backup",
            "web1-wordpress-tools", "web1-box-docker", "web1-box-firewall", "web1-box-ssh",
            "web1-box-duckdns", "web1-box-keeper", "web1-apache-conf-blog", "web1-cert-blog",
            "web1-backup-install", "web1-db-user-blog", "web1-wordpress-blog",
            "web1-image-mariadb-11-4-8"} <= set(plan["aliased"])
    assert all(name.startswith("web1-") for name in plan["aliased"])
    # resources that keep their names (sites, backends, their containers) carry no alias
    assert not [r.name for r in renamed.resources
                if not r.name.startswith("web1-") and r.options.get("aliases")]


def test_every_docker_resource_keeps_its_provider_through_the_alias(legacy: Graph) -> None:
    """A resource whose provider reference changes is replaced unless that provider was
    aliased (the engine's providerChanged): the renamed provider aliases the old one."""
    renamed = run_stack(as_boxes(full_config(), "web1", renamed_from="default"), SECRETS)
    old_provider = legacy.get("box-docker").urn
    new_provider = renamed.get("web1-box-docker")
    assert alias_urns(new_provider) == [old_provider]
    containers = renamed.of_type("docker:index/container:Container")
    assert containers and all(c.provider.startswith(new_provider.urn + "::") for c in containers)


def test_renaming_back_and_between_fleet_boxes(legacy: Graph) -> None:
    web1 = run_stack(as_boxes(full_config(), "web1"), SECRETS)
    back = run_stack(full_config() | {"box": {**full_config()["box"], "renamedFrom": "web1"}},
                     SECRETS)
    assert engine_plan(web1, back)["create"] == engine_plan(web1, back)["delete"] == []
    web9 = run_stack(as_boxes(full_config(), "web9", renamed_from="web1"), SECRETS)
    assert engine_plan(web1, web9)["create"] == engine_plan(web1, web9)["delete"] == []


def test_without_renamed_from_a_renamed_box_is_new_resources(legacy: Graph) -> None:
    """What box-preflight's owner check exists for: no alias, so the engine would create every
    prefixed resource and delete the old one (and replace every Docker resource)."""
    plain = run_stack(as_boxes(full_config(), "web1"), SECRETS)
    plan = engine_plan(legacy, plain)
    assert "web1-box-firewall" in plan["create"] and "box-firewall" in plan["delete"]
    assert not [r.name for r in plain.resources if r.options.get("aliases")]


def test_only_the_renamed_box_gets_aliases() -> None:
    two: dict[str, Any] = {"boxes": {"default": {"host": "a.example.org", "hostKey": HOST_KEY},
                     "web2": {"host": "b.example.org", "hostKey": HOST_KEY}},
           "acme": {"email": "admin@example.org"},
           "sites": [{"name": "blog", "domain": "blog.example.org", "port": 8082, "box": "default"},
                     {"name": "wiki", "domain": "wiki.example.org", "port": 8082, "box": "web2"}]}
    before = run_stack(two)
    after_cfg = copy.deepcopy(two)
    after_cfg["boxes"]["web3"] = {**after_cfg["boxes"].pop("web2"), "renamedFrom": "web2"}
    after_cfg["sites"][1]["box"] = "web3"
    after = run_stack(after_cfg)
    plan = engine_plan(before, after)
    assert plan["create"] == plan["delete"] == []
    assert plan["aliased"] and all(n.startswith("web3-") for n in plan["aliased"])
    for rec in after.resources:  # the box default and its site: no alias at all
        if not rec.name.startswith("web3-"):
            assert not rec.options.get("aliases"), rec.name


def test_a_renamed_site_keeps_its_generated_passwords_only() -> None:
    """sites[].renamedFrom: the four RandomPasswords are found under the new name; the rest
    of the site is new (its on-box names change: docs/operations.md, Renaming a site)."""
    before = run_stack(BASE_CONFIG)
    cfg = copy.deepcopy(BASE_CONFIG)
    cfg["sites"][0].update(name="journal", renamedFrom="blog")
    after = run_stack(cfg)
    plan = engine_plan(before, after)
    assert plan["aliased"] == ["journal-db-password", "journal-db-root-password",
                               "journal-install-admin-password", "journal-wp-salts"]
    assert "journal-db" in plan["create"] and "blog-db" in plan["delete"]
    assert not [n for n in plan["create"] + plan["delete"] if "password" in n or "salts" in n]
    old = {r.name: r.outputs.get("result") for r in before.of_type(
        "random:index/randomPassword:RandomPassword")}
    # the engine keeps the state, so the value: here, the alias names the very resource
    new = after.get("journal-db-password")
    assert alias_urns(new) == [before.get("blog-db-password").urn] and old["blog-db-password"]


def test_a_site_rename_without_renamed_from_gets_new_passwords() -> None:
    before = run_stack(BASE_CONFIG)
    cfg = copy.deepcopy(BASE_CONFIG)
    cfg["sites"][0]["name"] = "journal"
    plan = engine_plan(before, run_stack(cfg))
    assert plan["aliased"] == [] and "journal-db-password" in plan["create"]
