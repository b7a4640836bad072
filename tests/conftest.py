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


def pytest_terminal_summary(terminalreporter):
    from model_table import MODEL_TABLE

    if not MODEL_TABLE:
        return
    cols = ["model", "ops imported", "ops after fuse", "arena bytes", "lower bound", "no reuse", "max err numpy", "max err c"]
    rows = [[str(r.get(c, "")) for c in cols] for r in MODEL_TABLE]
    widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(cols)]
    terminalreporter.section("models through canonicalize,fuse,plan")
    terminalreporter.write_line("  ".join(c.ljust(w) for c, w in zip(cols, widths)))
    for r in rows:
        terminalreporter.write_line("  ".join(v.ljust(w) for v, w in zip(r, widths)))
