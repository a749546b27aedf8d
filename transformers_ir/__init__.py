"""transformers-ir: IR pipelines as PyTerrier expressions, evaluated, timed and costed by one runner."""
from . import encoders
from .core.build_options import build_options
from .core.cached import cached
from .data import Dataset, RunFile, TextLoader, load_dataset
from .dense import Dense, DenseIndex, DenseScorer
from .experiment import Experiment, ExperimentFrame, ExperimentResult
from .generative import DSI
from .rerank import ColBERT, CrossEncoder
from .sparse import BM25, RM3, SPLADE, LuceneBM25, PisaTextIndex, UniCOIL

__version__ = "0.1.0"


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
