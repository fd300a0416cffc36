"""docs/config.md documents every key the config parser accepts.

The key list is not copied here: it is recorded from the parser itself, by wrapping
`checks.unknown_keys` (each section's known-key set) while a config that sets every section is
parsed, and every `unknown_keys(...)` call in components/ must have been reached."""

from __future__ import annotations

import ast
import copy
import importlib
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from components.config import checks
from components.config import fleet as config_fleet
from tests.fleet_configs import fleet_config
from tests.harness import ROOT

DOC = ROOT / "docs/config.md"


def every_section(cfg: dict[str, Any]) -> dict[str, Any]:
    cfg = copy.deepcopy(cfg)
    cfg["sites"][0] |= {"php": {"uploadMaxMb": 64}, "cronMinutes": 5, "wpConfig": {"WP_X": 1},
                        "smtp": {"host": "smtp.example.org", "user": "u@example.org",
                                 "from": "u@example.org"}, "title": "Blog",
                        "cache": {"ttl": 60}, "hsts": True}
    cfg["backup"] = {"repository": "/srv/restic"}
    cfg["images"] = {"wordpress": "wordpress:6.8.3-php8.3-apache"}
    return cfg


def call_sites() -> set[tuple[str, int]]:
    """Every `unknown_keys(...)` call in components/ (file, line)."""
    found = set()
    for path in (ROOT / "components").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                    and node.func.id == "unknown_keys":
                found.add((str(path.resolve()), node.lineno))
    return found


def known_keys(monkeypatch: pytest.MonkeyPatch) -> tuple[dict[str, set[str]], set[tuple[str, int]]]:
    """{section key path: its known keys} as the parser checks them, and the calls reached."""
    seen: dict[str, set[str]] = {}
    reached: set[tuple[str, int]] = set()
    real = checks.unknown_keys

    def record(p: checks.Problems, key: str, raw: dict[str, Any], allowed: set[str]) -> None:
        caller = sys._getframe(1)
        reached.add((str(Path(caller.f_code.co_filename).resolve()), caller.f_lineno))
        section = re.sub(r"\[\d+\]", "[]", key)
        seen[section] = seen.get(section, set()) | set(allowed)
        real(p, key, raw, allowed)

    for path in (ROOT / "components" / "config").glob("[!_]*.py"):
        module = importlib.import_module(f"components.config.{path.stem}")
        if getattr(module, "unknown_keys", None) is real:
            monkeypatch.setattr(module, "unknown_keys", record)
    config_fleet.parse(every_section(fleet_config()))
    return seen, reached


def test_the_recorded_sets_cover_every_unknown_keys_call(monkeypatch: pytest.MonkeyPatch) -> None:
    seen, reached = known_keys(monkeypatch)
    assert call_sites() <= reached, "a section of the parser was not reached: extend every_section"
    assert {"wpfleet", "wpfleet:box", "wpfleet:sites[]", "wpfleet:sites[].smtp",
            "wpfleet:backup"} <= set(seen)


def test_every_known_key_is_in_docs_config_md(monkeypatch: pytest.MonkeyPatch) -> None:
    seen, _ = known_keys(monkeypatch)
    text = DOC.read_text()
    missing = [f"{section}.{key}" for section, keys in sorted(seen.items()) for key in sorted(keys)
               if not re.search(rf"`(?:[\w:]+[.:])?{re.escape(key)}`", text)]
    # the boxes form's own keys: each box's sections and an entry's `box`
    missing += [f"wpfleet:boxes.NAME.{key}" for key in (*config_fleet.BOX_SECTIONS,
                                                        config_fleet.RENAMED_FROM)
                if f"`{key}`" not in text]
    missing += [f"wpfleet:boxes.NAME.{key}" for key in config_fleet.BOX_OVERRIDES
                if f"boxes.NAME.{key}" not in text]
    assert not missing, f"keys the parser accepts but docs/config.md does not document: {missing}"


def test_the_default_image_tags_in_docs_are_the_code_s() -> None:
    from components.config import MARIADB_IMAGE, WORDPRESS_IMAGE
    from components.render.wordpress.cli import WPCLI_IMAGE

    text = DOC.read_text()
    for ref in (WORDPRESS_IMAGE, MARIADB_IMAGE, WPCLI_IMAGE):
        assert f"`{ref}`" in text, ref
