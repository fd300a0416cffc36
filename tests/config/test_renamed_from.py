"""`renamedFrom`: a box's (wpfleet:boxes.NAME / wpfleet:box) and a site's previous name."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from components.config import ConfigError
from components.config.fleet import parse
from tests.harness import BASE_CONFIG, HOST_KEY


def boxes(**extra: Any) -> dict[str, Any]:
    cfg = copy.deepcopy(BASE_CONFIG)
    box = cfg.pop("box")
    cfg["boxes"] = {"web1": {**box, **extra}}
    return cfg


def problems(cfg: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as e:
        parse(cfg)
    return e.value.problems


def test_a_box_knows_its_name_and_the_name_it_had() -> None:
    box = parse(boxes(renamedFrom="default")).box("web1").box
    assert (box.name, box.renamed_from) == ("web1", "default")
    legacy = parse(copy.deepcopy(BASE_CONFIG)).box("default").box
    assert (legacy.name, legacy.renamed_from) == ("default", None)
    cfg = copy.deepcopy(BASE_CONFIG)
    cfg["box"]["renamedFrom"] = "web1"  # a one-box fleet collapsed back into wpfleet:box
    assert parse(cfg).box("default").box.renamed_from == "web1"


@pytest.mark.parametrize(("value", "expected"), [
    ("Web1", "wpfleet:boxes.web1.renamedFrom: 'Web1' is not a box name"),
    (7, "wpfleet:boxes.web1.renamedFrom: 7 is not a box name"),
    ("web1", "wpfleet:boxes.web1.renamedFrom: 'web1' is the box's own name; remove renamedFrom"),
])
def test_a_bad_box_renamed_from_is_refused(value: Any, expected: str) -> None:
    assert any(p.startswith(expected) for p in problems(boxes(renamedFrom=value)))


def test_a_box_cannot_be_renamed_from_a_box_that_still_exists_or_twice() -> None:
    cfg = boxes(renamedFrom="web2")
    cfg["boxes"]["web2"] = {"host": "b.example.org", "hostKey": HOST_KEY}
    for s in cfg["sites"]:
        s["box"] = "web1"
    cfg["backends"][0]["box"] = "web1"
    assert any("wpfleet:boxes.web1.renamedFrom: 'web2' is a box of this stack" in p
               for p in problems(cfg))
    cfg["boxes"]["web2"]["renamedFrom"] = "old"
    cfg["boxes"]["web1"]["renamedFrom"] = "old"
    assert any(p.startswith("wpfleet:boxes.web2.renamedFrom: 'old' is already claimed by box web1")
               for p in problems(cfg)), problems(cfg)
    legacy = copy.deepcopy(BASE_CONFIG)
    legacy["box"]["renamedFrom"] = "default"
    assert any(p.startswith("wpfleet:box.renamedFrom: 'default' is the box's own name")
               for p in problems(legacy))


def test_a_site_renamed_from() -> None:
    cfg = copy.deepcopy(BASE_CONFIG)
    cfg["sites"][0].update(name="journal", renamedFrom="blog")
    assert parse(cfg).sites[0].renamed_from == "blog"
    cfg["sites"][0]["renamedFrom"] = "journal"
    assert any("wpfleet:sites[0].renamedFrom: 'journal' is the site's own name" in p
               for p in problems(cfg))
    cfg["sites"][0]["renamedFrom"] = "shop"  # still a site of the stack
    assert any("wpfleet:sites[0].renamedFrom: 'shop' is still used by wpfleet:sites[1].name" in p
               for p in problems(cfg)), problems(cfg)
    cfg["sites"][0]["renamedFrom"] = "api"  # a backend's name
    assert any("'api' is still used by wpfleet:backends[0].name" in p for p in problems(cfg))
    cfg["sites"][0]["renamedFrom"] = "Blog!"
    assert any("wpfleet:sites[0].renamedFrom: 'Blog!' must be the site's previous name" in p
               for p in problems(cfg))
    cfg["sites"][0]["renamedFrom"] = "blog"
    cfg["sites"][1]["renamedFrom"] = "blog"
    assert any("wpfleet:sites[1].renamedFrom: 'blog' is already used as a previous name" in p
               for p in problems(cfg)), problems(cfg)


def test_a_site_renamed_from_a_name_used_on_another_box() -> None:
    cfg = {"boxes": {"default": {"host": "a.example.org", "hostKey": HOST_KEY},
                     "web2": {"host": "b.example.org", "hostKey": HOST_KEY}},
           "acme": {"email": "admin@example.org"},
           "sites": [{"name": "blog", "domain": "blog.example.org", "port": 8082, "box": "default"},
                     {"name": "wiki", "domain": "wiki.example.org", "port": 8082, "box": "web2",
                      "renamedFrom": "blog"}]}
    assert any(p.startswith("wpfleet:sites[1].renamedFrom: 'blog' is still used by "
                            "wpfleet:sites[0].name on box default") for p in problems(cfg))
