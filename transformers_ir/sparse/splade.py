"""SPLADE as a PyTerrier stage: retrieval from a PISA impact index, or exact re-scoring of candidates."""
from __future__ import annotations

from pathlib import Path
from typing import Literal

from ..core.stage import Count, ParameterError, Positive
from ..data import Dataset
from .impact_index import ImpactIndex
from .impact_stage import MODES, ImpactStageBase
from .splade_encoder import SpladeEncoder


class SPLADE(ImpactStageBase):
    """SPLADE over ``dataset`` with a masked-LM checkpoint ``model`` (a Hugging Face name or a local folder).

    ``SPLADE("scifact", "naver/splade-cocondenser-ensembledistil") % 100`` retrieves from a quantised PISA index
    (``doc_top_k`` prunes each document to its largest terms; impacts are ``round(weight * scale)``).
    ``mode="rescore"`` re-scores its input candidates by the exact float dot product (``bm25 % 100 >> splade``).
    ``query_encoder="idf"`` makes queries inference-free (WordPiece tokens weighted by corpus IDF).
    A query or document that encodes to no terms has no results / no postings.
    """

    kind = "splade"

    def __init__(self, dataset: "str | Path | Dataset | None" = None, model: str | Path = "", *,
                 mode: Literal[MODES] = "retrieve", index: "ImpactIndex | str | Path | None" = None,
                 num_results: Count = 1000, doc_top_k: Count | None = None, scale: Positive = 100.0,
                 query_encoder: Literal["model", "idf"] = "model", batch_size: Count = 32,
                 max_length: Count | None = 256, device: str | None = None, threads: Count = 1, verbose: bool = False):
        if not str(model):
            raise ParameterError("SPLADE", "model", "is required (a SPLADE / masked-LM checkpoint name or folder)")
        self.model, self.doc_top_k, self.query_encoder = model, doc_top_k, query_encoder
        self.batch_size, self.max_length, self.device = batch_size, max_length, device
        encoder = SpladeEncoder(model, batch_size=batch_size, max_length=max_length, doc_top_k=doc_top_k,
                                query_encoder=query_encoder, device=device, show_progress=False)
        super().__init__(dataset, encoder, mode=mode, index=index, num_results=num_results, scale=scale,
                         threads=threads, verbose=verbose)

    def fit(self, train_topics, train_qrels, negatives, output_dir: str | Path, **kwargs) -> "SPLADE":
        """Train this stage's model (see :func:`transformers_ir.sparse.training.train_splade`) and return a stage
        that uses the trained checkpoint in ``output_dir``."""
        from .training import train_splade
        train_splade(self.encoder, train_topics, train_qrels, negatives, self.dataset, Path(output_dir), **kwargs)
        config = {**self.to_config(), "model": str(output_dir)}
        config.pop("dataset", None)
        config.pop("index", None)
        return SPLADE(self.dataset, **config)
