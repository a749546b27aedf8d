"""Writing PISA indexes so that nothing goes wrong silently.

pyterrier-pisa feeds its native indexer from a thread: an exception in the document iterator (a bad corpus line)
only ends that thread, and PISA indexes what it got — a truncated index with exit code 0. And a native abort (an
empty corpus) kills the whole Python process. Here the native indexer runs in a child process that this process
feeds, so: a failing iterator stops the build and its error is raised; a native failure becomes an
:class:`IndexBuildError` quoting the native log's last lines; and the index is accepted only when PISA holds as
many documents as were read.
"""
from __future__ import annotations

import errno
import itertools
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterable, Iterator

from ..core import IndexBuildError
from ..core.native import log_tail, redirect_native_output

_CHILD = """import importlib.machinery, importlib.util, sys
loader = importlib.machinery.ExtensionFileLoader("_pisathon", sys.argv[1])
native = importlib.util.module_from_spec(importlib.util.spec_from_file_location("_pisathon", sys.argv[1], loader=loader))
loader.exec_module(native)
native.index(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6]))
"""


def _native():
    from pyterrier_pisa import _pisathon
    return _pisathon


def _first(docs: Iterable, what: str) -> Iterator:
    """``docs`` as an iterator, after checking it yields at least one item (PISA aborts on none)."""
    docs = iter(docs)
    try:
        first = next(docs)
    except StopIteration:
        raise IndexBuildError(f"{what}: no documents to index") from None
    return itertools.chain([first], docs)


def _checked_count(folder: Path, read: int, log: Path) -> int:
    indexed = _native().num_docs(str(folder))
    if indexed != read:
        raise IndexBuildError(f"PISA indexed {indexed} documents of the {read} read; not installed. "
                              f"Last lines of its log ({log}):\n{log_tail(log)}")
    return indexed


def build_text_index(folder: Path, docs: Iterable[tuple[str, str]], stemmer: str, stops: str, threads: int,
                     log: Path, batch_size: int = 100_000) -> int:
    """Index ``(docno, text)`` pairs into the new folder ``folder`` (PISA's own tokenizer and ``stemmer``);
    return the document count."""
    import pyterrier_pisa
    from pyterrier_pisa.indexers import PisaIndexer

    class Indexer(PisaIndexer):
        def _index(self, it):
            self.count = _feed_native(it, self.path, "" if stemmer == "none" else stemmer, batch_size, threads, log)

    docs = _first(docs, str(folder))
    indexer = Indexer(str(folder), "text", stemmer=stemmer, threads=threads, batch_size=batch_size)
    indexer.index({"docno": docno, "text": text} for docno, text in docs)
    pyterrier_pisa.PisaIndex(str(folder), stemmer=stemmer, stops=stops, threads=threads)  # checks it opens
    return _checked_count(folder, indexer.count, log)


def build_toks_index(folder: Path, docs: Iterable[tuple[str, dict[str, int]]], threads: int, log: Path) -> int:
    """Index ``(docno, {term: integer weight})`` pairs into the new folder ``folder``; return the document count."""
    import pyterrier_pisa
    count = 0

    def counted() -> Iterator[dict]:
        nonlocal count
        for docno, toks in _first(docs, str(folder)):
            count += 1
            yield {"docno": docno, "toks": toks}

    index = pyterrier_pisa.PisaIndex(str(folder), stemmer="none", stops="none", threads=threads)
    with redirect_native_output(log):
        index.toks_indexer("toks", scale=1.0).index(counted())
    return _checked_count(folder, count, log)


def _feed_native(docs: Iterable[dict], folder: Path, stemmer: str, batch_size: int, threads: int, log: Path) -> int:
    """Run PISA's native indexer on ``folder`` in a child process, feeding it ``docs`` through a pipe."""
    with tempfile.TemporaryDirectory(prefix="tir-pisa-") as d, open(log, "ab") as log_file:
        fifo = os.path.join(d, "documents")
        os.mkfifo(fifo)
        child = subprocess.Popen([sys.executable, "-c", _CHILD, _native().__file__, fifo, str(folder), stemmer,
                                  str(batch_size), str(threads)], stdout=log_file, stderr=subprocess.STDOUT)
        count = 0
        try:
            with _open_writer(fifo, child) as pipe:
                for doc in docs:
                    text = doc["text"].replace("\n", " ").replace("\r", " ")
                    pipe.write(f"{doc['docno']} {text}\n")
                    count += 1
        except BrokenPipeError:
            child.wait()
            raise IndexBuildError(f"PISA's indexer stopped (exit code {child.returncode}) after {count} documents; "
                                  f"last lines of its log ({log}):\n{log_tail(log)}") from None
        except BaseException:
            child.kill()
            child.wait()
            raise
        if child.wait() != 0:
            raise IndexBuildError(f"PISA's indexer failed (exit code {child.returncode}); last lines of its log "
                                  f"({log}):\n{log_tail(log)}")
    return count


def _open_writer(fifo: str, child: subprocess.Popen):
    """The write end of ``fifo`` once ``child`` has opened it for reading (an error if it exits first)."""
    while True:
        try:
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            break
        except OSError as e:
            if e.errno != errno.ENXIO:
                raise
            if child.poll() is not None:
                raise BrokenPipeError from None
            time.sleep(0.01)
    os.set_blocking(fd, True)
    return os.fdopen(fd, "w", encoding="utf-8")
