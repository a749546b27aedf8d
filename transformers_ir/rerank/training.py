"""Fine-tuning a cross-encoder on qrels positives and hard negatives mined by a retrieval pipeline."""
from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import pandas as pd
import pyterrier as pt

from ..core import atomic_write_text, require_columns
from ..data import Dataset, document_texts, load_dataset
from ..data.training import mine_pairs
from ..encoders import PairScorer, load_cross_encoder, seed_everything


def train_cross_encoder(scorer: PairScorer, topics: pd.DataFrame, qrels: pd.DataFrame, negatives: pt.Transformer,
                        dataset: "str | Dataset", output_dir: Path, *, epochs: int, batch_size: int, seed: int,
                        num_negatives: int, learning_rate: float) -> dict:
    """Train a private copy of ``scorer``'s model with sentence-transformers' ``CrossEncoderTrainer`` and
    ``BinaryCrossEntropyLoss``; save it and ``training.json`` (pairs, seed, loss log, seconds) in ``output_dir``."""
    import datasets
    import torch
    from sentence_transformers.cross_encoder import CrossEncoderTrainer, CrossEncoderTrainingArguments
    from sentence_transformers.cross_encoder.losses import BinaryCrossEntropyLoss

    require_columns("CrossEncoder.fit train_topics", topics.columns, ["qid", "query"])
    require_columns("CrossEncoder.fit train_qrels", qrels.columns, ["qid", "docno", "label"])
    dataset = load_dataset(dataset)
    seed_everything(seed)
    pairs = mine_pairs(topics, qrels, negatives.transform(topics), num_negatives)
    if not len(pairs):
        raise ValueError("CrossEncoder.fit: no training pairs (no train topic has a relevant document in the qrels)")
    docs = dataset.docstore().lookup(pairs["docno"].tolist()).set_index("docno")
    pairs = pairs.join(docs[["title", "text"]], on="docno")
    train = datasets.Dataset.from_dict({"query": pairs["query"].tolist(), "passage": document_texts(pairs),
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
