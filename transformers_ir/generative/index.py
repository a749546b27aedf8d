"""A trained DSI model as an index folder: the model, its docid mapping, its training examples, a manifest."""
from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from ..core import atomic_write_text
from ..core.index_folder import MANIFEST, IndexFolder
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
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{self.path.name}.", dir=self.path.parent))
        try:
            model.save(tmp / MODEL)
            mapping.save(tmp / DOCIDS)
            examples.to_json(tmp / EXAMPLES, orient="records", lines=True, force_ascii=False)
            if embeddings is not None:
                np.save(tmp / EMBEDDINGS, embeddings.astype(np.float32))
            size = sum(f.stat().st_size for f in (tmp / MODEL).iterdir())
            atomic_write_text(tmp / MANIFEST, json.dumps({**manifest, "doc_count": len(mapping),
                                                          "docids_sha256": mapping.sha256(), "size_bytes": size,
                                                          "model_parameters": sum(p.numel() for p in
                                                                                  model.model.parameters())},
                                                         indent=2))
            self._install(tmp)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        self._mapping = None
        return self
