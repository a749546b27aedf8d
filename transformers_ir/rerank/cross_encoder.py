"""Cross-encoder re-ranking (sentence-transformers ``CrossEncoder``) as a PyTerrier transformer."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyterrier as pt

from ..core.rescore import rescored, rescorer_outputs
from ..data import Dataset
from ..encoders import PairScorer


def passage_text(frame: pd.DataFrame) -> list[str]:
    """``title + " " + text`` where a title is present, else ``text`` (missing values read as empty)."""
    text = frame["text"].fillna("").astype(str)
    if "title" in frame.columns:
        text = (frame["title"].fillna("").astype(str) + " " + text).str.strip()
    return text.tolist()


class CrossEncoder(pt.Transformer):
    """Re-scores (query, document text) pairs of its input with a cross-encoder and re-ranks per query.

    Needs ``qid, query, docno, text`` (``title`` is prepended when present):
    ``bm25 % 100 >> TextLoader(ds, fields=("title", "text")) >> CrossEncoder(model)``. The score is the model's
    logit; a NaN score is replaced by ``-inf`` (ranked last, with a warning). ``fit()`` fine-tunes the model.
    """

    def __init__(self, model: str | Path, *, batch_size: int = 32, max_length: int | None = 512, bf16: bool = False,
                 device: str | None = None, verbose: bool = False):
        self.scorer = PairScorer(model, batch_size=batch_size, max_length=max_length, bf16=bf16, device=device,
                                 show_progress=verbose)
        self.verbose = verbose

    @property
    def params(self) -> dict:
        return {"model": self.scorer.model_name, "max_length": self.scorer.max_length, "bf16": self.scorer.bf16}

    def fingerprint(self) -> dict:
        """What this stage computes: the model's weights, max_length and precision."""
        model = self.scorer.identity()
        return {"model": model["weights_sha256"] or model["name"], "max_length": model["max_length"],
                "bf16": self.scorer.bf16}

    def __repr__(self) -> str:
        return f"CrossEncoder({self.scorer.model_name!r}, max_length={self.scorer.max_length})"

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
        scores = self.scorer.score(results["query"].tolist(), passage_text(results), desc=f"{self}")
        return rescored(self, results, scores, columns)

    def fit(self, train_topics: pd.DataFrame, train_qrels: pd.DataFrame, negatives: pt.Transformer,
            dataset: "str | Dataset", output_dir: str | Path, *, epochs: int = 1, batch_size: int = 16,
            seed: int = 42, num_negatives: int = 4, learning_rate: float = 2e-5) -> "CrossEncoder":
        """Fine-tune on ``train_qrels`` positives and hard negatives from ``negatives`` (a pipeline run on
        ``train_topics``); save the checkpoint to ``output_dir`` and score with it from then on."""
        from .training import train_cross_encoder
        train_cross_encoder(self.scorer, train_topics, train_qrels, negatives, dataset, Path(output_dir),
                            epochs=epochs, batch_size=batch_size, seed=seed, num_negatives=num_negatives,
                            learning_rate=learning_rate)
        self.scorer = PairScorer(Path(output_dir), batch_size=self.scorer.batch_size, max_length=self.scorer.max_length,
                                 bf16=self.scorer.bf16, device=self.scorer.device, show_progress=self.verbose)
        return self
