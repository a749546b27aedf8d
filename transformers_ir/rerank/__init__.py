"""Re-ranking: cross-encoders (sentence-transformers), fine-tuned with ``CrossEncoder.fit``."""
from .cross_encoder import CrossEncoder, passage_text
from .training import training_pairs

__all__ = ["CrossEncoder", "passage_text", "training_pairs"]
