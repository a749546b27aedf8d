"""A bi-encoder (sentence-transformers) that turns texts into vectors."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from ..core.progress import show_progress as show_progress_bar
from .batching import autocast, length_batches, progress, token_lengths, warn_truncated
from .device import choose_device
from .models import BUNDLED_MINILM_NAME, load_sentence_transformer, model_identity


class TextEncoder:
    """Encodes texts with a ``SentenceTransformer`` loaded by name or path (loaded on first use).

    Batches are sorted by token length and the vectors returned in input order; ``bf16`` runs the model
    under bfloat16 autocast; inputs over ``max_length`` tokens (default: the model's) are truncated with
    one warning per call.
    """

    def __init__(self, model: str | Path = BUNDLED_MINILM_NAME, *, batch_size: int = 32, max_length: int | None = None,
                 bf16: bool = False, device: str | None = None, show_progress: bool | None = None):
        self.model_name = str(model)
        self.batch_size, self.max_length, self.bf16 = int(batch_size), max_length, bool(bf16)
        self.device, self.show_progress = device, show_progress
        self._model = None

    def __repr__(self) -> str:
        return f"TextEncoder({self.model_name!r}, bf16={self.bf16})"

    def __getstate__(self) -> dict:
        """Pickled without the loaded model (a Ray task loads its own, once per worker)."""
        return {**self.__dict__, "_model": None}

    @property
    def model(self):
        """The loaded ``SentenceTransformer``."""
        if self._model is None:
            self._model = load_sentence_transformer(self.model_name, choose_device(self.device), self.max_length)
        return self._model

    def identity(self) -> dict:
        """Model name, folder, weights hash, max_length and precision (what an index built with it records)."""
        return {**model_identity(self.model_name), "max_length": self.model.max_seq_length, "bf16": self.bf16}

    @property
    def dims(self) -> int:
        return int(self.model.get_embedding_dimension())

    def encode(self, texts: Sequence[str], desc: str = "encoding", show_progress: bool | None = None) -> np.ndarray:
        """A float32 ``(len(texts), dims)`` array (normalised when the model normalises)."""
        model = self.model
        texts = ["" if t is None else str(t) for t in texts]
        out = np.zeros((len(texts), self.dims), dtype=np.float32)
        if not texts:
            return out
        if len(texts) == 1 and len(texts[0].encode()) + 8 <= (model.max_seq_length or 0):
            batches = [np.zeros(1, dtype=np.int64)]  # one text too short to be truncated (a token spans >= 1 byte)
        else:
            lengths = token_lengths(model.tokenizer, texts)
            warn_truncated(repr(self), lengths, model.max_seq_length)
            batches = length_batches(lengths, self.batch_size)
        enabled = (show_progress_bar(self.show_progress) if show_progress is None
                   else show_progress and show_progress_bar(True))
        with autocast(model.device.type, self.bf16):
            for idx in progress(batches, desc, enabled) if len(batches) > 1 else batches:
                vectors = model.encode([texts[i] for i in idx], batch_size=len(idx), convert_to_tensor=True,
                                       show_progress_bar=False)
                out[idx] = vectors.float().cpu().numpy()
        return out
