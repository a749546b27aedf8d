"""What learned-sparse stages share: retrieval from a PISA impact index, or exact re-scoring of candidates."""
from __future__ import annotations

import json
from typing import Optional, Protocol, Sequence

import numpy as np
import pandas as pd

from ..core import atomic_write_text
from ..core.retriever import first_depth, retriever_outputs, top_k, with_num_results, without_results
from ..core.rescore import rescorer_outputs
from ..core.stage import Stage
from ..data import DatasetLike, document_text, load_dataset
from .impact_index import DocVectorStore, ImpactIndex, SparseVector, quantise

MODES = ("retrieve", "rescore")


class SparseTextEncoder(Protocol):
    """Texts to ``{term: weight}`` (SPLADE, uniCOIL)."""

    query_encoder: str

    def identity(self) -> dict: ...
    def load(self) -> None: ...
    def encode_documents(self, texts: Sequence[str]) -> list[SparseVector]: ...
    def encode_queries(self, texts: Sequence[str]) -> list[SparseVector]: ...


def sparse_dot(query: SparseVector, doc: SparseVector) -> float:
    return float(sum(w * doc[t] for t, w in query.items() if t in doc))


class ImpactStageBase(Stage):
    """Learned-sparse stage over ``dataset``: ``mode="retrieve"`` asks a PISA impact index (built on first use;
    integer impacts ``round(weight * scale)``, score = their dot product); ``mode="rescore"`` scores input
    candidates by the exact float dot product: documents whose float vectors the stage's index keeps (built for
    this corpus and encoder) are read from it, the others encoded from ``text``, or looked up in ``dataset``.

    Subclasses declare the parameters (``model`` and the encoder's) and store them; this base stores ``dataset``,
    ``mode``, ``index`` (as ``_index``), ``num_results``, ``scale``, ``threads`` and ``verbose``."""

    kind = "impact"

    def __init__(self, dataset: "DatasetLike | None", encoder: SparseTextEncoder, *, mode: str, index,
                 num_results: int, scale: float, threads: int, verbose: bool, encode_batch: int = 256):
        if dataset is None and (index is None if mode == "retrieve" else encoder.query_encoder == "idf"):
            alternative = " or an index" if mode == "retrieve" else ""
            raise ValueError(f"{type(self).__name__}(mode={mode!r}, query_encoder={encoder.query_encoder!r}) needs "
                             f"a dataset (to index, or for the corpus IDF){alternative}")
        self.dataset = load_dataset(dataset) if dataset is not None else None
        self.encoder, self.mode = encoder, mode
        self._index = index if isinstance(index, ImpactIndex) or index is None else ImpactIndex(index, threads)
        self._derived_index: ImpactIndex | None = None
        self.num_results, self.scale = int(num_results), float(scale)
        self.threads, self.verbose, self.encode_batch = threads, verbose, encode_batch
        self._engines: dict[int, object] = {}

    # identity -------------------------------------------------------------------------------------------------
    def _description(self) -> dict:
        """What the index is built from: encoder (weights, pruning...), quantisation and corpus."""
        corpus = self.dataset.fingerprint() if self.dataset is not None else None
        return {"kind": self.kind, "encoder": self.encoder.identity(), "scale": self.scale,
                "corpus_fingerprint": corpus, "source": self.dataset.name if self.dataset is not None else None}

    @property
    def index(self) -> ImpactIndex:
        """The index given, or the dataset's for this encoder, pruning and quantisation."""
        if self._index is not None:
            return self._index
        if self._derived_index is None:
            self._derived_index = ImpactIndex.for_corpus(self.kind, self.dataset.name, self._description(),
                                                         self.threads)
        return self._derived_index

    def identity(self) -> dict:
        """The encoder by its weights (and pruning, max_length)."""
        return {"model": self.encoder.identity()}

    # building -------------------------------------------------------------------------------------------------
    def _prepare_idf(self) -> None:
        if self.encoder.query_encoder != "idf" or self.encoder.idf is not None:
            return
        path = self.index.path / "idf.json" if self.mode == "retrieve" else None
        if path is not None and path.exists():
            self.encoder.idf = json.loads(path.read_text())
            return
        if self.dataset is None:
            raise FileNotFoundError(f"{self}: inference-free queries need the corpus IDF ({path}) or a dataset")
        idf = self.encoder.fit_idf(document_text(d) for d in self.dataset.corpus_iter())
        if path is not None:
            atomic_write_text(path, json.dumps(idf))

    def prepare(self) -> "ImpactStageBase":
        """Build the impact index if needed (encoding the corpus) and open it; not part of query time."""
        if self.mode == "retrieve" and not self._engines:
            if not self.index.built() or (self.dataset is not None and not self.index.matches(self._description())):
                if self.dataset is None:
                    raise FileNotFoundError(f"{self}: index {self.index.path} is not built and no dataset was given")
                self.index.build_encoded(((d["docno"], document_text(d)) for d in self.dataset.corpus_iter()),
                                         self.encoder.encode_documents, self.scale, self._description(),
                                         batch=self.encode_batch, progress=self.verbose)
            self._engine(first_depth(self.num_results))
        self._prepare_idf()
        if self.mode == "rescore" or self.encoder.query_encoder != "idf":
            self.encoder.load()
        return self

    # running --------------------------------------------------------------------------------------------------
    def fuse_rank_cutoff(self, k: int) -> Optional["ImpactStageBase"]:
        """``self % k`` in retrieve mode: ask PISA for ``k`` results instead of cutting afterwards."""
        return with_num_results(self, k) if self.mode == "retrieve" else None

    def transform_outputs(self, input_columns: list[str]) -> list[str]:
        if self.mode == "retrieve":
            return retriever_outputs(self, input_columns)
        needed = ["qid", "query", "docno"] + ([] if self.dataset is not None else ["text"])
        return rescorer_outputs(self, input_columns, needed, hint="re-scoring needs document text (add a TextLoader) "
                                                                  "or a dataset to look documents up")

    def query_vectors(self, queries: Sequence[str]) -> list[dict[str, int]]:
        """Quantised query vectors (what PISA is asked)."""
        return [quantise(v, self.scale) for v in self.encoder.encode_queries(list(queries))]

    def transform(self, inp: pd.DataFrame) -> pd.DataFrame:
        columns = self.transform_outputs(list(inp.columns))
        if not len(inp):
            return pd.DataFrame(columns=columns)
        self.prepare()
        return self._retrieve(inp, columns) if self.mode == "retrieve" else self._rescore(inp, columns)

    def _retrieve(self, topics: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
        topics = without_results(topics)
        toks = self.query_vectors(topics["query"].tolist())
        keep = [i for i, t in enumerate(toks) if t]  # a query with no terms gets no results
        if not keep:
            return pd.DataFrame(columns=columns)
        asked = topics.iloc[keep].assign(query_toks=[toks[i] for i in keep])
        results = top_k(lambda queries, depth: self._engine(depth).transform(queries), asked, self.num_results)
        return results.drop(columns=["query_toks"])[columns]

    def _engine(self, depth: int):
        """PISA's quantised scorer asked for ``depth`` results, opened once per depth."""
        if depth not in self._engines:
            self._engines[depth] = self.index.retriever(depth, self.threads)
        return self._engines[depth]

    _stored: DocVectorStore | None = None  # opened once found (per stage object)

    def stored_vectors(self) -> DocVectorStore | None:
        """The float document vectors of this stage's index when it is built from this corpus with this encoder."""
        if self._stored is not None or (self._index is None and self.dataset is None):
            return self._stored
        manifest = self.index.manifest
        if manifest is None or manifest.get("encoder") != self.encoder.identity():
            return None
        if self.dataset is not None and manifest.get("corpus_fingerprint") != self.dataset.fingerprint():
            return None
        self._stored = self.index.doc_vectors()
        return self._stored

    def _doc_vectors(self, out: pd.DataFrame, docnos: pd.Series) -> dict[str, SparseVector]:
        """Each candidate's vector: read from the index's store, else encoded (``text``, or the dataset's)."""
        store = self.stored_vectors()
        unique = sorted(set(docnos))
        vectors = store.get(unique) if store is not None else {}
        missing = [d for d in unique if d not in vectors]
        if not missing:
            return vectors
        if "text" in out.columns:
            rows = out[docnos.isin(missing)].drop_duplicates("docno")
            texts = dict(zip(rows["docno"].astype(str), rows.apply(document_text, axis=1)))
        else:
            found = self.dataset.docstore().lookup(missing).set_index("docno")
            texts = {d: document_text(row) for d, row in found.iterrows()}
        todo = [d for d in missing if d in texts]
        vectors.update(zip(todo, self.encoder.encode_documents([texts[d] for d in todo])))
        return vectors

    def _rescore(self, inp: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
        out = inp.drop(columns=[c for c in ("score", "rank") if c in inp.columns]).reset_index(drop=True)
        docnos = out["docno"].astype(str)
        doc_vectors = self._doc_vectors(out, docnos)
        queries = out.drop_duplicates("qid")
        query_vectors = dict(zip(queries["qid"], self.encoder.encode_queries(queries["query"].tolist())))
        out["score"] = np.array([sparse_dot(query_vectors[q], doc_vectors.get(d, {}))
                                 for q, d in zip(out["qid"], docnos)], dtype="float64")
        out = out.sort_values(["qid", "score", "docno"], ascending=[True, False, True], kind="stable")
        out["rank"] = out.groupby("qid", sort=False).cumcount().astype("int64")
        return out.reset_index(drop=True)[columns]
