"""Fine-tuning a cross-encoder on qrels positives and hard negatives mined by a retrieval pipeline."""
from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import pandas as pd
import pyterrier as pt

from ..core import atomic_write_text, require_columns
from ..data import Dataset, load_dataset
from ..encoders import PairScorer, load_cross_encoder, seed_everything


def training_pairs(topics: pd.DataFrame, qrels: pd.DataFrame, run: pd.DataFrame, num_negatives: int) -> pd.DataFrame:
    """``qid, query, docno, label``: each judged-relevant doc (label 1) and the ``num_negatives`` best-ranked
    docs of ``run`` that are not judged relevant (label 0), for topics with at least one relevant doc."""
    positives = qrels[qrels["label"] > 0][["qid", "docno"]].astype(str).assign(label=1.0)
    run = run.assign(qid=run["qid"].astype(str), docno=run["docno"].astype(str)).sort_values(["qid", "rank"])
    negatives = run.merge(positives[["qid", "docno"]], how="left", indicator=True)
    negatives = negatives[negatives["_merge"] == "left_only"].groupby("qid", sort=False).head(num_negatives)
    pairs = pd.concat([positives, negatives[["qid", "docno"]].assign(label=0.0)], ignore_index=True)
    pairs = pairs[pairs["qid"].isin(positives["qid"])]
    queries = topics.assign(qid=topics["qid"].astype(str))[["qid", "query"]]
    return pairs.merge(queries, on="qid")[["qid", "query", "docno", "label"]]


def train_cross_encoder(scorer: PairScorer, topics: pd.DataFrame, qrels: pd.DataFrame, negatives: pt.Transformer,
                        dataset: "str | Dataset", output_dir: Path, *, epochs: int, batch_size: int, seed: int,
                        num_negatives: int, learning_rate: float) -> dict:
    """Train a private copy of ``scorer``'s model with sentence-transformers' ``CrossEncoderTrainer`` and
    ``BinaryCrossEntropyLoss``; save it and ``training.json`` (pairs, seed, loss log, seconds) in ``output_dir``."""
    import datasets
    import torch
    from sentence_transformers.cross_encoder import CrossEncoderTrainer, CrossEncoderTrainingArguments
    from sentence_transformers.cross_encoder.losses import BinaryCrossEntropyLoss

    from .cross_encoder import passage_text
    require_columns("CrossEncoder.fit train_topics", topics.columns, ["qid", "query"])
    require_columns("CrossEncoder.fit train_qrels", qrels.columns, ["qid", "docno", "label"])
    dataset = load_dataset(dataset)
    seed_everything(seed)
    pairs = training_pairs(topics, qrels, negatives.transform(topics), num_negatives)
    if not len(pairs):
        raise ValueError("CrossEncoder.fit: no training pairs (no train topic has a relevant document in the qrels)")
    docs = dataset.docstore().lookup(pairs["docno"].tolist()).set_index("docno")
    pairs = pairs.join(docs[["title", "text"]], on="docno")
    train = datasets.Dataset.from_dict({"query": pairs["query"].tolist(), "passage": passage_text(pairs),
                                        "label": pairs["label"].tolist()})
    positives = int(pairs["label"].sum())
    model = load_cross_encoder(scorer.model_name, scorer.device, scorer.max_length, shared=False)
    loss = BinaryCrossEntropyLoss(model, pos_weight=torch.tensor((len(pairs) - positives) / max(positives, 1)))
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="tir-ce-train-") as scratch:
        args = CrossEncoderTrainingArguments(
            output_dir=scratch, num_train_epochs=epochs, per_device_train_batch_size=batch_size,
            learning_rate=learning_rate, warmup_steps=0.1, seed=seed, data_seed=seed, logging_steps=10,
            save_strategy="no", report_to="none", dataloader_pin_memory=torch.cuda.is_available())
        trainer = CrossEncoderTrainer(model=model, args=args, train_dataset=train, loss=loss)
        trainer.train()
    output_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(output_dir))
    log = {"base_model": scorer.model_name, "dataset": dataset.name, "topics": int(pairs["qid"].nunique()),
           "pairs": len(pairs), "positives": positives, "negatives_from": str(negatives),
           "num_negatives": num_negatives, "epochs": epochs, "batch_size": batch_size, "learning_rate": learning_rate,
           "seed": seed, "max_length": model.max_length, "seconds": round(time.perf_counter() - start, 1),
           "loss": [e for e in trainer.state.log_history if "loss" in e or "train_loss" in e]}
    atomic_write_text(output_dir / "training.json", json.dumps(log, indent=2))
    return log
