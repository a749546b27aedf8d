"""A token forward index: each document's token vectors, float16 and memory-mapped, described by a manifest."""
from __future__ import annotations

import functools
import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..core.index_folder import IndexFolder, index_path, write_manifest
from ..core.shards import ShardedBuild, concatenate_npy, encode_in_shards, remove_work, work_folder
from ..data import Dataset, document_text, load_dataset

VECTORS = "vectors.f16.npy"
OFFSETS = "offsets.npy"
DOCNOS = "docnos.txt"
LENGTHS, SHARD_VECTORS = "lengths.npy", "vectors.f16"  # in a shard (its rows, raw)
TEXT_FORMAT = "title + ' ' + text (stripped)"
EncodeDocuments = Callable[[Sequence[str]], list[np.ndarray]]


def encode_token_shard(encode: EncodeDocuments, texts: list[str], folder: Path, chunk: int = 512) -> dict:
    """One shard of a token index (:data:`~transformers_ir.core.shards.ShardEncoder`): its documents' float16
    token vectors, one after another (raw), and their counts; ``chunk`` documents are encoded at a time."""
    lengths, dims = [], 0
    with open(folder / SHARD_VECTORS, "wb") as raw:
        for first in range(0, len(texts), chunk):
            for vectors in encode(texts[first:first + chunk]):
                lengths.append(len(vectors))
                dims = vectors.shape[1]
                raw.write(np.ascontiguousarray(vectors, dtype=np.float16).tobytes())
    np.save(folder / LENGTHS, np.asarray(lengths, dtype=np.int64))
    return {"dims": dims}


class TokenIndex(IndexFolder):
    """A folder holding every document's token vectors: ``vectors.f16.npy`` (all vectors, memory-mapped),
    ``offsets.npy`` (document ``i`` owns rows ``offsets[i]:offsets[i+1]``), ``docnos.txt`` and ``manifest.json``
    (model identity, corpus fingerprint, pooling, counts, bytes, build time). Building again from the same corpus,
    model and pooling is a no-op."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._rows: dict[str, int] | None = None
        self._vectors: np.ndarray | None = None
        self._offsets: np.ndarray | None = None

    @classmethod
    def for_dataset(cls, dataset: "str | Dataset", identity: dict, pool_factor: float | None) -> "TokenIndex":
        """The index of ``dataset`` encoded by the model of ``identity``, in ``cache_dir()/indexes``."""
        dataset = load_dataset(dataset)
        key = {"corpus": dataset.fingerprint(), "model": identity, "pool_factor": pool_factor, "text": TEXT_FORMAT}
        return cls(index_path("tokens", dataset.name, key))

    def build(self, dataset: "str | Dataset", encode: EncodeDocuments, identity: dict, pool_factor: float | None,
              force: bool = False, chunk: int = 512) -> "TokenIndex":
        """Encode ``dataset`` with ``encode`` (texts -> one ``(tokens, dims)`` array each), in shards (here or on Ray:
        :mod:`transformers_ir.core.shards`) of which ``chunk`` documents are encoded at a time; a no-op when built
        from the same corpus, model ``identity`` and pooling."""
        dataset = load_dataset(dataset)

        def current() -> bool:
            manifest = self.manifest
            return (manifest is not None and manifest["corpus_fingerprint"] == dataset.fingerprint()
                    and manifest["model"] == identity and manifest["pool_factor"] == pool_factor)

        def build() -> None:
            work = work_folder(self.path)
            built = encode_in_shards(work, {"corpus": dataset.fingerprint(), "model": identity,
                                            "pool_factor": pool_factor, "text": TEXT_FORMAT},
                                     ((d["docno"], document_text(d)) for d in dataset.corpus_iter()),
                                     functools.partial(encode_token_shard, encode, chunk=chunk),
                                     f"ColBERT: encoding {dataset.name}", fresh=force)
            with self.staging() as tmp:
                self._merge(tmp, built, dataset, identity, pool_factor)
            remove_work(work)
            self._rows, self._vectors, self._offsets = None, None, None

        self.build_once(current, build, force)
        return self

    @staticmethod
    def _merge(folder: Path, built: ShardedBuild, dataset: Dataset, identity: dict, pool_factor: float | None) -> None:
        """The shards' vectors concatenated in corpus order, their lengths made offsets."""
        lengths = np.concatenate([np.load(s.folder / LENGTHS) for s in built.shards])
        dims = max(s.info["dims"] for s in built.shards)
        total = int(lengths.sum())
        concatenate_npy(folder / VECTORS, np.float16, (total, dims), (s.folder / SHARD_VECTORS for s in built.shards))
        np.save(folder / OFFSETS, np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64))
        with open(folder / DOCNOS, "w", encoding="utf-8") as f:
            f.writelines(f"{d}\n" for d in built.docnos())
        write_manifest(folder, {
            "type": "token-forward-index", "source": dataset.name, "corpus_fingerprint": dataset.fingerprint(),
            "model": identity, "text": TEXT_FORMAT, "pool_factor": pool_factor,
            "pooling": "hierarchical ward, mean, L2 (sentence_transformers HierarchicalTokenPooling)"
                       if pool_factor else None,
            "doc_count": built.doc_count, "vectors_count": total, "dims": dims, "dtype": "float16",
            "vectors_bytes": (folder / VECTORS).stat().st_size,
            "bytes_per_doc": round(sum(f.stat().st_size for f in folder.iterdir()) / max(built.doc_count, 1), 1),
            "encode_seconds": round(built.seconds, 3),
            "docs_per_second": round(built.doc_count / max(built.seconds, 1e-9), 1), "build": built.summary(),
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        })

    def _require(self) -> None:
        if not self.built():
            raise FileNotFoundError(f"{self}: not built; call ColBERT(dataset, ...).prepare() or .build() first")

    def vectors(self) -> np.ndarray:
        """All ``(vectors_count, dims)`` float16 token vectors, memory-mapped."""
        if self._vectors is None:
            self._require()
            self._vectors = np.load(self.path / VECTORS, mmap_mode="r")
        return self._vectors

    def offsets(self) -> np.ndarray:
        if self._offsets is None:
            self._require()
            self._offsets = np.load(self.path / OFFSETS)
        return self._offsets

    def rows(self, docnos: Sequence[str]) -> np.ndarray:
        """Row of each docno; raises ``KeyError`` naming (up to 5) docnos not in the index."""
        if self._rows is None:
            self._require()
            names = (self.path / DOCNOS).read_text(encoding="utf-8").splitlines()
            self._rows = {d: i for i, d in enumerate(names)}
        rows = np.fromiter((self._rows.get(str(d), -1) for d in docnos), dtype=np.int64, count=len(docnos))
        if (rows < 0).any():
            unknown = [str(d) for d, r in zip(docnos, rows) if r < 0]
            raise KeyError(f"{self}: {len(unknown)} docno(s) not in the index, e.g. {unknown[:5]}; "
                           f"the index holds {self.manifest['source']!r}")
        return rows

    def documents(self, docnos: Sequence[str]) -> list[np.ndarray]:
        """Each docno's ``(tokens, dims)`` float16 vectors (views of the memory map)."""
        vectors, offsets = self.vectors(), self.offsets()
        return [vectors[offsets[r]:offsets[r + 1]] for r in self.rows(docnos)]
