"""A PISA inverted index of a corpus, with a manifest that makes rebuilding a no-op."""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, Iterable, Iterator

from ..core import atomic_write_text
from ..core.index_folder import MANIFEST, IndexFolder, index_path
from ..core.progress import show_progress
from ..data import Dataset, load_dataset
from .analyzer import Analyzer



@contextlib.contextmanager
def redirect_native_output(log_path: Path) -> Iterator[None]:
    """Send what PISA's C++ code prints (progress, info lines) to ``log_path`` instead of the terminal."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    saved = [os.dup(1), os.dup(2)]
    with open(log_path, "ab") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)


def _progress_stream() -> IO[str]:
    """A stream to the terminal that stays there while :func:`redirect_native_output` holds fds 1 and 2."""
    try:
        return os.fdopen(os.dup(sys.stderr.fileno()), "w")
    except (AttributeError, OSError, ValueError):  # no file descriptor (a notebook, a captured stream)
        return sys.stderr


def _flat_text(doc: dict) -> str:
    """Title and text in one field (BEIR / Anserini "flat")."""
    return f"{doc.get('title') or ''} {doc.get('text') or ''}".strip()


class _SpooledCorpus:
    """Documents from an arbitrary iterable, written once to a temporary JSONL file while being hashed."""

    def __init__(self, docs: Iterable[dict]):
        import hashlib
        self._dir = tempfile.TemporaryDirectory(prefix="tir-corpus-")
        self.path = Path(self._dir.name) / "corpus.jsonl"
        h = hashlib.sha256()
        with open(self.path, "w", encoding="utf-8") as f:
            for doc in docs:
                line = json.dumps({"docno": str(doc["docno"]), "title": doc.get("title"), "text": doc.get("text")})
                h.update(line.encode())
                f.write(line + "\n")
        self.fingerprint = h.hexdigest()

    def __iter__(self) -> Iterator[dict]:
        with open(self.path, encoding="utf-8") as f:
            for line in f:
                yield json.loads(line)


class PisaTextIndex(IndexFolder):
    """An inverted index over a corpus's title+text, built by PISA, described by ``manifest.json``."""

    def __init__(self, path: str | Path, analyzer: Analyzer = Analyzer(), threads: int = 1):
        self.path = Path(path)
        self.analyzer = analyzer
        self.threads = threads

    @classmethod
    def for_dataset(cls, dataset: "str | Dataset", analyzer: Analyzer = Analyzer(), threads: int = 1) -> "PisaTextIndex":
        """The index of ``dataset`` in the cache folder (``$TIR_CACHE_DIR/indexes``)."""
        dataset = load_dataset(dataset)
        key = {"corpus": dataset.fingerprint(), "analyzer": analyzer.as_dict()}
        return cls(index_path("pisa", dataset.name, key), analyzer, threads)

    def __repr__(self) -> str:
        return f"PisaTextIndex({str(self.path)!r}, stemmer={self.analyzer.stemmer!r}, stopwords={self.analyzer.stopwords})"

    def build(self, docs: "Dataset | str | Iterable[dict]", force: bool = False) -> "PisaTextIndex":
        """Index ``docs`` (a dataset or dicts with ``docno``, ``text``[, ``title``]); a no-op when already built from the same corpus."""
        if isinstance(docs, (str, Dataset)):
            dataset = load_dataset(docs)
            fingerprint, corpus, source = dataset.fingerprint(), dataset.corpus_iter, dataset.name
        else:
            spool = _SpooledCorpus(docs)
            fingerprint, corpus, source = spool.fingerprint, spool.__iter__, "iterable"
        manifest = self.manifest
        if (not force and manifest and manifest["corpus_fingerprint"] == fingerprint
                and manifest["analyzer"] == self.analyzer.as_dict()):
            return self
        self._build(corpus(), fingerprint, source)
        return self

    def _build(self, docs: Iterable[dict], fingerprint: str, source: str) -> None:
        import pyterrier_pisa
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{self.path.name}.", dir=self.path.parent))
        tmp.rmdir()  # PISA creates the folder itself
        log = tmp.with_suffix(".log")
        start = time.perf_counter()
        count = 0

        bar = _progress_stream() if show_progress() else None  # PISA's own output goes to the log, not the bar

        def counted(field: str, value) -> Iterator[dict]:
            nonlocal count
            from tqdm.auto import tqdm
            for doc in tqdm(docs, desc=f"PISA: indexing {source}", unit="doc", disable=bar is None, file=bar):
                count += 1
                yield {"docno": doc["docno"], field: value(doc)}

        try:
            index = pyterrier_pisa.PisaIndex(str(tmp), stemmer=self.analyzer.pisa_stemmer, stops=self.analyzer.pisa_stops,
                                             threads=self.threads)
            with redirect_native_output(log):
                if self.analyzer.pretokenised:
                    index.toks_indexer("toks", scale=1.0).index(counted("toks", lambda d: self.analyzer.toks(_flat_text(d))))
                else:
                    index.indexer("text").index(counted("text", _flat_text))
            seconds = time.perf_counter() - start
            os.replace(log, tmp / "build.log")
            size = sum(f.stat().st_size for f in tmp.rglob("*") if f.is_file())
            atomic_write_text(tmp / MANIFEST, json.dumps({
                "type": "pisa-text", "source": source, "corpus_fingerprint": fingerprint,
                "analyzer": self.analyzer.as_dict(), "fields": ["title", "text"], "doc_count": count,
                "size_bytes": size, "build_seconds": round(seconds, 3),
                "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "pyterrier_pisa": pyterrier_pisa.__version__,
            }, indent=2))
            self._install(tmp)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
            if log.exists():
                log.unlink()
            if bar is not None and bar is not sys.stderr:
                bar.close()

    def pisa(self):
        """The underlying ``pyterrier_pisa.PisaIndex``."""
        import pyterrier_pisa
        if not self.built():
            raise FileNotFoundError(f"{self} is not built; call .build(dataset) first")
        return pyterrier_pisa.PisaIndex(str(self.path), stemmer=self.analyzer.pisa_stemmer,
                                        stops=self.analyzer.pisa_stops, threads=self.threads)
