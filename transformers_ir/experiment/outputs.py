"""File names and CSV writing for experiment output folders."""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from ..core import atomic_open


def safe_filename(name: str) -> str:
    """A pipeline name as a file name (``BM25 % 100`` -> ``BM25_%_100``)."""
    return re.sub(r"[^A-Za-z0-9._%+=,\[\]@-]+", "_", name).strip("_") or "pipeline"


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """Write ``frame`` as CSV, atomically."""
    with atomic_open(path, "w") as f:
        frame.to_csv(f, index=False)
