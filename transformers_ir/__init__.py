"""transformers-ir: IR pipelines as PyTerrier expressions, evaluated, timed and costed by one runner."""
from .data import Dataset, TextLoader, load_dataset
from .experiment import Experiment, ExperimentResult
from .sparse import BM25, PisaTextIndex

__version__ = "0.1.0"

__all__ = ["BM25", "Dataset", "Experiment", "ExperimentResult", "PisaTextIndex", "TextLoader", "load_dataset"]
