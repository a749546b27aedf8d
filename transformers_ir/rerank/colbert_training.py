"""Fine-tuning ColBERT with sentence-transformers' ``MultiVectorEncoderTrainer``: MaxSim in-batch negatives plus
hard negatives mined by a retrieval pipeline."""
from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import pandas as pd
import pyterrier as pt

from ..core import atomic_write_text, require_columns
from ..data import Dataset, document_texts, load_dataset
from ..data.training import mine_pairs, mine_triples
from ..encoders import seed_everything
from .colbert_model import load_colbert


def train_colbert(model_name: str, device: str | None, dim: int, projection_seed: int, max_length: int | None,
                  topics: pd.DataFrame, qrels: pd.DataFrame, negatives: pt.Transformer, dataset: "str | Dataset",
                  output_dir: Path, *, epochs: int, batch_size: int, seed: int, num_negatives: int,
                  learning_rate: float, max_steps: int | None) -> dict:
    """Train a private copy of the ColBERT ``model_name`` (as :func:`load_colbert` loads it) with ``MultiVectorMultipleNegativesRankingLoss`` (no duplicate
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
    pairs = mine_pairs(topics, qrels, negatives.transform(topics), num_negatives)
    mined = mine_triples(pairs, num_negatives)
    docs = dataset.docstore().lookup(sorted(set(mined["positive"]) | set(mined["negative"]))).set_index("docno")
    text = dict(zip(docs.index, document_texts(docs)))
    triples = pd.DataFrame({"query": mined["query"], "positive": mined["positive"].map(text),
                            "negative": mined["negative"].map(text)})
    if not len(triples):
        raise ValueError("ColBERT.fit: no training triples (no train topic has a relevant and a negative document)")
    model = load_colbert(model_name, device, dim, projection_seed, max_length, shared=False)
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
    log = {"base_model": model_name, "dataset": dataset.name, "topics": int(pairs["qid"].nunique()),
           "triples": len(triples), "negatives_from": str(negatives), "num_negatives": num_negatives,
           "epochs": epochs, "max_steps": max_steps, "batch_size": batch_size, "learning_rate": learning_rate,
           "seed": seed, "seconds": round(time.perf_counter() - start, 1),
           "loss": [e for e in trainer.state.log_history if "loss" in e or "train_loss" in e]}
    atomic_write_text(output_dir / "training.json", json.dumps(log, indent=2))
    return log
