"""transformers-ir: IR pipelines as PyTerrier expressions, evaluated, timed and costed by one runner.

Names are imported on first use, so that ``tir --help`` and ``tir table`` start without loading PyTerrier or torch.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__version__ = "0.1.0"

_EXPORTS = {
    "encoders": ".encoders", "cached": ".core.cached", "build_options": ".core.build_options",
    "Dataset": ".data", "RunFile": ".data", "TextLoader": ".data", "load_dataset": ".data",
    "Dense": ".dense", "DenseIndex": ".dense", "DenseScorer": ".dense",
    "Experiment": ".experiment", "ExperimentFrame": ".experiment", "ExperimentResult": ".experiment",
    "DSI": ".generative",
    "ColBERT": ".rerank", "CrossEncoder": ".rerank",
    "BM25": ".sparse", "RM3": ".sparse", "SPLADE": ".sparse", "LuceneBM25": ".sparse", "PisaTextIndex": ".sparse",
    "UniCOIL": ".sparse",
}

if TYPE_CHECKING:
    from . import encoders
    from .core.build_options import build_options
    from .core.cached import cached
    from .data import Dataset, RunFile, TextLoader, load_dataset
    from .dense import Dense, DenseIndex, DenseScorer
    from .experiment import Experiment, ExperimentFrame, ExperimentResult
    from .generative import DSI
    from .rerank import ColBERT, CrossEncoder
    from .sparse import BM25, RM3, SPLADE, LuceneBM25, PisaTextIndex, UniCOIL


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'transformers_ir' has no attribute {name!r}")
    module = importlib.import_module(_EXPORTS[name], __name__)
    value = module if name == "encoders" else getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


def to_yaml(pipelines, name: str = "pipeline") -> str:
    """The ``stages:`` / ``pipelines:`` YAML of a pipeline (or a name -> pipeline map) built in Python; classes
    that are not ours are written by dotted path."""
    from .config import to_yaml as _to_yaml
    from .registry import stage_registry
    return _to_yaml(pipelines, name, stage_registry().name_of)


def from_yaml(text: str) -> dict:
    """Pipelines from the ``stages:`` / ``pipelines:`` YAML that :func:`to_yaml` writes."""
    from .config import from_yaml as _from_yaml
    from .registry import stage_registry
    return _from_yaml(text, stage_registry())


__all__ = ["BM25", "ColBERT", "CrossEncoder", "DSI", "Dataset", "Dense", "DenseIndex", "DenseScorer", "Experiment",
           "ExperimentFrame", "ExperimentResult", "LuceneBM25", "PisaTextIndex", "RM3", "RunFile", "SPLADE",
           "TextLoader", "UniCOIL", "build_options", "cached", "encoders", "from_yaml", "load_dataset", "to_yaml"]
