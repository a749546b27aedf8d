"""transformers-ir: IR pipelines as PyTerrier expressions, evaluated, timed and costed by one runner."""
from .config import to_yaml
from .data import Dataset, TextLoader, load_dataset
from .experiment import Experiment, ExperimentResult
from .sparse import BM25, PisaTextIndex

__version__ = "0.1.0"


def from_yaml(text: str) -> dict:
    """Pipelines from the ``stages:`` / ``pipelines:`` YAML that :func:`to_yaml` writes."""
    from .config import from_yaml as _from_yaml
    from .runner import stage_registry
    return _from_yaml(text, stage_registry())


__all__ = ["BM25", "Dataset", "Experiment", "ExperimentResult", "PisaTextIndex", "TextLoader", "from_yaml",
           "load_dataset", "to_yaml"]
