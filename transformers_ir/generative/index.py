"""A trained DSI model as an index folder: the model, its docid mapping, its training examples, a manifest."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..core.index_folder import IndexFolder, write_manifest
from ..encoders import weights_sha256
from .docids import DocidMapping
from .model import DocidModel

MODEL = "model"
DOCIDS = "docids.json"
EXAMPLES = "examples.jsonl"
EMBEDDINGS = "doc_embeddings.npy"


class DSIIndex(IndexFolder):
    """A folder holding ``model/`` (seq2seq weights, tokenizer, docid vocabulary), ``docids.json`` (docno -> docid),
    ``examples.jsonl`` (what it was trained on, replayed by incremental indexing), ``doc_embeddings.npy``
    (semantic docids: the document vectors, rows in mapping order) and ``manifest.json`` (written last)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._mapping: DocidMapping | None = None

    def mapping(self) -> DocidMapping:
        """The docno <-> docid mapping (an error naming the folder when it is missing)."""
        if self._mapping is None:
            self._mapping = DocidMapping.load(self.path / DOCIDS)
        return self._mapping

    def load_model(self, device: str) -> DocidModel:
        self.mapping()  # fail on a missing mapping before loading weights
        return DocidModel.load(self.path / MODEL, device)

    def weights_sha256(self) -> str:
        return weights_sha256(str(self.path / MODEL))

    def examples(self) -> pd.DataFrame:
        return pd.read_json(self.path / EXAMPLES, lines=True, dtype={"docno": str})

    def embeddings(self) -> np.ndarray | None:
        path = self.path / EMBEDDINGS
        return np.load(path) if path.exists() else None

    def write(self, model: DocidModel, mapping: DocidMapping, examples: pd.DataFrame, embeddings: np.ndarray | None,
              manifest: dict) -> "DSIIndex":
        """Save everything into a temporary folder, then put it in place (the manifest last)."""
        with self.staging() as tmp:
            model.save(tmp / MODEL)
            mapping.save(tmp / DOCIDS)
            examples.to_json(tmp / EXAMPLES, orient="records", lines=True, force_ascii=False)
            if embeddings is not None:
                np.save(tmp / EMBEDDINGS, embeddings.astype(np.float32))
            write_manifest(tmp, {**manifest, "doc_count": len(mapping), "docids_sha256": mapping.sha256(),
                                 "model_parameters": sum(p.numel() for p in model.model.parameters())})
        self._mapping = None
        return self
