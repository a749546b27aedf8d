"""Resolving a dataset from a folder path, a name on ``$TIR_DATA_PATH`` or ``irds:<id>``."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import pyterrier as pt
from pydantic import AfterValidator

from ..core import DatasetNotFoundError
from .dataset import Dataset
from .folder import FolderDataset
from .irds import IrdsDataset, irds_id_of
from .pt_dataset import PtDataset

DATA_PATH_VAR = "TIR_DATA_PATH"


def _dataset_like(value: Any) -> Any:
    if isinstance(value, (str, os.PathLike, Dataset, pt.datasets.Dataset)) or irds_id_of(value) is not None:
        return value
    raise ValueError("should be a dataset: a name, a folder, 'irds:<id>', a transformers_ir or PyTerrier Dataset "
                     "or an ir_datasets dataset")


DatasetLike = Annotated[Any, AfterValidator(_dataset_like)]  # what a stage's ``dataset`` parameter takes


def data_search_path() -> list[Path]:
    """The folders listed in ``$TIR_DATA_PATH`` (``os.pathsep``-separated)."""
    return [Path(p) for p in os.environ.get(DATA_PATH_VAR, "").split(os.pathsep) if p]


def load_dataset(name_or_path: "str | Path | Dataset | pt.datasets.Dataset | object") -> Dataset:
    """Resolve a dataset: one of ours; a ``pt.datasets.Dataset`` (``pt.get_dataset("irds:...")`` goes through
    ir_datasets, any other through PyTerrier's dataset API); an ``ir_datasets`` dataset object; a folder path,
    then a name on ``$TIR_DATA_PATH``, then ``irds:<id>``."""
    if isinstance(name_or_path, Dataset):
        return name_or_path
    if (irds_id := irds_id_of(name_or_path)) is not None:
        return IrdsDataset(irds_id)
    if isinstance(name_or_path, pt.datasets.Dataset):
        return PtDataset(name_or_path)
    if not isinstance(name_or_path, (str, os.PathLike)):
        raise TypeError(f"a dataset is a name, a folder, 'irds:<id>', a transformers_ir or PyTerrier Dataset or an "
                        f"ir_datasets dataset, not {type(name_or_path).__name__}: {name_or_path!r}")
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
