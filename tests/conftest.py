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


def needs_data(name: str):
    """Skip unless collection ``name`` is on TIR_DATA_PATH (CI always has ../shared/data)."""
    found = any((Path(p) / name).is_dir() for p in os.environ.get("TIR_DATA_PATH", "").split(os.pathsep) if p)
    return pytest.mark.skipif(not found, reason=f"collection {name!r} not on TIR_DATA_PATH")
