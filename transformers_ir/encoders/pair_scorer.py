"""A cross-encoder (sentence-transformers) that scores (query, passage) pairs."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from .batching import autocast, length_batches, progress, token_lengths, warn_truncated
from .device import choose_device
from .models import load_cross_encoder, model_identity


class PairScorer:
    """Scores pairs with a ``CrossEncoder`` loaded by name or path (loaded on first use); the score is the logit.

    Batches are sorted by token length (``sort_by_length=False`` keeps input order, for comparison);
    ``bf16`` runs under bfloat16 autocast; pairs over ``max_length`` tokens are truncated with one warning.
    """

    def __init__(self, model: str | Path, *, batch_size: int = 32, max_length: int | None = 512, bf16: bool = False,
                 device: str | None = None, show_progress: bool = True, sort_by_length: bool = True):
        self.model_name = str(model)
        self.batch_size, self.max_length, self.bf16 = int(batch_size), max_length, bool(bf16)
        self.device, self.show_progress, self.sort_by_length = device, show_progress, sort_by_length
        self._model = None

    def __repr__(self) -> str:
        return f"PairScorer({self.model_name!r}, bf16={self.bf16})"

    @property
    def model(self):
        """The loaded ``CrossEncoder``."""
        if self._model is None:
            self._model = load_cross_encoder(self.model_name, choose_device(self.device), self.max_length)
        return self._model

    def identity(self) -> dict:
        return {**model_identity(self.model_name), "max_length": self.model.max_length}

    def score(self, queries: Sequence[str], passages: Sequence[str], desc: str = "scoring") -> np.ndarray:
        """A float32 score per ``(queries[i], passages[i])``, in input order."""
        import torch
        model = self.model
        queries = ["" if q is None else str(q) for q in queries]
        passages = ["" if p is None else str(p) for p in passages]
        out = np.zeros(len(queries), dtype=np.float32)
        if not queries:
            return out
        lengths = token_lengths(model.tokenizer, queries, passages)
        warn_truncated(repr(self), lengths, model.max_length)
        identity = torch.nn.Identity()
        batches = length_batches(lengths, self.batch_size, sort=self.sort_by_length)
        with autocast(model.device.type, self.bf16):
            for idx in progress(batches, desc, self.show_progress):
                scores = model.predict([(queries[i], passages[i]) for i in idx], batch_size=len(idx),
                                       activation_fn=identity, convert_to_tensor=True, show_progress_bar=False)
                out[idx] = scores.float().cpu().numpy().reshape(-1)
        return out
