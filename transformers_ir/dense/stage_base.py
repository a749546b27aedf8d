"""What the dense stages share: a query encoder and the index of a dataset, built by ``prepare()``."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pyterrier as pt

from ..data import Dataset, load_dataset
from ..encoders import TextEncoder
from .index import DenseIndex, same_model


class DenseStageBase(pt.Transformer):
    """Holds ``dataset``, a :class:`TextEncoder` for ``model`` and the :class:`DenseIndex` they give."""

    index_types: tuple[str, ...] = ()

    def __init__(self, dataset: "str | Dataset | None", model: str | Path, index: "DenseIndex | str | Path | None",
                 batch_size: int, max_length: int | None, bf16: bool, device: str | None, verbose: bool):
        if index is None and dataset is None:
            raise ValueError(f"{type(self).__name__} needs a dataset (to index) or an index")
        self.dataset = load_dataset(dataset) if dataset is not None else None
        self.encoder = TextEncoder(model, batch_size=batch_size, max_length=max_length, bf16=bf16, device=device)
        self._index = index if isinstance(index, DenseIndex) or index is None else DenseIndex(index)
        self.verbose = verbose
        self._prepared = False

    @property
    def index(self) -> DenseIndex:
        """The index (its location depends on the model's weights, so this may load the model)."""
        if self._index is None:
            self._index = DenseIndex.for_dataset(self.dataset, self.encoder)
        return self._index

    def _identity(self) -> dict:
        """The model's weights and max_length, and the indexed corpus (for :meth:`fingerprint`)."""
        model = self.encoder.identity()
        corpus = self.dataset.fingerprint() if self.dataset is not None else (self.index.manifest or {}).get(
            "corpus_fingerprint", str(self.index.path))
        return {"model": model["weights_sha256"] or model["name"], "max_length": model["max_length"],
                "bf16": model["bf16"], "corpus": corpus}

    def _where(self) -> str:
        return repr(self.dataset.name) if self.dataset is not None else repr(str(self._index.path))

    def prepare(self) -> "DenseStageBase":
        """Build the index if needed (encoding the corpus) and check it was built with this model (once)."""
        if self._prepared:
            return self
        index = self.index
        if not all(index.built(t) for t in (None, *self.index_types)):
            if self.dataset is None:
                raise FileNotFoundError(f"{self}: index {index.path} is not built and no dataset was given")
            index.build(self.dataset, self.encoder, self.index_types)
        if not same_model(index.manifest["model"], self.encoder.identity()):
            raise ValueError(f"{self}: index {index.path} was built with model {index.manifest['model']}, "
                             f"not {self.encoder.identity()}")
        self._prepared = True
        return self

    def _encode_queries(self, queries) -> np.ndarray:
        return self.encoder.encode(list(queries), desc="encoding queries", show_progress=self.verbose)
