"""SPLADE as a PyTerrier stage: retrieval from a PISA impact index, or exact re-scoring of candidates."""
from __future__ import annotations

from pathlib import Path
from typing import Literal

from ..core.stage import Count, ParameterError, Positive, training_output_dir
from ..data import DatasetLike, load_dataset
from .impact_index import ImpactIndex
from .impact_stage import MODES, ImpactStageBase
from .splade_encoder import SpladeEncoder


class SPLADE(ImpactStageBase):
    """SPLADE over ``dataset`` with a masked-LM checkpoint ``model`` (a Hugging Face name or a local folder).

    ``SPLADE("scifact", "naver/splade-cocondenser-ensembledistil") % 100`` retrieves from a quantised PISA index
    (``doc_top_k`` prunes each document to its largest terms; impacts are ``round(weight * scale)``).
    ``mode="rescore"`` re-scores its input candidates by the exact float dot product (``bm25 % 100 >> splade``).
    ``query_encoder="idf"`` makes queries inference-free (WordPiece tokens weighted by corpus IDF).
    ``model="splade-tiny"`` is the MS MARCO-distilled splade-tiny bundled offline (see ``encoders.SPLADE_TINY_NAME``).
    ``bf16=True`` speeds encoding up on CPUs with bfloat16 units and gives the same vectors (see
    :class:`~transformers_ir.sparse.splade_encoder.MaxPooledMLM`), so it shares the float32 index. In rescore mode,
    documents whose vectors the index stores (built for this corpus and encoder) are read, not encoded.
    A query or document that encodes to no terms has no results / no postings.
    """

    kind = "splade"
    runtime_params = ImpactStageBase.runtime_params | {"bf16"}  # bf16 gives the float32 vectors, only faster

    def __init__(self, dataset: "DatasetLike | None" = None, model: str | Path = "", *,
                 mode: Literal[MODES] = "retrieve", index: "ImpactIndex | str | Path | None" = None,
                 num_results: Count = 1000, doc_top_k: Count | None = None, scale: Positive = 100.0,
                 query_encoder: Literal["model", "idf"] = "model", batch_size: Count = 32,
                 max_length: Count | None = 256, bf16: bool = False, device: str | None = None, threads: Count = 1,
                 verbose: bool = False):
        if not str(model):
            raise ParameterError("SPLADE", "model", "is required (a SPLADE / masked-LM checkpoint name or folder)")
        self.model, self.doc_top_k, self.query_encoder = model, doc_top_k, query_encoder
        self.batch_size, self.max_length, self.bf16, self.device = batch_size, max_length, bf16, device
        encoder = SpladeEncoder(model, batch_size=batch_size, max_length=max_length, doc_top_k=doc_top_k,
                                query_encoder=query_encoder, bf16=bf16, device=device, show_progress=False)
        super().__init__(dataset, encoder, mode=mode, index=index, num_results=num_results, scale=scale,
                         threads=threads, verbose=verbose)

    def fit(self, train_topics, train_qrels, *, negatives=None, dataset: "DatasetLike | None" = None,
            output_dir: str | Path | None = None, **training) -> "SPLADE":
        """Train this stage's model (see :func:`transformers_ir.sparse.training.train_splade` for ``training``) with
        hard negatives from ``negatives`` and texts from ``dataset`` (default: the stage's); return a SPLADE on the
        checkpoint saved in ``output_dir`` (see :class:`~transformers_ir.core.stage.Trainable`)."""
        dataset = load_dataset(dataset) if dataset is not None else self.dataset
        if negatives is None or dataset is None:
            raise ValueError("SPLADE.fit needs negatives= (a pipeline ranking the train topics, e.g. "
                             "BM25(dataset) % 50) and a dataset (where the documents' text is)")
        folder, done = training_output_dir(self, output_dir, train_topics, train_qrels, negatives,
                                           {**training, "corpus": dataset.fingerprint()})
        if not done:
            from .training import train_splade
            train_splade(self.encoder, train_topics, train_qrels, negatives, dataset, folder, **training)
        return self.replace(model=str(folder))
