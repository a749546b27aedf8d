"""Cross-encoder re-ranking (sentence-transformers ``CrossEncoder``) as a PyTerrier transformer."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyterrier as pt

from ..core.rescore import rescored, rescorer_outputs
from ..core.stage import Count, Stage, training_output_dir
from ..data import DatasetLike, document_texts, load_dataset
from ..encoders import PairScorer, model_identity


class CrossEncoder(Stage):
    """Re-scores (query, document text) pairs of its input with a cross-encoder and re-ranks per query.

    Needs ``qid, query, docno, text`` (``title`` is prepended when present):
    ``bm25 % 100 >> TextLoader(ds, fields=("title", "text")) >> CrossEncoder(model)``. The score is the model's
    logit; a NaN score is replaced by ``-inf`` (ranked last, with a warning). ``fit()`` fine-tunes the model.
    """

    def __init__(self, model: str | Path, *, batch_size: Count = 32, max_length: Count | None = 512, bf16: bool = False,
                 device: str | None = None, verbose: bool = False):
        self.model, self.batch_size, self.max_length, self.bf16 = model, batch_size, max_length, bf16
        self.device, self.verbose = device, verbose
        self.scorer = PairScorer(model, batch_size=batch_size, max_length=max_length, bf16=bf16, device=device,
                                 show_progress=verbose)

    def identity(self) -> dict:
        """The model by its weights (whatever name or path it was given by)."""
        return {"model": model_identity(self.model)["weights_sha256"] or str(self.model)}

    def prepare(self) -> "CrossEncoder":
        """Load the model (not part of query time)."""
        self.scorer.model
        return self

    def transform_outputs(self, input_columns: list[str]) -> list[str]:
        return rescorer_outputs(self, input_columns, ["qid", "query", "docno", "text"],
                                hint="attach document text first, e.g. `>> TextLoader(dataset, fields=('title', 'text'))`")

    def transform(self, results: pd.DataFrame) -> pd.DataFrame:
        columns = self.transform_outputs(list(results.columns))
        if not len(results):
            return pd.DataFrame(columns=columns)
        scores = self.scorer.score(results["query"].tolist(), document_texts(results), desc=f"{self}")
        return rescored(self, results, scores, columns)

    def fit(self, train_topics: pd.DataFrame, train_qrels: pd.DataFrame, *, negatives: pt.Transformer | None = None,
            dataset: "DatasetLike | None" = None, output_dir: str | Path | None = None, epochs: int = 1,
            batch_size: int = 16, seed: int = 42, num_negatives: int = 4, learning_rate: float = 2e-5) -> "CrossEncoder":
        """Fine-tune on ``train_qrels`` positives and hard negatives from ``negatives`` (a pipeline run on
        ``train_topics``), texts from ``dataset``; return a cross-encoder on the checkpoint saved in ``output_dir``
        (see :class:`~transformers_ir.core.stage.Trainable`)."""
        if negatives is None or dataset is None:
            raise ValueError("CrossEncoder.fit needs negatives= (a pipeline ranking the train topics, e.g. "
                             "BM25(dataset) % 50) and dataset= (where the documents' text is)")
        dataset = load_dataset(dataset)
        training = {"epochs": epochs, "batch_size": batch_size, "seed": seed, "num_negatives": num_negatives,
                    "learning_rate": learning_rate}
        folder, done = training_output_dir(self, output_dir, train_topics, train_qrels, negatives,
                                           {**training, "corpus": dataset.fingerprint()})
        if not done:
            from .training import train_cross_encoder
            train_cross_encoder(self.scorer, train_topics, train_qrels, negatives, dataset, folder, **training)
        return self.replace(model=folder)
