"""Indexing by training: a DSI model learns text -> docid from documents, pseudo-queries and training queries."""
from __future__ import annotations

import math
import re
import time
import warnings
from dataclasses import asdict, dataclass, fields
from typing import Callable, Iterable

import numpy as np
import pandas as pd

from ..core import require_columns
from ..core.progress import show_progress
from ..data import document_text
from ..encoders import seed_everything
from .docids import DocidMapping
from .model import DocidModel
from .trie import DocidTrie

DOCUMENT_KINDS = ("document", "span")  # indexing inputs; the others ("pseudo_query", "query") are query-like
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True)
class TrainingConfig:
    """How a DSI model is trained (part of its identity).

    Each epoch shows every document input (its first ``max_length`` tokens of title + text, and
    ``spans_per_doc`` random spans of ``span_words`` words) and ``query_ratio`` times as many query-like inputs
    (sampled from training queries and each document's first ``pseudo_queries_per_doc`` sentences; at most all). Training
    stops once greedy constrained decoding of the document inputs reaches Hits@1 ``target_accuracy``, or after
    ``epochs``. ``freeze_encoder`` (default: on CPU) trains the decoder only, on cached encoder outputs.
    """

    epochs: int = 60
    batch_size: int = 32
    learning_rate: float = 1e-3
    target_accuracy: float = 1.0
    max_length: int = 64
    spans_per_doc: int = 2
    span_words: int = 24
    pseudo_queries_per_doc: int = 3
    query_ratio: float = 1.0
    freeze_encoder: bool | None = None
    seed: int = 42

    def to_json(self) -> dict:
        return asdict(self)


TRAINING_FIELDS = tuple(f.name for f in fields(TrainingConfig))


def resolved_freeze(config: TrainingConfig, device: str) -> bool:
    """Whether the encoder is frozen: ``config.freeze_encoder``, by default on CPU only."""
    return config.freeze_encoder if config.freeze_encoder is not None else device == "cpu"


def document_examples(docs: Iterable[dict], config: TrainingConfig, rng: np.random.Generator) -> pd.DataFrame:
    """``text, docno, kind`` inputs for each document: the document itself, random spans, sentences."""
    rows = []
    for doc in docs:
        docno, text = str(doc["docno"]), document_text(doc)
        rows.append((text, docno, "document"))
        words = str(doc.get("text") or text).split()
        for _ in range(config.spans_per_doc if len(words) > config.span_words else 0):
            start = int(rng.integers(0, len(words) - config.span_words + 1))
            rows.append((" ".join(words[start:start + config.span_words]), docno, "span"))
        sentences = [s for s in _SENTENCE.split(str(doc.get("text") or "")) if len(s.split()) >= 4]
        rows.extend((s, docno, "pseudo_query") for s in sentences[:config.pseudo_queries_per_doc])
    return pd.DataFrame(rows, columns=["text", "docno", "kind"])


def query_examples(topics: pd.DataFrame, qrels: pd.DataFrame) -> pd.DataFrame:
    """``text, docno, kind`` for each relevant (query, document) pair of training topics and qrels."""
    require_columns("DSI training topics", topics.columns, ["qid", "query"])
    require_columns("DSI training qrels", qrels.columns, ["qid", "docno", "label"])
    pairs = topics[["qid", "query"]].astype({"qid": str}).merge(
        qrels[qrels["label"] > 0][["qid", "docno"]].astype(str), on="qid")
    return pd.DataFrame({"text": pairs["query"].astype(str), "docno": pairs["docno"], "kind": "query"})


def indexing_accuracy(model: DocidModel, mapping: DocidMapping, trie: DocidTrie, texts: list[str],
                      docnos: list[str], max_length: int, batch_size: int = 64,
                      encode: Callable[[list[str]], dict] | None = None) -> float:
    """Hits@1 of greedy constrained decoding: the share of ``texts`` decoded to their document's docid."""
    if not texts:
        return float("nan")
    decoded = model.decode(texts, trie, 1, max_length, batch_size, encode)
    hits = sum(bool(d) and d[0][0] == mapping.docid(docno) for d, docno in zip(decoded, docnos))
    return hits / len(texts)


class _EncoderCache:
    """Encoder outputs per input text, computed once (the encoder is frozen)."""

    def __init__(self, model: DocidModel, texts: Iterable[str], max_length: int, batch_size: int):
        import torch
        self.states: dict[str, "torch.Tensor"] = {}
        encoder = model.model.get_encoder()
        unique = sorted(set(texts), key=len)
        with torch.inference_mode():
            for start in range(0, len(unique), batch_size):
                batch = unique[start:start + batch_size]
                inputs = model.tokenize(batch, max_length)
                hidden = encoder(**inputs).last_hidden_state
                for text, h, n in zip(batch, hidden, inputs["attention_mask"].sum(dim=1).tolist()):
                    self.states[text] = h[:n].clone()

    def batch(self, texts: list[str]) -> dict:
        import torch
        from transformers.modeling_outputs import BaseModelOutput
        states = [self.states[t] for t in texts]
        hidden = torch.nn.utils.rnn.pad_sequence(states, batch_first=True)
        mask = torch.zeros(hidden.shape[:2], dtype=torch.long, device=hidden.device)
        for i, s in enumerate(states):
            mask[i, :len(s)] = 1
        return {"encoder_outputs": BaseModelOutput(last_hidden_state=hidden), "attention_mask": mask}


def train_dsi(model: DocidModel, mapping: DocidMapping, examples: pd.DataFrame, config: TrainingConfig,
              device: str, verbose: bool = False) -> dict:
    """Train ``model`` on ``examples`` (``text, docno, kind``) to decode each docno's docid, mixing document and
    query-like inputs per ``config``; returns what happened (epochs, seconds, final indexing accuracy, losses)."""
    import torch
    from tqdm.auto import tqdm
    seed_everything(config.seed)
    rng = np.random.default_rng(config.seed)
    trie = DocidTrie((model.vocab.tokens(d) for d in mapping.docids.values()), model.vocab.eos)
    targets = {docno: model.vocab.tokens(mapping.docid(docno)) + [model.vocab.eos]
               for docno in examples["docno"].unique()}
    is_document = examples["kind"].isin(DOCUMENT_KINDS).to_numpy()
    documents, queries = np.flatnonzero(is_document), np.flatnonzero(~is_document)
    n_queries = min(len(queries), round(config.query_ratio * len(documents))) if len(queries) else 0
    per_epoch = len(documents) + n_queries
    evaluation = examples[examples["kind"] == "document"]
    eval_texts, eval_docnos = evaluation["text"].tolist(), evaluation["docno"].tolist()

    start = time.perf_counter()  # the encoder-output cache is part of training time
    net = model.model.to(device)
    freeze = resolved_freeze(config, device)
    cache = None
    if freeze and model.freeze_encoder():
        cache = _EncoderCache(model, examples["text"], config.max_length, 2 * config.batch_size)
    parameters = [p for p in net.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(parameters, lr=config.learning_rate)
    total_steps = config.epochs * math.ceil(per_epoch / config.batch_size)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: max(0.0, 1 - step / total_steps))

    losses, accuracy, epoch = [], 0.0, 0
    bar = tqdm(range(1, config.epochs + 1), desc="DSI indexing", unit="epoch", disable=not show_progress(verbose))
    for epoch in bar:
        net.train()
        chosen = np.concatenate([documents, rng.choice(queries, n_queries, replace=False)]) if n_queries else documents
        order = rng.permutation(chosen)
        epoch_loss = 0.0
        for first in range(0, len(order), config.batch_size):
            batch = examples.iloc[order[first:first + config.batch_size]]
            texts = batch["text"].tolist()
            inputs = cache.batch(texts) if cache else model.tokenize(texts, config.max_length)
            labels = _labels([targets[d] for d in batch["docno"]]).to(device)
            with warnings.catch_warnings():  # EncoderDecoderModel warns on every call with labels
                warnings.filterwarnings("ignore", "Version v4.12.0 introduces", FutureWarning)
                loss = net(**inputs, labels=labels).loss
            loss.backward()
            optimizer.step()
            schedule.step()
            optimizer.zero_grad(set_to_none=True)
            epoch_loss += loss.item() * len(batch)
        losses.append(round(epoch_loss / len(order), 4))
        accuracy = indexing_accuracy(model, mapping, trie, eval_texts, eval_docnos, config.max_length,
                                     encode=cache.batch if cache else None)
        bar.set_postfix(loss=losses[-1], hits1=round(accuracy, 3))
        if accuracy >= config.target_accuracy:
            break
    bar.close()
    net.eval()
    for p in net.parameters():
        p.requires_grad_(True)
    return {"epochs": epoch, "seconds": round(time.perf_counter() - start, 1), "examples": len(examples),
            "examples_per_epoch": per_epoch, "indexing_accuracy": round(accuracy, 4), "loss": losses,
            "encoder_frozen": bool(freeze), "encoder_cached": cache is not None, "device": device}


def _labels(targets: list[list[int]]):
    import torch
    labels = torch.full((len(targets), max(map(len, targets))), -100, dtype=torch.long)
    for i, t in enumerate(targets):
        labels[i, :len(t)] = torch.tensor(t)
    return labels
