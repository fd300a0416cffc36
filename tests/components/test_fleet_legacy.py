"""A `wpfleet:box` stack keeps today's graph: same names, parents, providers, deps and inputs."""

from __future__ import annotations

import json

import pytest

from tests.components.legacy_graph import CASES, FIXTURE, run_case


@pytest.mark.parametrize("case", sorted(CASES))
def test_single_box_graph_matches_the_recorded_run(case: str) -> None:
    recorded = json.loads(FIXTURE.read_text())[case]
    now = run_case(case)
    assert [e["path"] for e in now] == [e["path"] for e in recorded]
    for new, old in zip(now, recorded, strict=True):
        assert new == old, f"{new['path']} changed; if deliberate: python3 tests/components/legacy_graph.py --record"
