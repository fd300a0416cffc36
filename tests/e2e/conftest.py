"""Fixtures for the end-to-end tests: the real Pulumi engine (engine/build.sh) on a copy of the
program (tests/e2e/pulumi_cli.py), and the test box of tests/e2e/box.sh (docs/testing.md).

`box` gives a running box (one per pytest session, started fresh the first time a test asks for
it, and again after a test stopped it); `box_manager` can stop it, or start a fresh one. The box
is stopped when the session ends. Helpers the tests share live in tests/e2e/boxlib.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.boxlib import Box, BoxManager, missing_tools
from tests.e2e.pulumi_cli import build_engine, engine_env


@pytest.fixture(scope="session")
def engine() -> Path:
    """The directory holding `pulumi` and the plugins; skips (one line) where none can be had."""
    directory, missing = build_engine()
    if directory is None:
        pytest.skip(f"no Pulumi engine: {missing} (docs/testing.md, 'The engine')")
    return directory


@pytest.fixture(scope="session")
def pulumi_env(engine: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """engine/env.sh's environment, with PULUMI_HOME, state and passphrase private to the run."""
    return engine_env(engine, tmp_path_factory.mktemp("pulumi"))


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


# --- steps of a scenario: a failed step skips the ones after it (pytest's "incremental") ---
_FAILED_STEP: dict[str, str] = {}


def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> None:
    if "incremental" in item.keywords and call.excinfo is not None \
            and not call.excinfo.errisinstance(pytest.skip.Exception):
        _FAILED_STEP.setdefault(str(item.path), item.name)


def pytest_runtest_setup(item: pytest.Item) -> None:
    failed = _FAILED_STEP.get(str(item.path))
    if "incremental" in item.keywords and failed is not None:
        pytest.xfail(f"an earlier step failed: {failed}")
