"""Fine-tuning ColBERT with sentence-transformers' ``MultiVectorEncoderTrainer``: MaxSim in-batch negatives plus
hard negatives mined by a retrieval pipeline."""
from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pyterrier as pt

from ..core import atomic_write_text, require_columns
from ..data import Dataset, load_dataset
from ..encoders import seed_everything
from .colbert_model import load_colbert
from .cross_encoder import passage_text
from .training import training_pairs

if TYPE_CHECKING:
    from .colbert import ColBERT


def training_triples(pairs: pd.DataFrame, num_negatives: int) -> pd.DataFrame:
    """``query, positive, negative`` text triples: each positive with each of its query's first ``num_negatives``
    hard negatives (``pairs`` as :func:`training_pairs` gives them, with a ``passage`` column)."""
    positives = pairs[pairs["label"] > 0][["qid", "query", "passage"]].rename(columns={"passage": "positive"})
    negatives = pairs[pairs["label"] <= 0].groupby("qid", sort=False).head(num_negatives)
    triples = positives.merge(negatives[["qid", "passage"]].rename(columns={"passage": "negative"}), on="qid")
    return triples[["query", "positive", "negative"]].reset_index(drop=True)


def train_colbert(stage: "ColBERT", topics: pd.DataFrame, qrels: pd.DataFrame, negatives: pt.Transformer,
                  dataset: "str | Dataset", output_dir: Path, *, epochs: int, batch_size: int, seed: int,
                  num_negatives: int, learning_rate: float, max_steps: int | None) -> dict:
    """Train a private copy of ``stage``'s model with ``MultiVectorMultipleNegativesRankingLoss`` (no duplicate
    texts in a batch); save it and ``training.json`` (triples, seed, loss log, seconds) in ``output_dir``."""
    import datasets
    import torch
    from sentence_transformers import MultiVectorEncoderTrainer, MultiVectorEncoderTrainingArguments
    from sentence_transformers.base.sampler import BatchSamplers
    from sentence_transformers.multi_vector_encoder.losses import MultiVectorMultipleNegativesRankingLoss

    require_columns("ColBERT.fit train_topics", topics.columns, ["qid", "query"])
    require_columns("ColBERT.fit train_qrels", qrels.columns, ["qid", "docno", "label"])
    dataset = load_dataset(dataset)
    seed_everything(seed)
    pairs = training_pairs(topics, qrels, negatives.transform(topics), num_negatives)
    docs = dataset.docstore().lookup(pairs["docno"].tolist()).set_index("docno")
    pairs = pairs.join(docs[["title", "text"]], on="docno")
    triples = training_triples(pairs.assign(passage=passage_text(pairs)), num_negatives)
    if not len(triples):
        raise ValueError("ColBERT.fit: no training triples (no train topic has a relevant and a negative document)")
    model = load_colbert(str(stage.model), stage.device, stage.dim, stage.seed, stage.max_length, shared=False)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="tir-colbert-train-") as scratch:
        args = MultiVectorEncoderTrainingArguments(
            output_dir=scratch, num_train_epochs=epochs, max_steps=max_steps or -1,
            per_device_train_batch_size=batch_size, learning_rate=learning_rate, warmup_steps=0.1, seed=seed,
            data_seed=seed, logging_steps=5, save_strategy="no", report_to="none",
            batch_sampler=BatchSamplers.NO_DUPLICATES, dataloader_pin_memory=torch.cuda.is_available())
        trainer = MultiVectorEncoderTrainer(model=model, args=args, train_dataset=datasets.Dataset.from_pandas(triples),
                                            loss=MultiVectorMultipleNegativesRankingLoss(model))
        trainer.train()
    output_dir.mkdir(parents=True, exist_ok=True)
    model.save(str(output_dir))
    log = {"base_model": str(stage.model), "dataset": dataset.name, "topics": int(pairs["qid"].nunique()),
           "triples": len(triples), "negatives_from": str(negatives), "num_negatives": num_negatives,
           "epochs": epochs, "max_steps": max_steps, "batch_size": batch_size, "learning_rate": learning_rate,
           "seed": seed, "seconds": round(time.perf_counter() - start, 1),
           "loss": [e for e in trainer.state.log_history if "loss" in e or "train_loss" in e]}
    atomic_write_text(output_dir / "training.json", json.dumps(log, indent=2))
    return log
