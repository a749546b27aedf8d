"""Document vectors of a corpus (a float16 forward index) and FAISS indexes over them, described by a manifest."""
from __future__ import annotations

import functools
import json
import math
import os
import time
from pathlib import Path

import numpy as np

from ..core import atomic_write_text
from ..core.index_folder import MANIFEST, IndexFolder, index_path, write_manifest
from ..core.shards import concatenate_npy, encode_in_shards, remove_work, work_folder
from ..data import Dataset, document_text, load_dataset
from ..encoders import TextEncoder

VECTORS = "vectors.f16.npy"
DOCNOS = "docnos.txt"
SHARD_VECTORS = "vectors.f16"  # in a shard: its rows, raw
INDEX_TYPES = ("flat", "hnsw", "ivfpq")
TEXT_FORMAT = "title + ' ' + text (stripped), as BEIR/MTEB"
ADD_CHUNK = 65_536
TRAIN_PER_LIST = 256  # FAISS's own cap on k-means training points per centroid


def encode_dense_shard(encoder: TextEncoder, texts: list[str], folder: Path) -> dict:
    """One shard of a dense build (:data:`~transformers_ir.core.shards.ShardEncoder`): its texts' float16 vectors."""
    vectors = encoder.encode(texts, show_progress=False)
    vectors.astype(np.float16).tofile(folder / SHARD_VECTORS)
    return {"dims": int(vectors.shape[1])}


def training_sample(vectors: np.ndarray, limit: int, seed: int = 0) -> np.ndarray:
    """All rows as float32 when there are at most ``limit``, else ``limit`` rows drawn with ``seed`` (in order)."""
    if len(vectors) <= limit:
        return np.ascontiguousarray(vectors, dtype=np.float32)
    rows = np.sort(np.random.default_rng(seed).choice(len(vectors), size=limit, replace=False))
    return np.ascontiguousarray(vectors[rows], dtype=np.float32)


def faiss_factory(index_type: str, count: int, dims: int) -> str:
    """The ``faiss.index_factory`` string of ``index_type`` for ``count`` vectors of ``dims`` dimensions."""
    if index_type == "flat":
        return "Flat"
    if index_type == "hnsw":
        return "HNSW32"
    if index_type == "ivfpq":
        nlist = max(1, min(4 * int(math.sqrt(count)), count // 39))  # FAISS wants >= 39 training points per list
        sub = next(m for m in (dims // 8, dims // 4, dims // 2, dims) if m and dims % m == 0)
        bits = max(1, min(8, int(math.log2(max(count, 2)))))  # no more PQ centroids than training points
        return f"IVF{nlist},PQ{sub}x{bits}"
    raise ValueError(f"unknown index_type {index_type!r}; choose from {list(INDEX_TYPES)}")


def same_model(a: dict, b: dict) -> bool:
    """Same weights, max_length and precision (the name or path they were loaded by may differ)."""
    return all(a.get(k) == b.get(k) for k in ("weights_sha256", "max_length", "bf16"))


class DenseIndex(IndexFolder):
    """A folder holding a corpus's vectors (``vectors.f16.npy``, memory-mapped) and FAISS indexes over them.

    ``manifest.json`` records the model identity (name, weights sha256, max_length), the corpus fingerprint,
    the document count, dims, sizes and build times; building again from the same corpus and model is a no-op.
    The corpus is encoded in shards, in this process or on Ray (``tir.build_options``), into the same index.
    """

    def __init__(self, path: str | Path, ef_search: int = 128, nprobe: int = 16):
        self.path = Path(path)
        self.ef_search, self.nprobe = int(ef_search), int(nprobe)
        self._faiss: dict[str, object] = {}
        self._docnos: np.ndarray | None = None
        self._rows: dict[str, int] | None = None
        self._vectors: np.ndarray | None = None

    @classmethod
    def for_dataset(cls, dataset: "str | Dataset", encoder: TextEncoder) -> "DenseIndex":
        """The index of ``dataset`` encoded by ``encoder``, in ``cache_dir()/indexes``."""
        dataset = load_dataset(dataset)
        identity = encoder.identity()
        key = {"corpus": dataset.fingerprint(), "weights": identity["weights_sha256"] or identity["name"],
               "max_length": identity["max_length"], "bf16": identity["bf16"], "text": TEXT_FORMAT}
        return cls(index_path("dense", dataset.name, key))

    def built(self, index_type: str | None = None) -> bool:
        """Whether the vectors (and, when given, the FAISS index of ``index_type``) are built."""
        manifest = self.manifest
        return manifest is not None and (index_type is None or index_type in manifest["indexes"])

    def build(self, dataset: "str | Dataset", encoder: TextEncoder, index_types: tuple[str, ...] = ("flat",),
              force: bool = False) -> "DenseIndex":
        """Encode ``dataset`` with ``encoder`` and build the FAISS indexes in ``index_types``; a no-op for what
        is already built from the same corpus and model."""
        unknown = [t for t in index_types if t not in INDEX_TYPES]
        if unknown:
            raise ValueError(f"unknown index_type(s) {unknown}; choose from {list(INDEX_TYPES)}")
        dataset = load_dataset(dataset)
        identity = encoder.identity()

        def current() -> bool:
            manifest = self.manifest
            return (manifest is not None and manifest["corpus_fingerprint"] == dataset.fingerprint()
                    and same_model(manifest["model"], identity))

        self.build_once(current, lambda: self._encode(dataset, encoder, identity, force), force)
        for index_type in index_types:
            self.build_once(lambda: self.built(index_type), lambda: self._build_faiss(index_type), force)
        return self

    def _encode(self, dataset: Dataset, encoder: TextEncoder, identity: dict, force: bool) -> None:
        """Encode the corpus in shards (here or on Ray: :mod:`transformers_ir.core.shards`), then concatenate their
        float16 vectors, in corpus order, into one ``.npy`` file (memory-mapped when read) in the staging folder."""
        import sentence_transformers
        work = work_folder(self.path)
        built = encode_in_shards(work, {"corpus": dataset.fingerprint(), "model": identity, "text": TEXT_FORMAT},
                                 ((d["docno"], document_text(d)) for d in dataset.corpus_iter()),
                                 functools.partial(encode_dense_shard, encoder), f"encoding {dataset.name}",
                                 fresh=force, progress=encoder.show_progress)
        dims = built.shards[0].info["dims"]
        with self.staging() as tmp:
            concatenate_npy(tmp / VECTORS, np.float16, (built.doc_count, dims),
                            (shard.folder / SHARD_VECTORS for shard in built.shards))
            with open(tmp / DOCNOS, "w", encoding="utf-8") as f:
                f.writelines(f"{d}\n" for d in built.docnos())
            write_manifest(tmp, {
                "type": "dense", "source": dataset.name, "corpus_fingerprint": dataset.fingerprint(),
                "model": identity, "text": TEXT_FORMAT, "doc_count": built.doc_count, "dims": int(dims),
                "vectors": {"file": VECTORS, "dtype": "float16", "size_bytes": (tmp / VECTORS).stat().st_size},
                "encode_seconds": round(built.seconds, 3),
                "docs_per_second": round(built.doc_count / max(built.seconds, 1e-9), 1), "build": built.summary(),
                "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "sentence_transformers": sentence_transformers.__version__, "indexes": {},
            })
        remove_work(work)
        self._faiss, self._docnos, self._rows, self._vectors = {}, None, None, None

    def _build_faiss(self, index_type: str) -> None:
        """Build the FAISS index of ``index_type`` over the float16 vectors, converting ``ADD_CHUNK`` rows to
        float32 at a time (an IVF-PQ index trains on at most ``TRAIN_PER_LIST`` rows per list, a seeded sample)."""
        import faiss
        manifest = self.manifest
        vectors = self.vectors()
        count, dims = vectors.shape
        factory = faiss_factory(index_type, count, dims)
        start = time.perf_counter()
        index = faiss.index_factory(dims, factory, faiss.METRIC_INNER_PRODUCT)
        if not index.is_trained:
            index.train(training_sample(vectors, TRAIN_PER_LIST * faiss.extract_index_ivf(index).nlist))
        for first in range(0, count, ADD_CHUNK):
            index.add(np.ascontiguousarray(vectors[first:first + ADD_CHUNK], dtype=np.float32))
        seconds = time.perf_counter() - start
        file = self.path / f"{index_type}.faiss"
        tmp = file.with_name(f".{file.name}.{os.getpid()}.tmp")
        faiss.write_index(index, str(tmp))
        os.replace(tmp, file)
        manifest["indexes"][index_type] = {"factory": factory, "file": file.name, "size_bytes": file.stat().st_size,
                                           "build_seconds": round(seconds, 3), "faiss": faiss.__version__}
        manifest["size_bytes"] = sum(f.stat().st_size for f in self.path.iterdir() if f.is_file())
        atomic_write_text(self.path / MANIFEST, json.dumps(manifest, indent=2))
        self._faiss.pop(index_type, None)

    def _require(self, index_type: str | None = None) -> None:
        if not self.built(index_type):
            what = f"the {index_type} FAISS index" if index_type else "the vectors"
            raise FileNotFoundError(f"{self}: {what} not built; call .build(dataset, encoder) first")

    def faiss(self, index_type: str = "flat"):
        """The FAISS index of ``index_type`` (read once), with its search parameters set."""
        if index_type not in self._faiss:
            import faiss
            self._require(index_type)
            index = faiss.read_index(str(self.path / self.manifest["indexes"][index_type]["file"]))
            if index_type == "hnsw":
                index.hnsw.efSearch = self.ef_search
            elif index_type == "ivfpq":
                faiss.extract_index_ivf(index).nprobe = self.nprobe
            self._faiss[index_type] = index
        return self._faiss[index_type]

    def docnos(self) -> np.ndarray:
        """Docnos in vector order."""
        if self._docnos is None:
            self._require()
            self._docnos = np.array((self.path / DOCNOS).read_text(encoding="utf-8").splitlines(), dtype=object)
        return self._docnos

    def vectors(self) -> np.ndarray:
        """The ``(doc_count, dims)`` float16 forward index, memory-mapped."""
        if self._vectors is None:
            self._require()
            self._vectors = np.load(self.path / VECTORS, mmap_mode="r")
        return self._vectors

    def rows(self, docnos) -> np.ndarray:
        """Row of each docno in :meth:`vectors`; raises ``KeyError`` naming unknown docnos."""
        if self._rows is None:
            self._rows = {d: i for i, d in enumerate(self.docnos())}
        rows = np.fromiter((self._rows.get(str(d), -1) for d in docnos), dtype=np.int64, count=len(docnos))
        if (rows < 0).any():
            unknown = [d for d, r in zip(docnos, rows) if r < 0][:5]
            raise KeyError(f"{self}: docno(s) not in the index: {unknown}")
        return rows
