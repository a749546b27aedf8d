"""Resolving a dataset from a folder path, a name on ``$TIR_DATA_PATH`` or ``irds:<id>``."""
from __future__ import annotations

import os
from pathlib import Path

from ..core import DatasetNotFoundError
from .dataset import Dataset
from .folder import FolderDataset
from .irds import IrdsDataset

DATA_PATH_VAR = "TIR_DATA_PATH"


def data_search_path() -> list[Path]:
    """The folders listed in ``$TIR_DATA_PATH`` (``os.pathsep``-separated)."""
    return [Path(p) for p in os.environ.get(DATA_PATH_VAR, "").split(os.pathsep) if p]


def load_dataset(name_or_path: "str | Path | Dataset") -> Dataset:
    """Resolve a dataset: a folder path, then a name on ``$TIR_DATA_PATH``, then ``irds:<id>``."""
    if isinstance(name_or_path, Dataset):
        return name_or_path
    name = str(name_or_path)
    if name.startswith("irds:"):
        return IrdsDataset(name[len("irds:"):])
    tried = []
    if Path(name).is_dir():
        return FolderDataset(name)
    tried.append(f"a folder at {Path(name).resolve()}: does not exist")
    search = data_search_path()
    for root in search:
        if (root / name).is_dir():
            return FolderDataset(root / name)
        tried.append(f"{root / name} (from ${DATA_PATH_VAR}): does not exist")
    if not search:
        tried.append(f"${DATA_PATH_VAR}: not set (point it at folders of collections, e.g. ../shared/data)")
    tried.append(f"ir_datasets: not tried for a bare name; write 'irds:{name}' to load it through ir_datasets")
    raise DatasetNotFoundError(name, tried)
