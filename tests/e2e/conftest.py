"""Fixtures for the end-to-end tests: the test box of tests/e2e/box.sh (docs/testing.md).

`box` gives a running box (one per pytest session, started fresh the first time a test asks for
it, and again after a test stopped it); `box_manager` can stop it. The box is stopped when the
session ends. Helpers the tests share live in tests/e2e/boxlib.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.boxlib import Box, BoxManager, missing_tools


@pytest.fixture(scope="session")
def box_manager() -> Iterator[BoxManager]:
    why = missing_tools()
    if why:
        pytest.skip(why)
    manager = BoxManager()
    try:
        yield manager
    finally:
        manager.stop()


@pytest.fixture
def box(box_manager: BoxManager) -> Box:
    return box_manager.ensure()
