"""Dense retrieval with FAISS as a PyTerrier transformer."""
from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from ..core.retriever import Retriever, first_depth, results_frame, top_k
from ..core.stage import Count
from ..data import DatasetLike
from ..encoders import BUNDLED_MINILM_NAME
from .index import INDEX_TYPES, DenseIndex
from .stage_base import DenseStageBase


class Dense(Retriever, DenseStageBase):
    """Retrieves by inner product between ``model``'s query and document vectors, from a FAISS index of ``dataset``
    (``index_type``: ``flat`` exact, ``hnsw`` or ``ivfpq`` approximate), built by :meth:`prepare` on first use.

    ``Dense("scifact") % 10`` asks FAISS for 10 results (the cutoff is fused).
    """

    def __init__(self, dataset: "DatasetLike | None" = None, *, model: str | Path = BUNDLED_MINILM_NAME,
                 index: "DenseIndex | str | Path | None" = None, num_results: Count = 1000,
                 index_type: Literal[INDEX_TYPES] = "flat", batch_size: Count = 32, max_length: Count | None = None,
                 bf16: bool = False, device: str | None = None, verbose: bool = False):
        super().__init__(dataset, model, index, batch_size, max_length, bf16, device, verbose)
        self.num_results, self.index_type = int(num_results), index_type
        self.index_types = (index_type,)

    def identity(self) -> dict:
        """The model's weights, and the approximate index's search parameters."""
        search = {"hnsw": {"ef_search": self.index.ef_search}, "ivfpq": {"nprobe": self.index.nprobe}}
        return {**super().identity(), **search.get(self.index_type, {})}

    def _retrieve(self, topics: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
        self.prepare()
        index = self.index
        faiss_index = index.faiss(self.index_type)
        vectors = self._encode_queries(topics["query"])
        k, first = self.num_results, min(first_depth(self.num_results), faiss_index.ntotal)
        scores, ids = faiss_index.search(vectors, first)
        head = scores[:, :k + 1]
        if (ids[:, :k] >= 0).all() and (np.diff(head, axis=1) < 0).all():
            # scores strictly decreasing down to rank k + 1: no tie decides which documents are the top k or in
            # which order, so they are FAISS's first k, as top_k would order them (without its frame work)
            cut = min(k, ids.shape[1])
            return results_frame(topics, np.repeat(np.arange(len(topics)), cut), index.docnos()[ids[:, :cut].ravel()],
                                 scores[:, :cut].ravel(), np.tile(np.arange(cut), len(topics)), columns)

        def search(queries: pd.DataFrame, depth: int) -> pd.DataFrame:
            if queries is topics and depth == first:
                found_scores, found_ids = scores, ids  # the search above
            else:
                rows = pd.Index(topics["qid"]).get_indexer(queries["qid"])
                found_scores, found_ids = faiss_index.search(vectors[rows], min(depth, faiss_index.ntotal))
            found = found_ids >= 0  # approximate indexes may return fewer than k
            return results_frame(queries, np.repeat(np.arange(len(queries)), found.sum(axis=1)),
                                 index.docnos()[found_ids[found]], found_scores[found],
                                 (np.cumsum(found, axis=1) - 1)[found], columns)
        results = top_k(search, topics, k)
        return results if list(results.columns) == columns else results[columns]
