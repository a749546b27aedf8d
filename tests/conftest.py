"""Shared test setup: offline model hub, the local collections, a per-session cache folder."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
_SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
if "TIR_DATA_PATH" not in os.environ and _SHARED.is_dir():
    os.environ["TIR_DATA_PATH"] = str(_SHARED)


@pytest.fixture(scope="session", autouse=True)
def _cache_dir(tmp_path_factory):
    """Indexes and stores built by tests live in one folder per test session (shared across tests)."""
    if "TIR_TEST_CACHE_DIR" in os.environ:
        os.environ["TIR_CACHE_DIR"] = os.environ["TIR_TEST_CACHE_DIR"]
    else:
        os.environ["TIR_CACHE_DIR"] = str(tmp_path_factory.mktemp("tir-cache"))
    yield


IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def needs_data(name: str):
    """Mark a test (or module) as needing collection ``name`` on TIR_DATA_PATH: skipped without it locally, a
    failure naming what is missing under CI (``CI=true``, set by ``.ci/run``), which must never skip silently."""
    return pytest.mark.needs_data(name)


def requires(module: str):
    """Import ``module`` for a test: skip when it is not installed locally, fail under CI."""
    if IN_CI:
        import importlib
        return importlib.import_module(module)
    return pytest.importorskip(module)


def pytest_configure(config):
    config.addinivalue_line("markers", "needs_data(name): the test needs collection `name` on TIR_DATA_PATH")


def pytest_runtest_setup(item):
    roots = [Path(p) for p in os.environ.get("TIR_DATA_PATH", "").split(os.pathsep) if p]
    for mark in item.iter_markers("needs_data"):
        name = mark.args[0]
        if not any((root / name).is_dir() for root in roots):
            message = (f"collection {name!r} not found on TIR_DATA_PATH ({os.environ.get('TIR_DATA_PATH') or 'unset'});"
                       f" expected ../shared/data/{name}")
            if IN_CI:
                pytest.fail(f"CI: {message}", pytrace=False)
            pytest.skip(message)
