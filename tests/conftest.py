"""pytest fixtures. The mocks harness lives in tests/harness.py: `from tests.harness import run_stack`
(tests run with --import-mode=importlib, so conftest itself is not importable)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.harness import BASE_CONFIG


@pytest.fixture
def base_config() -> dict[str, Any]:
    return copy.deepcopy(BASE_CONFIG)
