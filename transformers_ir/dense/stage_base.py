"""What the dense stages share: a query encoder and the index of a dataset, built by ``prepare()``."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..core.stage import Stage
from ..data import DatasetLike, load_dataset
from ..encoders import TextEncoder, model_identity
from .index import DenseIndex, same_model


class DenseStageBase(Stage):
    """Holds ``dataset``, a :class:`TextEncoder` for ``model`` and the :class:`DenseIndex` they give."""

    index_types: tuple[str, ...] = ()

    def __init__(self, dataset: "DatasetLike | None", model: str | Path,
                 index: "DenseIndex | str | Path | None", batch_size: int, max_length: int | None, bf16: bool,
                 device: str | None, verbose: bool):
        if index is None and dataset is None:
            raise ValueError(f"{type(self).__name__} needs a dataset (to index) or an index")
        self.dataset = load_dataset(dataset) if dataset is not None else None
        self.model, self.batch_size, self.max_length, self.bf16 = model, batch_size, max_length, bf16
        self.device, self.verbose = device, verbose
        self.encoder = TextEncoder(model, batch_size=batch_size, max_length=max_length, bf16=bf16, device=device)
        self._index = index if isinstance(index, DenseIndex) or index is None else DenseIndex(index)
        self._derived_index: DenseIndex | None = None
        self._prepared = False

    @property
    def index(self) -> DenseIndex:
        """The index given, or the dataset's for this model (its location depends on the weights: loads the model)."""
        if self._index is not None:
            return self._index
        if self._derived_index is None:
            self._derived_index = DenseIndex.for_dataset(self.dataset, self.encoder)
        return self._derived_index

    def identity(self) -> dict:
        """The model by its weights (whatever name or path it was given by)."""
        return {"model": model_identity(self.model)["weights_sha256"] or str(self.model)}

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
