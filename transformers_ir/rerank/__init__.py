"""Re-ranking: cross-encoders and ColBERT late interaction (sentence-transformers), with ``fit()``."""
from .colbert import ColBERT, maxsim
from .colbert_model import is_colbert_checkpoint, load_colbert
from .cross_encoder import CrossEncoder
from .token_index import TokenIndex

__all__ = ["ColBERT", "CrossEncoder", "TokenIndex", "is_colbert_checkpoint", "load_colbert", "maxsim"]
