"""A PISA index of quantised term impacts (learned-sparse documents), with a manifest that makes rebuilding a no-op."""
from __future__ import annotations

import json
import time
from array import array
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np

from ..core import atomic_write_text
from ..core.index_folder import IndexFolder, index_path, write_manifest
from ..core.native import redirect_native_output
from .pisa_build import build_toks_index

SparseVector = dict[str, float]
VECTORS = "doc_vectors"  # the float document vectors, beside the quantised PISA index


def quantise(vector: SparseVector, scale: float) -> dict[str, int]:
    """Integer impacts ``round(weight * scale)``; terms that round to 0 are dropped."""
    out = {}
    for term, weight in vector.items():
        impact = int(round(float(weight) * scale))
        if impact > 0:
            out[term] = impact
    return out


class DocVectorWriter:
    """Collects ``(docno, {term: weight})`` pairs and saves them as CSR arrays (float32 weights) in a folder."""

    def __init__(self):
        self.docnos: list[str] = []
        self.terms: dict[str, int] = {}
        self.indptr, self.ids, self.weights = array("q", [0]), array("i"), array("f")

    def add(self, docno: str, vector: SparseVector) -> None:
        for term, weight in vector.items():
            self.ids.append(self.terms.setdefault(term, len(self.terms)))
            self.weights.append(weight)
        self.indptr.append(len(self.ids))
        self.docnos.append(docno)

    def save(self, folder: Path) -> int:
        """Write the arrays; returns their size in bytes."""
        folder.mkdir(parents=True)
        np.save(folder / "docnos.npy", np.array(self.docnos, dtype=str))
        np.save(folder / "indptr.npy", np.frombuffer(self.indptr, dtype=np.int64))
        np.save(folder / "term_ids.npy", np.frombuffer(self.ids, dtype=np.int32))
        np.save(folder / "weights.npy", np.frombuffer(self.weights, dtype=np.float32))
        atomic_write_text(folder / "terms.json", json.dumps(list(self.terms)))
        return sum(f.stat().st_size for f in folder.iterdir())


class DocVectorStore:
    """The float document vectors an :class:`ImpactIndex` was built from (memory-mapped), looked up by docno."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.docnos = np.load(folder / "docnos.npy")
        self.indptr = np.load(folder / "indptr.npy", mmap_mode="r")
        self.term_ids = np.load(folder / "term_ids.npy", mmap_mode="r")
        self.weights = np.load(folder / "weights.npy", mmap_mode="r")
        self.terms = json.loads((folder / "terms.json").read_text())
        self._order = np.argsort(self.docnos)

    def __len__(self) -> int:
        return len(self.docnos)

    def get(self, docnos: Sequence[str]) -> dict[str, SparseVector]:
        """``{docno: vector}`` for the ``docnos`` that are stored (the others are left out)."""
        wanted = np.array(list(docnos), dtype=str)
        if not len(wanted) or not len(self.docnos):
            return {}
        sorted_docnos = self.docnos[self._order]
        at = np.minimum(np.searchsorted(sorted_docnos, wanted), len(sorted_docnos) - 1)
        found = sorted_docnos[at] == wanted
        out = {}
        for docno, row in zip(wanted[found], self._order[at[found]]):
            start, end = self.indptr[row], self.indptr[row + 1]
            out[str(docno)] = dict(zip((self.terms[i] for i in self.term_ids[start:end]),
                                       self.weights[start:end].tolist()))
        return out


class ImpactIndex(IndexFolder):
    """Documents as ``{term: integer impact}`` in a PISA index (no stemming, no stopwords), scored by a
    quantised dot product; ``manifest.json`` records the encoder, pruning, quantisation and corpus. The float
    vectors it was built from are kept beside it (``doc_vectors/``, read by exact re-scoring)."""

    def __init__(self, path: str | Path, threads: int = 1):
        self.path = Path(path)
        self.threads = threads

    @classmethod
    def for_corpus(cls, kind: str, corpus_name: str, key: dict, threads: int = 1) -> "ImpactIndex":
        """The index for ``key`` (encoder identity, pruning, scale, corpus) under ``$TIR_CACHE_DIR/indexes``."""
        return cls(index_path(kind, corpus_name, key), threads)

    def matches(self, description: dict) -> bool:
        """Whether the built index was made from what ``description`` describes (encoder, corpus, scale...)."""
        manifest = self.manifest
        return manifest is not None and all(manifest.get(k) == v for k, v in description.items())

    def build(self, vectors: Iterable[tuple[str, SparseVector]], scale: float, description: dict,
              force: bool = False) -> "ImpactIndex":
        """Index ``(docno, {term: weight})`` pairs quantised with ``scale``; a no-op when already built from
        what ``description`` (JSON values: encoder, pruning, corpus fingerprint...) describes."""
        description = {**description, "scale": float(scale)}
        self.build_once(lambda: self.matches(description), lambda: self._build(vectors, scale, description), force)
        return self

    def _build(self, vectors: Iterable[tuple[str, SparseVector]], scale: float, description: dict) -> None:
        import pyterrier_pisa
        stats = {"doc_count": 0, "postings": 0, "empty_docs": 0}
        floats = DocVectorWriter()

        def quantised() -> Iterator[tuple[str, dict[str, int]]]:
            for docno, vector in vectors:
                floats.add(str(docno), vector)
                toks = quantise(vector, scale)
                stats["doc_count"] += 1
                stats["postings"] += len(toks)
                stats["empty_docs"] += not toks
                yield docno, toks

        start = time.perf_counter()
        with self.staging(create=False) as tmp:
            log = tmp.parent / f"{tmp.name}.log"
            try:
                build_toks_index(tmp, quantised(), self.threads, log)
                log.replace(tmp / "build.log")
            finally:
                log.unlink(missing_ok=True)
            vectors_bytes = floats.save(tmp / VECTORS)
            write_manifest(tmp, {
                "type": "pisa-impact", **description, **stats,
                "avg_terms_per_doc": round(stats["postings"] / max(stats["doc_count"], 1), 2),
                "doc_vectors_bytes": vectors_bytes, "build_seconds": round(time.perf_counter() - start, 3),
                "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "pyterrier_pisa": pyterrier_pisa.__version__,
            })

    def doc_vectors(self) -> DocVectorStore | None:
        """The float document vectors of a built index (None for one built before they were kept)."""
        folder = self.path / VECTORS
        return DocVectorStore(folder) if self.built() and (folder / "terms.json").exists() else None

    def retriever(self, num_results: int, threads: int = 1, verbose: bool = False):
        """PISA's ``quantized`` scorer: the score is the dot product of integer query and document impacts."""
        import pyterrier_pisa
        if not self.built():
            raise FileNotFoundError(f"{self} is not built")
        index = pyterrier_pisa.PisaIndex(str(self.path), stemmer="none", stops="none", threads=threads)
        with redirect_native_output(self.path / "retrieval.log"):
            return index.quantized(num_results=num_results, threads=threads, verbose=verbose, toks_scale=1.0)


def sparsity_stats(doc_vectors: list[SparseVector], query_vectors: list[SparseVector]) -> dict:
    """Average non-zeros per document and query, and FLOPS: the expected number of term matches per
    query-document pair, ``sum_t P(t in query) * P(t in document)`` (Paria et al., 2020)."""
    from collections import Counter
    doc_df = Counter(t for v in doc_vectors for t in v)
    query_df = Counter(t for v in query_vectors for t in v)
    n_docs, n_queries = max(len(doc_vectors), 1), max(len(query_vectors), 1)
    return {"avg_doc_terms": sum(map(len, doc_vectors)) / n_docs,
            "avg_query_terms": sum(map(len, query_vectors)) / n_queries,
            "flops": sum(c / n_queries * doc_df.get(t, 0) / n_docs for t, c in query_df.items())}
