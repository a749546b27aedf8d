"""Docids: the token sequences a DSI model decodes, one per document, under three schemes.

A docid is a tuple of *symbols* (ints in ``range(num_symbols)``): digits 0-9 for ``naive`` and ``semantic``,
one symbol per document for ``atomic``. The model's vocabulary maps each symbol to a token.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from ..core import TirError, atomic_write_text, value_sha256

SCHEMES = ("naive", "semantic", "atomic")
DIGITS = 10
Docid = tuple[int, ...]


class UnknownDocnoError(TirError, KeyError):
    """A docno that has no docid in a mapping."""

    def __str__(self) -> str:
        return self.args[0]


class MissingDocidsError(TirError, FileNotFoundError):
    """A DSI model folder without its docid mapping."""

    def __str__(self) -> str:
        return self.args[0]


def digits(number: int, width: int = 0) -> Docid:
    """The decimal digits of ``number``, left-padded with zeros to ``width``."""
    return tuple(int(c) for c in str(number).zfill(width))


@dataclass
class DocidMapping:
    """docno <-> docid under ``scheme``; ``leaf_digits`` (semantic) is how many final digits give the position
    within a leaf cluster, ``width`` (naive) the zero-padding of numbers."""

    scheme: str
    docids: dict[str, Docid]
    num_symbols: int
    width: int = 0
    leaf_digits: int = 0
    _docnos: dict[Docid, str] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self):
        if self.scheme not in SCHEMES:
            raise ValueError(f"unknown docid scheme {self.scheme!r}; choose from {list(SCHEMES)}")
        self.docids = {str(d): tuple(int(s) for s in i) for d, i in self.docids.items()}
        self._docnos = {docid: docno for docno, docid in self.docids.items()}
        if len(self._docnos) != len(self.docids):
            raise ValueError(f"docid mapping ({self.scheme}) gives the same docid to several documents")

    def __len__(self) -> int:
        return len(self.docids)

    def docid(self, docno: str) -> Docid:
        """The docid of ``docno``; :class:`UnknownDocnoError` naming it when it has none."""
        try:
            return self.docids[str(docno)]
        except KeyError:
            raise UnknownDocnoError(f"document {docno!r} has no docid in this {self.scheme} mapping "
                                    f"({len(self)} documents); add it with DSI.add_documents") from None

    def docno(self, docid: Sequence[int]) -> str | None:
        """The document of ``docid``, ``None`` when no document has it."""
        return self._docnos.get(tuple(docid))

    def with_docids(self, new: dict[str, Docid], num_symbols: int | None = None) -> "DocidMapping":
        """A copy with the documents of ``new`` added (their docnos must be new)."""
        taken = [d for d in new if d in self.docids]
        if taken:
            raise ValueError(f"documents {taken[:5]} already have docids")
        return DocidMapping(self.scheme, {**self.docids, **new}, num_symbols or self.num_symbols, self.width,
                            self.leaf_digits)

    def to_json(self) -> dict:
        return {"scheme": self.scheme, "num_symbols": self.num_symbols, "width": self.width,
                "leaf_digits": self.leaf_digits, "docids": {d: list(i) for d, i in self.docids.items()}}

    def sha256(self) -> str:
        return value_sha256(self.to_json())

    def save(self, path: Path) -> None:
        atomic_write_text(path, json.dumps(self.to_json()))

    @classmethod
    def load(cls, path: Path) -> "DocidMapping":
        try:
            data = json.loads(Path(path).read_text())
        except FileNotFoundError:
            raise MissingDocidsError(f"DSI model folder {Path(path).parent} has no docid mapping ({Path(path).name}): "
                                     f"it was not built by DSI, or is incomplete; delete it to rebuild") from None
        return cls(data["scheme"], data["docids"], data["num_symbols"], data["width"], data["leaf_digits"])


def naive_docids(docnos: Sequence[str], pad: bool = True) -> DocidMapping:
    """Each document's position in ``docnos`` as decimal digits (zero-padded to one width when ``pad``)."""
    width = len(str(max(len(docnos) - 1, 0))) if pad else 0
    return DocidMapping("naive", {d: digits(i, width) for i, d in enumerate(docnos)}, DIGITS, width=width)


def atomic_docids(docnos: Sequence[str]) -> DocidMapping:
    """One symbol (a new vocabulary token) per document."""
    return DocidMapping("atomic", {d: (i,) for i, d in enumerate(docnos)}, len(docnos))


def semantic_docids(docnos: Sequence[str], embeddings: np.ndarray, branches: int = DIGITS, leaf_size: int = 100,
                    seed: int = 42) -> DocidMapping:
    """Hierarchical k-means (DSI's semantically structured identifiers): documents are split into ``branches``
    clusters, recursively, until a cluster holds at most ``leaf_size``; a docid is the path of cluster numbers
    then the document's position in its leaf on ``len(str(leaf_size))`` digits (room for leaves to grow)."""
    if not 2 <= branches <= DIGITS:
        raise ValueError(f"semantic docids: branches must be in 2..{DIGITS} (one digit per level), got {branches}")
    if leaf_size < 1:
        raise ValueError(f"semantic docids: leaf_size must be >= 1, got {leaf_size}")
    if len(embeddings) != len(docnos):
        raise ValueError(f"semantic docids: {len(docnos)} docnos but {len(embeddings)} embeddings")
    leaf_digits = len(str(leaf_size))
    paths: dict[int, Docid] = {}
    x = np.ascontiguousarray(embeddings, dtype=np.float32)

    def split(rows: np.ndarray, prefix: Docid) -> None:
        if len(rows) <= leaf_size:
            for position, row in enumerate(rows):
                paths[int(row)] = prefix + digits(position, leaf_digits)
            return
        for cluster, members in enumerate(_clusters(x[rows], branches, seed)):
            if len(members):
                split(rows[members], prefix + (cluster,))

    split(np.arange(len(docnos)), ())
    return DocidMapping("semantic", {d: paths[i] for i, d in enumerate(docnos)}, DIGITS, leaf_digits=leaf_digits)


def _clusters(x: np.ndarray, k: int, seed: int) -> list[np.ndarray]:
    """Row indices of each of ``k`` k-means clusters of ``x`` (equal chunks when k-means finds one cluster)."""
    import faiss
    kmeans = faiss.Kmeans(x.shape[1], min(k, len(x)), niter=25, seed=seed, min_points_per_centroid=1,
                          max_points_per_centroid=1 << 30)
    kmeans.train(x)
    _, labels = kmeans.index.search(x, 1)
    members = [np.flatnonzero(labels[:, 0] == c) for c in range(k)]
    if sum(1 for m in members if len(m)) < 2:  # identical vectors: split by position instead
        members = np.array_split(np.arange(len(x)), k)
    return members


def extend_docids(mapping: DocidMapping, docnos: Sequence[str], embeddings: np.ndarray | None = None,
                  old_embeddings: np.ndarray | None = None) -> DocidMapping:
    """``mapping`` with docids for new ``docnos``: ``naive`` the next numbers, ``atomic`` new symbols,
    ``semantic`` the nearest-centroid path (centroids: means of ``old_embeddings``, rows in mapping order)
    then the next free position in that leaf."""
    if mapping.scheme == "naive":
        start = len(mapping)
        return mapping.with_docids({d: digits(start + i, mapping.width) for i, d in enumerate(docnos)})
    if mapping.scheme == "atomic":
        start = mapping.num_symbols
        return mapping.with_docids({d: (start + i,) for i, d in enumerate(docnos)}, start + len(docnos))
    if embeddings is None or old_embeddings is None or len(old_embeddings) != len(mapping):
        raise ValueError("semantic docids: adding documents needs their embeddings and those of the indexed ones")
    docids = list(mapping.docids.values())
    vectors = list(np.asarray(old_embeddings, dtype=np.float32))
    new = {}
    for docno, vector in zip(docnos, np.asarray(embeddings, dtype=np.float32)):
        new[str(docno)] = docid = _nearest_leaf_slot(docids, np.stack(vectors), vector, mapping.leaf_digits)
        docids.append(docid)
        vectors.append(vector)
    return mapping.with_docids(new)


def _nearest_leaf_slot(docids: list[Docid], vectors: np.ndarray, vector: np.ndarray, leaf_digits: int) -> Docid:
    rows, prefix = np.arange(len(docids)), ()
    while any(len(docids[r]) - leaf_digits > len(prefix) for r in rows):  # an inner node: descend
        children: dict[int, list[int]] = {}
        for r in rows:
            children.setdefault(docids[r][len(prefix)], []).append(r)
        names = list(children)
        centroids = np.stack([vectors[children[c]].mean(axis=0) for c in names])
        best = names[int(np.argmin(((centroids - vector) ** 2).sum(axis=1)))]
        prefix, rows = prefix + (best,), np.array(children[best])
    used = [int("".join(map(str, docids[r][len(prefix):]))) for r in rows]
    position = max(used, default=-1) + 1
    if position >= DIGITS ** leaf_digits:
        raise ValueError(f"semantic docids: leaf {prefix} is full ({len(used)} documents); rebuild with a larger "
                         f"leaf_size")
    return prefix + digits(position, leaf_digits)


def make_docids(scheme: str, docnos: Sequence[str], embeddings: np.ndarray | None = None, *, branches: int = DIGITS,
                leaf_size: int = 100, pad: bool = True, seed: int = 42) -> DocidMapping:
    """The mapping of ``docnos`` under ``scheme`` (``semantic`` needs the documents' ``embeddings``)."""
    if scheme == "naive":
        return naive_docids(docnos, pad)
    if scheme == "atomic":
        return atomic_docids(docnos)
    if scheme == "semantic":
        if embeddings is None:
            raise ValueError("semantic docids need document embeddings")
        return semantic_docids(docnos, embeddings, branches, leaf_size, seed)
    raise ValueError(f"unknown docid scheme {scheme!r}; choose from {list(SCHEMES)}")

