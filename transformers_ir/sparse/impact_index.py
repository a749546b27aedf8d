"""A PISA index of quantised term impacts (learned-sparse documents), with a manifest that makes rebuilding a no-op."""
from __future__ import annotations

import functools
import json
import time
from array import array
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np

from ..core import atomic_write_text
from ..core.index_folder import IndexFolder, index_path, write_manifest
from ..core.native import redirect_native_output
from ..core.shards import concatenate_npy, encode_in_shards, remove_work, work_folder
from .pisa_build import build_toks_index

SparseVector = dict[str, float]
EncodeDocuments = Callable[[Sequence[str]], list[SparseVector]]
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
    """Writes ``(docno, {term: weight})`` pairs into ``folder`` as CSR arrays (float32 weights) as they come: the
    term numbers and weights go to disk every ``FLUSH`` postings, so no more than that is held."""

    FLUSH = 1 << 20

    def __init__(self, folder: Path):
        folder.mkdir(parents=True)
        self.folder = folder
        self.docnos: list[str] = []
        self.terms: dict[str, int] = {}
        self.indptr, self.ids, self.weights = array("q", [0]), array("i"), array("f")
        self.files = {"ids": open(folder / "term_ids.raw", "wb"), "weights": open(folder / "weights.raw", "wb")}

    def add(self, docno: str, vector: SparseVector) -> None:
        for term, weight in vector.items():
            self.ids.append(self.terms.setdefault(term, len(self.terms)))
            self.weights.append(weight)
        self.indptr.append(self.indptr[-1] + len(vector))
        self.docnos.append(docno)
        if len(self.ids) >= self.FLUSH:
            self._flush()

    def _flush(self) -> None:
        self.files["ids"].write(self.ids.tobytes())
        self.files["weights"].write(self.weights.tobytes())
        self.ids, self.weights = array("i"), array("f")

    def save(self) -> int:
        """Write the arrays; returns their size in bytes."""
        self._flush()
        for f in self.files.values():
            f.close()
        postings = self.indptr[-1]
        for name, raw, dtype in (("term_ids", "ids", np.int32), ("weights", "weights", np.float32)):
            concatenate_npy(self.folder / f"{name}.npy", dtype, (postings,), [Path(self.files[raw].name)])
            Path(self.files[raw].name).unlink()
        np.save(self.folder / "docnos.npy", np.array(self.docnos, dtype=str))
        np.save(self.folder / "indptr.npy", np.frombuffer(self.indptr, dtype=np.int64))
        atomic_write_text(self.folder / "terms.json", json.dumps(list(self.terms)))
        return sum(f.stat().st_size for f in self.folder.iterdir())


def encode_vector_shard(encode: EncodeDocuments, texts: list[str], folder: Path, batch: int = 256) -> dict:
    """One shard of an impact index (:data:`~transformers_ir.core.shards.ShardEncoder`): its documents' float
    vectors, ``batch`` texts encoded at a time, written by :class:`DocVectorWriter` (read back by
    :func:`read_vector_shard`)."""
    writer = DocVectorWriter(folder / VECTORS)
    for first in range(0, len(texts), batch):
        for i, vector in enumerate(encode(texts[first:first + batch]), start=first):
            writer.add(str(i), vector)
    writer.save()
    return {"postings": writer.indptr[-1]}


def read_vector_shard(folder: Path) -> Iterator[SparseVector]:
    """Each document's ``{term: weight}`` of a shard written by :func:`encode_vector_shard`, in order."""
    return iter(DocVectorStore(folder / VECTORS))


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

    def __iter__(self) -> Iterator[SparseVector]:
        """Each vector, in the order they were written."""
        for start, end in zip(self.indptr[:-1].tolist(), self.indptr[1:].tolist()):
            yield self._vector(start, end)

    def _vector(self, start: int, end: int) -> SparseVector:
        return dict(zip((self.terms[i] for i in self.term_ids[start:end]), self.weights[start:end].tolist()))

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
            out[str(docno)] = self._vector(self.indptr[row], self.indptr[row + 1])
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

    def build_encoded(self, texts: Iterable[tuple[str, str]], encode: EncodeDocuments, scale: float,
                      description: dict, force: bool = False, batch: int = 256,
                      progress: bool | None = None) -> "ImpactIndex":
        """Encode ``(docno, text)`` pairs with ``encode`` (``batch`` texts at a time) in shards, here or on Ray
        (:mod:`transformers_ir.core.shards`), then index them as :meth:`build` does, in corpus order; a no-op when
        already built from what ``description`` describes."""
        description = {**description, "scale": float(scale)}

        def build() -> None:
            work = work_folder(self.path)
            built = encode_in_shards(work, description, texts,
                                     functools.partial(encode_vector_shard, encode, batch=batch),
                                     f"{description.get('kind', 'impacts')}: encoding documents", fresh=force,
                                     progress=progress)
            vectors = ((docno, vector) for shard in built.shards
                       for docno, vector in zip(shard.docnos(), read_vector_shard(shard.folder)))
            self._build(vectors, scale, {**description, "build": built.summary()})
            remove_work(work)

        self.build_once(lambda: self.matches(description), build, force)
        return self

    def _build(self, vectors: Iterable[tuple[str, SparseVector]], scale: float, description: dict) -> None:
        import pyterrier_pisa
        stats = {"doc_count": 0, "postings": 0, "empty_docs": 0}

        def quantised() -> Iterator[tuple[str, dict[str, int]]]:
            for docno, vector in vectors:
                floats.add(str(docno), vector)
                toks = quantise(vector, scale)
                stats["doc_count"] += 1
                stats["postings"] += len(toks)
                stats["empty_docs"] += not toks
                yield docno, toks

        start = time.perf_counter()
        with self.staging() as tmp:
            floats = DocVectorWriter(tmp / VECTORS)
            log = tmp.parent / f"{tmp.name}.log"
            try:
                build_toks_index(tmp, quantised(), self.threads, log)
                log.replace(tmp / "build.log")
            finally:
                log.unlink(missing_ok=True)
            vectors_bytes = floats.save()
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
