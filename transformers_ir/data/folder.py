"""Datasets stored as a folder: corpus.jsonl[.gz], topics[.split].tsv, qrels[.split].txt."""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Iterable, Iterator

import pandas as pd

from ..core import file_sha256
from .corpus import read_jsonl_corpus
from .dataset import Dataset
from .trec import read_qrels, read_topics

_SPLIT_FILE = re.compile(r"^(topics|qrels)(?:\.(.+))?\.(tsv|txt)$")


class FolderDataset(Dataset):
    """A collection in the plain folder format of ``../shared/data`` (see its README)."""

    def __init__(self, path: str | Path):
        self.path = Path(path).resolve()
        self.name = self.path.name
        corpora = [self.path / n for n in ("corpus.jsonl", "corpus.jsonl.gz") if (self.path / n).exists()]
        self.corpus_path = corpora[0] if corpora else None
        self._fingerprint: tuple[tuple[int, int], str] | None = None
        self._files: dict[tuple[str, str | None], Path] = {}
        for f in sorted(self.path.iterdir()):
            m = _SPLIT_FILE.match(f.name)
            if m and (m.group(1) == "topics") == (m.group(3) == "tsv"):
                self._files[(m.group(1), m.group(2))] = f

    @property
    def splits(self) -> list[str]:
        return sorted({split for (_, split) in self._files if split is not None})

    def _file(self, kind: str, split: str | None) -> Path:
        if (kind, split) in self._files:
            return self._files[(kind, split)]
        if split is not None and (kind, None) in self._files:
            return self._files[(kind, None)]  # e.g. qrels.in-corpus.txt beside a single topics.tsv
        own = sorted(s for (k, s) in self._files if k == kind and s is not None)
        if split is None and own:
            raise ValueError(f"dataset {self.name!r} has {kind} for splits {own}; pass split=")
        raise FileNotFoundError(f"dataset {self.name!r} ({self.path}) has no {kind} "
                                f"for split {split!r}; splits: {self.splits or 'none'}")

    def topics(self, split: str | None = None) -> pd.DataFrame:
        return read_topics(self._file("topics", split))

    def qrels(self, split: str | None = None) -> pd.DataFrame:
        return read_qrels(self._file("qrels", split))

    def corpus_iter(self) -> Iterator[dict]:
        """The documents, each line checked (see :mod:`transformers_ir.data.corpus`)."""
        return read_jsonl_corpus(self._corpus())

    def _corpus(self) -> Path:
        if self.corpus_path is None:
            raise FileNotFoundError(f"dataset {self.name!r} ({self.path}) has no corpus.jsonl[.gz]")
        return self.corpus_path

    def fingerprint(self) -> str:
        """sha256 of the corpus file, recomputed when the file changes (size or modification time)."""
        stat = self._corpus().stat()
        if self._fingerprint is None or self._fingerprint[0] != (stat.st_size, stat.st_mtime_ns):
            self._fingerprint = ((stat.st_size, stat.st_mtime_ns), file_sha256(self.corpus_path))
        return self._fingerprint[1]

    def info_url(self) -> str | None:
        """The folder's ``SOURCE.md`` (where the collection came from), as a ``file:`` URL."""
        source = self.path / "SOURCE.md"
        return source.as_uri() if source.exists() else None

    def qrels_fingerprint(self, split: str | None = None) -> str:
        return file_sha256(self._file("qrels", split))


def write_folder(root: str | Path, docs: Iterable[dict] | None, topics: pd.DataFrame | None = None,
                 qrels: pd.DataFrame | None = None, split: str | None = None) -> FolderDataset:
    """Write ``docs`` (``docno, text``, optional ``title``), ``topics`` (``qid, query``) and ``qrels`` (``qid, docno,
    label``) as a dataset folder at ``root`` (``topics.<split>.tsv`` / ``qrels.<split>.txt`` when ``split``; what is
    ``None`` is not written), and open it: slices and derived collections become ordinary datasets."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    if docs is not None:
        with open(root / "corpus.jsonl", "w") as f:
            f.writelines(json.dumps({k: d[k] for k in ("docno", "title", "text") if k in d}) + "\n" for d in docs)
    suffix = f".{split}" if split else ""
    if topics is not None:
        topics[["qid", "query"]].to_csv(root / f"topics{suffix}.tsv", sep="\t", header=False, index=False)
    if qrels is not None:
        qrels.assign(iteration="0")[["qid", "iteration", "docno", "label"]].to_csv(
            root / f"qrels{suffix}.txt", sep=" ", header=False, index=False)
    return FolderDataset(root)
