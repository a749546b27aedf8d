"""ColBERT late-interaction re-ranking (MaxSim over token vectors) as a PyTerrier transformer."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Sequence

import numpy as np
from annotated_types import Ge
import pandas as pd
import pyterrier as pt

from ..core.rescore import rescored, rescorer_outputs
from ..core.stage import Count, Stage, training_output_dir
from ..data import DatasetLike, document_texts, load_dataset
from ..encoders import BUNDLED_MINILM_NAME, autocast, token_lengths, warn_truncated
from .colbert_model import colbert_identity, load_colbert
from .token_index import TokenIndex

MODES = ("index", "on_the_fly")


def maxsim(query: np.ndarray, documents: Sequence[np.ndarray]) -> np.ndarray:
    """``sum_i max_j q_i . d_j`` of one query's token vectors against each document's: one float32 matrix product
    over all documents' tokens, then a max per document segment (a document without tokens scores 0)."""
    lengths = np.fromiter((len(d) for d in documents), dtype=np.int64, count=len(documents))
    if not lengths.sum():
        return np.zeros(len(documents))
    tokens = np.concatenate([d for d in documents if len(d)]).astype(np.float32)
    similarities = np.asarray(query, dtype=np.float32) @ tokens.T
    starts = np.concatenate([[0], np.cumsum(lengths[lengths > 0])[:-1]])
    scores = np.zeros(len(documents))
    scores[lengths > 0] = np.maximum.reduceat(similarities, starts, axis=1).sum(axis=0, dtype=np.float64)
    return scores


class ColBERT(Stage):
    """Re-scores its input's documents by ColBERT MaxSim against the query and re-ranks per query.

    ``mode="index"`` reads document token vectors from a :class:`TokenIndex` of ``dataset`` (built by
    ``prepare()``; needs ``qid, query, docno``); ``mode="on_the_fly"`` encodes the input's ``text`` (``title``
    prepended when present) at query time. Document vectors are scored as float16 in both modes, so both give
    the same scores. ``pool_factor=2`` keeps about half of each document's vectors (hierarchical token pooling).
    ``model`` is a ColBERT checkpoint (native, PyLate, or the ``colbert-ir/colbertv2.0`` layout) or a plain
    encoder, which gets ColBERT's markers, [MASK] query expansion and a random ``dim``-wide projection drawn with
    ``seed`` (untrained; ``fit()`` trains it).
    """

    def __init__(self, dataset: "DatasetLike | None" = None, model: str | Path = BUNDLED_MINILM_NAME, *,
                 mode: Literal[MODES] = "index", pool_factor: Annotated[float, Ge(1)] | None = None, dim: Count = 128,
                 batch_size: Count = 32, max_length: Count | None = None, bf16: bool = False,
                 device: str | None = None, seed: int = 42, verbose: bool = False):
        if mode == "index" and dataset is None:
            raise ValueError("ColBERT(mode='index') needs the dataset whose documents it indexes")
        self.dataset = load_dataset(dataset) if dataset is not None else None
        self.model, self.mode, self.pool_factor = model, mode, pool_factor
        self.dim, self.batch_size, self.max_length, self.seed = int(dim), int(batch_size), max_length, int(seed)
        self.bf16, self.device, self.verbose = bool(bf16), device, verbose
        self._index: TokenIndex | None = None
        self._ready = False

    @property
    def encoder(self):
        """The loaded ``MultiVectorEncoder``."""
        return load_colbert(str(self.model), self.device, self.dim, self.seed, self.max_length)

    def model_identity(self) -> dict:
        """The loaded model's identity (weights, projection, lengths) and precision: what the token index records."""
        return {**colbert_identity(str(self.model), self.encoder), "bf16": self.bf16}

    @property
    def index(self) -> TokenIndex:
        """The token forward index of ``dataset`` for this model and pooling (index mode)."""
        if self._index is None:
            self._index = TokenIndex.for_dataset(self.dataset, self.model_identity(), self.pool_factor)
        return self._index

    def identity(self) -> dict:
        """The model by its weights and projection, and the query/document lengths it encodes to."""
        model = self.model_identity()
        return {"model": model["weights_sha256"] or model["name"], "projection": model["projection_sha256"],
                "query_length": model["query_length"], "document_length": model["document_length"]}

    def prepare(self) -> "ColBERT":
        """Load the model and, in index mode, build the token index if needed (not part of query time)."""
        if self.mode == "index":
            self.index.build(self.dataset, self.encode_documents, self.model_identity(), self.pool_factor)
        else:
            self.encoder
        self._ready = True
        return self

    def encode_queries(self, queries: Sequence[str]) -> list[np.ndarray]:
        """Each query's float32 ``(query_length, dim)`` token vectors ([MASK]-expanded as the model says)."""
        model = self.encoder
        with autocast(model.device.type, self.bf16):
            return model.encode_query(list(queries), batch_size=self.batch_size, convert_to_numpy=True,
                                      show_progress_bar=False)

    def encode_documents(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Each text's float16 ``(tokens, dim)`` vectors (pooled when ``pool_factor``), as the index stores them."""
        from sentence_transformers.multi_vector_encoder.modules import HierarchicalTokenPooling
        model = self.encoder
        texts = [str(t) for t in texts]
        warn_truncated(repr(self), token_lengths(model.tokenizer, texts), model[0].document_length)
        pooling = HierarchicalTokenPooling(self.pool_factor) if self.pool_factor else None
        with autocast(model.device.type, self.bf16):
            vectors = model.encode_document(texts, batch_size=self.batch_size, convert_to_numpy=True,
                                            token_pooling=pooling, show_progress_bar=self.verbose)
        return [v.astype(np.float16) for v in vectors]

    def transform_outputs(self, input_columns: list[str]) -> list[str]:
        if self.mode == "on_the_fly":
            return rescorer_outputs(self, input_columns, ["qid", "query", "docno", "text"],
                                    hint="attach document text first (e.g. `>> dataset.text_loader(('title', 'text'))`), "
                                         "or use mode='index'")
        return rescorer_outputs(self, input_columns, ["qid", "query", "docno"])

    def transform(self, results: pd.DataFrame) -> pd.DataFrame:
        columns = self.transform_outputs(list(results.columns))
        if not len(results):
            return pd.DataFrame(columns=columns)
        if not self._ready:
            self.prepare()
        documents = (self.index.documents(results["docno"].astype(str).tolist()) if self.mode == "index"
                     else self.encode_documents(document_texts(results)))
        firsts = results.drop_duplicates("qid")
        queries = dict(zip(firsts["qid"], self.encode_queries(firsts["query"].tolist())))
        scores = np.empty(len(results), dtype=np.float64)
        for qid, rows in results.groupby("qid", sort=False).indices.items():
            scores[rows] = maxsim(queries[qid], [documents[r] for r in rows])
        return rescored(self, results, scores, columns)

    def fit(self, train_topics: pd.DataFrame, train_qrels: pd.DataFrame, *, negatives: pt.Transformer | None = None,
            dataset: "DatasetLike | None" = None, output_dir: str | Path | None = None, epochs: int = 1,
            batch_size: int = 16, seed: int = 42, num_negatives: int = 1, learning_rate: float = 3e-5,
            max_steps: int | None = None) -> "ColBERT":
        """Fine-tune on ``train_qrels`` positives with in-batch and hard negatives from ``negatives`` (a pipeline
        run on ``train_topics``), texts from ``dataset`` (default: the stage's); return a ColBERT on the checkpoint
        saved in ``output_dir`` (see :class:`~transformers_ir.core.stage.Trainable`)."""
        dataset = load_dataset(dataset) if dataset is not None else self.dataset
        if negatives is None or dataset is None:
            raise ValueError("ColBERT.fit needs negatives= (a pipeline ranking the train topics, e.g. "
                             "BM25(dataset) % 50) and a dataset (where the documents' text is)")
        training = {"epochs": epochs, "batch_size": batch_size, "seed": seed, "num_negatives": num_negatives,
                    "learning_rate": learning_rate, "max_steps": max_steps}
        folder, done = training_output_dir(self, output_dir, train_topics, train_qrels, negatives,
                                           {**training, "corpus": dataset.fingerprint()})
        if not done:
            from .colbert_training import train_colbert
            train_colbert(str(self.model), self.device, self.dim, self.seed, self.max_length, train_topics,
                          train_qrels, negatives, dataset, folder, **training)
        return self.replace(model=str(folder.resolve()))
