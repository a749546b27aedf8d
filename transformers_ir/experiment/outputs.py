"""CSV writing for experiment output folders."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..core import atomic_open


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """Write ``frame`` as CSV, atomically."""
    with atomic_open(path, "w") as f:
        frame.to_csv(f, index=False)
