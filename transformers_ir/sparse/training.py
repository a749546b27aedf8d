"""Training SPLADE: contrastive loss with in-batch and pipeline-mined negatives, FLOPS / L1 sparsity regularisers."""
from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import pandas as pd
import pyterrier as pt
import torch

from ..core import atomic_write_text, require_columns
from ..data import Dataset, document_text
from ..data.training import mine_pairs, mine_triples
from ..encoders import seed_everything
from .splade_encoder import SpladeEncoder, load_splade


class L1Regularizer(torch.nn.Module):
    """Mean L1 norm of the embeddings (SPLADE's query regulariser), in ``SpladeLoss``'s regulariser interface."""

    def compute_loss_from_embeddings(self, embeddings: torch.Tensor) -> torch.Tensor:
        return embeddings.abs().sum(dim=1).mean()


def train_splade(encoder: SpladeEncoder, topics: pd.DataFrame, qrels: pd.DataFrame, negatives: pt.Transformer,
                 dataset: Dataset | None, output_dir: Path, *, epochs: int = 1, batch_size: int = 16,
                 learning_rate: float = 2e-5, document_regularizer_weight: float = 3e-5,
                 query_regularizer_weight: float = 1e-4, warmup_ratio: float = 1 / 3, seed: int = 42,
                 max_topics: int | None = None) -> dict:
    """Train a private copy of ``encoder``'s model with sentence-transformers' ``SparseEncoderTrainer``:
    ``SpladeLoss(SparseMultipleNegativesRankingLoss)`` (in-batch negatives plus one ``negatives``-mined hard
    negative per pair), FLOPS on documents, L1 on queries, both weights warmed up quadratically over
    ``warmup_ratio`` of the steps. Saves the model and ``training.json`` in ``output_dir``."""
    import datasets
    from sentence_transformers.sparse_encoder import (SparseEncoderTrainer, SparseEncoderTrainingArguments)
    from sentence_transformers.sparse_encoder.callbacks.splade_callbacks import \
        SpladeRegularizerWeightSchedulerCallback
    from sentence_transformers.sparse_encoder.losses import SparseMultipleNegativesRankingLoss, SpladeLoss

    if dataset is None:
        raise ValueError("SPLADE.fit needs the stage's dataset (to look training documents up)")
    require_columns("SPLADE.fit train_topics", topics.columns, ["qid", "query"])
    require_columns("SPLADE.fit train_qrels", qrels.columns, ["qid", "docno", "label"])
    seed_everything(seed)
    if max_topics is not None:
        topics = topics.sample(n=min(max_topics, len(topics)), random_state=seed)
    triples = mine_triples(mine_pairs(topics, qrels, negatives.transform(topics), None), 1, seed)
    if not len(triples):
        raise ValueError("SPLADE.fit: no training triples (no topic has both a relevant and a mined non-relevant doc)")
    found = dataset.docstore().lookup(sorted(set(triples["positive"]) | set(triples["negative"])))
    texts = {r["docno"]: document_text(r) for r in found.to_dict("records")}
    train = datasets.Dataset.from_dict({"query": triples["query"].tolist(),
                                        "positive": triples["positive"].map(texts).tolist(),
                                        "negative": triples["negative"].map(texts).tolist()})
    model = load_splade(encoder.model_name, encoder.device, encoder.max_length)
    loss = SpladeLoss(model, loss=SparseMultipleNegativesRankingLoss(model),
                      document_regularizer_weight=document_regularizer_weight,
                      query_regularizer_weight=query_regularizer_weight, query_regularizer=L1Regularizer())
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="tir-splade-train-") as scratch:
        args = SparseEncoderTrainingArguments(
            output_dir=scratch, num_train_epochs=epochs, per_device_train_batch_size=batch_size,
            learning_rate=learning_rate, warmup_steps=0.1, seed=seed, data_seed=seed, logging_steps=5,
            save_strategy="no", report_to="none", batch_sampler="no_duplicates",
            dataloader_pin_memory=torch.cuda.is_available())
        trainer = SparseEncoderTrainer(model=model, args=args, train_dataset=train, loss=loss, callbacks=[
            SpladeRegularizerWeightSchedulerCallback(loss, warmup_ratio=warmup_ratio)])
        trainer.train()
    output_dir.mkdir(parents=True, exist_ok=True)
    model.save(str(output_dir))
    log = {"base_model": encoder.model_name, "dataset": dataset.name, "topics": int(topics["qid"].nunique()),
           "triples": len(triples), "negatives_from": str(negatives), "epochs": epochs, "batch_size": batch_size,
           "learning_rate": learning_rate, "document_regularizer": f"FLOPS x {document_regularizer_weight}",
           "query_regularizer": f"L1 x {query_regularizer_weight}", "warmup_ratio": warmup_ratio, "seed": seed,
           "max_length": encoder.max_length, "seconds": round(time.perf_counter() - start, 1),
           "loss": [e for e in trainer.state.log_history if "loss" in e or "train_loss" in e]}
    atomic_write_text(output_dir / "training.json", json.dumps(log, indent=2))
    return log
