"""Shared fixtures. Tests that need a framework skip cleanly when it is not
installed (the MXNet venv has no torch, the main venv no MXNet)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parent.parent

settings.register_profile(
    "hybridize", deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
settings.load_profile("hybridize")


def pytest_collection_modifyitems(config, items):
    have = {name: importlib.util.find_spec(name) is not None for name in ("torch", "mxnet")}
    for item in items:
        for name, present in have.items():
            if item.get_closest_marker(name) and not present:
                item.add_marker(pytest.mark.skip(reason=f"{name} is not installed in this venv"))


@pytest.fixture(scope="session")
def c_cache(tmp_path_factory):
    """One compile cache for the session, away from the user's home."""
    return tmp_path_factory.mktemp("c-cache")
