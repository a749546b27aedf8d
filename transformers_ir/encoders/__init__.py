"""Bottom floor: models by name or path, device and threads, length-sorted batching, bf16, seeds."""
from .batching import autocast, length_batches, token_lengths, warn_truncated
from .device import choose_device, cpu_cores, seed_everything
from .models import (BUNDLED_MINILM_NAME, SPLADE_TINY_NAME, ModelNotAvailableError, bundled_minilm,
                     bundled_splade_tiny, load_cross_encoder, load_sentence_transformer, model_identity, resolve_model,
                     weights_sha256)
from .pair_scorer import PairScorer
from .text_encoder import TextEncoder

__all__ = ["autocast", "length_batches", "token_lengths", "warn_truncated", "choose_device", "cpu_cores",
           "seed_everything", "BUNDLED_MINILM_NAME", "SPLADE_TINY_NAME", "ModelNotAvailableError", "bundled_minilm",
           "bundled_splade_tiny", "load_cross_encoder",
           "load_sentence_transformer", "model_identity", "resolve_model", "weights_sha256", "PairScorer",
           "TextEncoder"]
