"""Re-ranking: cross-encoders and ColBERT late interaction (sentence-transformers), with ``fit()``."""
from .colbert import ColBERT, maxsim
from .colbert_model import is_colbert_checkpoint, load_colbert
from .cross_encoder import CrossEncoder, passage_text
from .token_index import TokenIndex
from .training import training_pairs

__all__ = ["ColBERT", "CrossEncoder", "TokenIndex", "is_colbert_checkpoint", "load_colbert", "maxsim",
           "passage_text", "training_pairs"]
