"""DSI (Differentiable Search Index) as a PyTerrier retriever: a seq2seq model decodes docids from queries."""
from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Annotated, Iterable, Literal

import numpy as np
import pandas as pd
import pyterrier as pt
from annotated_types import Ge

from ..core import require_columns
from ..core.fingerprint import frame_fingerprint
from ..core.index_folder import index_path
from ..core.progress import show_progress
from ..core.retriever import Retriever, results_frame
from ..core.stage import Count, Fraction, NonNegative, NonNegativeInt, Positive, Stage
from ..data import DatasetLike, document_text, load_dataset
from ..encoders import BUNDLED_MINILM_NAME, TextEncoder, choose_device, model_identity
from .docids import SCHEMES, DocidMapping, extend_docids, make_docids
from .index import DSIIndex
from .model import DocidModel, base_identity
from .training import (TRAINING_FIELDS, TrainingConfig, document_examples, indexing_accuracy, query_examples,
                       resolved_freeze, train_dsi)
from .trie import DocidTrie


class DSI(Retriever, Stage):
    """Retrieves by decoding docids of ``dataset``'s documents from the query with a seq2seq ``model``.

    Indexing is training (:meth:`fit`, run on first use): the model learns document text -> docid (plus random
    spans, sentences as pseudo-queries, and ``train_split``'s queries when given). ``docids`` is ``naive``
    (document numbers), ``semantic`` (hierarchical k-means of ``docid_encoder`` embeddings, ``branches`` per
    level, leaves of at most ``leaf_size``) or ``atomic`` (one new token per document). ``model`` is a seq2seq
    checkpoint (e.g. ``t5-small``) or an encoder-only one (default: the bundled MiniLM) under a random
    ``decoder_layers``-layer decoder. Retrieval is beam search over a trie of valid docids (``% k`` sets the
    beams); ``score`` is the docid's log-probability. :meth:`add_documents` indexes more documents (DSI++).
    The trained model lives in an index folder keyed by corpus, docids, model and training settings.
    """

    runtime_params = frozenset({"device", "verbose"})  # batch_size shapes training here

    def __init__(self, dataset: "DatasetLike | None" = None, model: str | Path | None = None, *,
                 docids: Literal[SCHEMES] = "naive", num_results: Count = 10,
                 index: "DSIIndex | str | Path | None" = None, train_split: str | None = None,
                 leaf_size: Count = 100, branches: Annotated[int, Ge(2)] = 10,
                 docid_encoder: str | Path = BUNDLED_MINILM_NAME, decoder_layers: Count = 2, epochs: Count = 60,
                 batch_size: Count = 32, learning_rate: Positive = 1e-3, target_accuracy: Fraction = 1.0,
                 max_length: Count = 64, spans_per_doc: NonNegativeInt = 2, span_words: Count = 24,
                 pseudo_queries_per_doc: NonNegativeInt = 3, query_ratio: NonNegative = 1.0,
                 freeze_encoder: bool | None = None, seed: int = 42, device: str | None = None,
                 verbose: bool = False):
        if index is None and dataset is None:
            raise ValueError("DSI needs a dataset (to index) or a trained model folder (index=)")
        self.dataset = load_dataset(dataset) if dataset is not None else None
        self.model = model
        self.docids, self.num_results, self.train_split = docids, int(num_results), train_split
        self.leaf_size, self.branches, self.docid_encoder = int(leaf_size), int(branches), docid_encoder
        self.decoder_layers, self.device, self.verbose = int(decoder_layers), device, verbose
        self.epochs, self.batch_size, self.learning_rate = int(epochs), int(batch_size), float(learning_rate)
        self.target_accuracy, self.max_length, self.spans_per_doc = float(target_accuracy), int(max_length), spans_per_doc
        self.span_words, self.pseudo_queries_per_doc, self.query_ratio = span_words, pseudo_queries_per_doc, query_ratio
        self.freeze_encoder, self.seed = freeze_encoder, int(seed)
        self._train: tuple[pd.DataFrame, pd.DataFrame] | None = None
        self._index = index if isinstance(index, DSIIndex) or index is None else DSIIndex(index)
        self._derived_index: DSIIndex | None = None
        self._loaded: tuple[DocidModel, DocidTrie] | None = None

    @property
    def model_name(self) -> str:
        return str(self.model or BUNDLED_MINILM_NAME)

    @property
    def training(self) -> TrainingConfig:
        """How the model is trained (from this stage's parameters)."""
        return TrainingConfig(**{field: getattr(self, field) for field in TRAINING_FIELDS})

    def identity(self) -> dict:
        """What training depends on beyond the parameters (base model and docid encoder weights, training queries),
        or the trained model folder's identity — computed without training."""
        return {"trained": self._key()} if self._index is None else {}

    # --- the index folder -------------------------------------------------------------------------------------

    def _train_data(self) -> tuple[pd.DataFrame, pd.DataFrame] | None:
        if self._train is None and self.train_split is not None:
            self._train = (self.dataset.topics(self.train_split), self.dataset.qrels(self.train_split))
        return self._train

    def _key(self) -> dict:
        """What the trained model depends on: corpus, docid scheme, base model, training settings and data."""
        docids = {"scheme": self.docids}
        if self.docids == "semantic":
            docids.update(leaf_size=self.leaf_size, branches=self.branches,
                          encoder=model_identity(self.docid_encoder)["weights_sha256"] or self.docid_encoder)
        train = self._train_data()
        return {"corpus": self.dataset.fingerprint(), "docids": docids,
                "model": base_identity(self.model_name, self.decoder_layers),
                "training": {**self.training.to_json(),
                             "freeze_encoder": resolved_freeze(self.training, choose_device(self.device))},
                "train": [frame_fingerprint(f) for f in train] if train else None}

    @property
    def index(self) -> DSIIndex:
        """The folder of the trained model (not trained by asking; see :meth:`prepare`)."""
        if self._index is not None:
            return self._index
        if self._derived_index is None:
            self._derived_index = DSIIndex(index_path("dsi", self.dataset.name, self._key()))
        return self._derived_index

    def mapping(self) -> DocidMapping:
        """The docno <-> docid mapping of the trained model (training first, if needed)."""
        return self.prepare().index.mapping()

    def prepare(self) -> "DSI":
        """Train the model if its folder is not built yet (indexing), then load it."""
        if self._loaded is None:
            index = self.index
            if not index.built() and self.dataset is None:
                raise FileNotFoundError(f"{self}: model folder {index.path} is not built and no dataset was given")
            index.build_once(index.built, lambda: self._build(index))
            model = index.load_model(choose_device(self.device))
            mapping = index.mapping()
            self._loaded = (model, DocidTrie((model.vocab.tokens(d) for d in mapping.docids.values()),
                                             model.vocab.eos))
        return self

    def fit(self, train_topics: pd.DataFrame | None = None, train_qrels: pd.DataFrame | None = None, *,
            negatives: pt.Transformer | None = None, dataset: "DatasetLike | None" = None,
            output_dir: str | Path | None = None, **training) -> "DSI":
        """Index ``dataset`` (default: the stage's) by training — documents, pseudo-queries and, when given, the
        training queries with their relevant documents — with these constructor ``training`` settings changed;
        the model goes to ``output_dir`` (default: a folder under the cache keyed by all of that, reused when it
        is there). Returns the trained stage (:class:`~transformers_ir.core.stage.Trainable`; DSI needs no
        ``negatives``)."""
        if (train_topics is None) != (train_qrels is None):
            raise ValueError("DSI.fit: give both train_topics and train_qrels, or neither")
        changes = {**training, **({"dataset": dataset} if dataset is not None else {}),
                   **({"index": output_dir} if output_dir is not None else {})}
        stage = self.replace(**changes) if changes else copy.copy(self)
        if stage.dataset is None:
            raise ValueError(f"{self}.fit: needs the dataset whose documents it indexes")
        stage._derived_index, stage._loaded = None, None
        if train_topics is not None:
            stage._train = (train_topics, train_qrels)
        return stage.prepare()

    def _build(self, index: DSIIndex) -> None:
        start = time.perf_counter()
        docs = list(self.dataset.corpus_iter())
        docnos = [str(d["docno"]) for d in docs]
        embeddings = self._embed(docs) if self.docids == "semantic" else None
        mapping = make_docids(self.docids, docnos, embeddings, branches=self.branches, leaf_size=self.leaf_size,
                              seed=self.training.seed)
        rng = np.random.default_rng(self.training.seed)
        examples = document_examples(docs, self.training, rng)
        train = self._train_data()
        if train:
            examples = pd.concat([examples, query_examples(*train)], ignore_index=True)
        model = DocidModel.create(self.model_name, mapping.num_symbols, self.decoder_layers, self.training.seed)
        stats = train_dsi(model, mapping, examples, self.training, choose_device(self.device), self.verbose)
        index.write(model, mapping, examples, embeddings, {
            "type": "dsi", "source": self.dataset.name, "corpus_fingerprint": self.dataset.fingerprint(),
            "docids": self._key()["docids"], "base_model": base_identity(self.model_name, self.decoder_layers),
            "training": self.training.to_json(), "train_queries": int(train[0]["qid"].nunique()) if train else 0,
            **stats, "build_seconds": round(time.perf_counter() - start, 1),
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")})

    def _embed(self, docs: list[dict]) -> np.ndarray:
        encoder = TextEncoder(self.docid_encoder, device=self.device, show_progress=show_progress(self.verbose))
        return encoder.encode([document_text(d) for d in docs], desc="DSI: embedding documents for docids")

    # --- retrieval --------------------------------------------------------------------------------------------

    def _retrieve(self, topics: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
        queries = topics["query"].fillna("").astype(str)
        asked = np.flatnonzero(queries.str.strip() != "").tolist()
        if not asked:
            return pd.DataFrame(columns=columns)
        self.prepare()
        model, trie = self._loaded
        mapping = self.index.mapping()
        k = min(self.num_results, len(mapping))
        decoded = model.decode(queries.iloc[asked].tolist(), trie, k, self.training.max_length,
                               self.training.batch_size)
        hits = [(row, mapping.docno(docid), score, rank)
                for row, found in zip(asked, decoded) for rank, (docid, score) in enumerate(found)]
        rows, docnos, scores, ranks = zip(*hits) if hits else ((), (), (), ())
        return results_frame(topics, rows, docnos, scores, ranks, columns)

    def indexing_accuracy(self, docs: "pd.DataFrame | Iterable[dict] | None" = None) -> float:
        """Hits@1 of greedy constrained decoding of each document's title + text (default: every indexed document,
        added ones included)."""
        self.prepare()
        if docs is None:
            inputs = self.index.examples().query("kind == 'document'")
            texts, docnos = inputs["text"].tolist(), inputs["docno"].tolist()
        else:
            docs = _records(docs)
            texts, docnos = [document_text(d) for d in docs], [str(d["docno"]) for d in docs]
        model, trie = self._loaded
        return indexing_accuracy(model, self.index.mapping(), trie, texts, docnos, self.training.max_length)

    # --- incremental indexing (DSI++) -------------------------------------------------------------------------

    def add_documents(self, docs: "pd.DataFrame | Iterable[dict]", *, replay: bool = True, replay_ratio: float = 4.0,
                      epochs: int | None = None, learning_rate: float | None = None) -> "DSI":
        """A stage whose model also retrieves ``docs`` (``docno, text``, optional ``title``): they get new docids
        (next numbers / nearest leaf / new tokens) and training continues on their inputs (at ``learning_rate``,
        default half the indexing one), mixed with ``replay_ratio`` times as many earlier training examples when
        ``replay`` (to limit forgetting). Early stopping looks at the new documents only, so without replay it
        cannot see forgetting (measure it with :meth:`indexing_accuracy`). This stage is unchanged; the new model
        gets its own folder."""
        docs = _records(docs)
        require_columns("DSI.add_documents docs", list(docs[0]) if docs else [], ["docno", "text"])
        self.prepare()
        parent = self.index
        old_mapping = parent.mapping()
        docnos = [str(d["docno"]) for d in docs]
        embeddings = self._embed(docs) if old_mapping.scheme == "semantic" else None
        stored = parent.embeddings()
        mapping = extend_docids(old_mapping, docnos, embeddings, stored)
        training = TrainingConfig(**{**self.training.to_json(), "epochs": epochs or self.training.epochs,
                                     "learning_rate": learning_rate or self.training.learning_rate / 2})
        key = {"parent": parent.path.name, "weights": parent.weights_sha256(), "docids": mapping.sha256(),
               "added": frame_fingerprint(pd.DataFrame(docs).astype(str)), "replay": replay,
               "replay_ratio": replay_ratio, "training": training.to_json()}
        index = DSIIndex(index_path("dsi", self.dataset.name if self.dataset is not None else "folder", key))

        def train() -> None:
            model = parent.load_model(choose_device(self.device))
            if mapping.num_symbols > model.vocab.num_symbols:
                model.add_symbols(mapping.num_symbols - model.vocab.num_symbols)
            rng = np.random.default_rng(training.seed)
            new = document_examples(docs, training, rng)
            old = parent.examples()
            replayed = (old.sample(n=min(len(old), round(replay_ratio * len(new))), random_state=training.seed)
                        if replay else old.iloc[:0])
            examples = pd.concat([new, replayed], ignore_index=True)
            stats = train_dsi(model, mapping, examples, training, choose_device(self.device), self.verbose)
            index.write(model, mapping, pd.concat([old, new], ignore_index=True),
                        None if embeddings is None else np.concatenate([stored, embeddings]),
                        {**(parent.manifest or {}), "type": "dsi", "parent": str(parent.path),
                         "added_documents": len(docs), "replay": replay, "replay_ratio": replay_ratio,
                         "replayed_examples": len(replayed), "training": training.to_json(),
                         **stats, "build_seconds": stats["seconds"],
                         "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")})

        index.build_once(index.built, train)
        stage = copy.copy(self)
        stage._index, stage._loaded = index, None
        stage.epochs, stage.learning_rate = training.epochs, training.learning_rate
        return stage


def _records(docs: "pd.DataFrame | Iterable[dict]") -> list[dict]:
    return docs.to_dict("records") if isinstance(docs, pd.DataFrame) else [dict(d) for d in docs]
