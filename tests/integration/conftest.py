"""Fixtures shared by the integration tests."""

from tests.integration.docker_env import dockerd

__all__ = ["dockerd"]
