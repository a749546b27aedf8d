"""Reading and writing topics, qrels and runs, each line checked, errors naming file and line.

Every id (qid, docno) is a string compared exactly (``"01"`` is not ``"1"``) and holds no whitespace: the TREC
formats separate fields by whitespace, so such an id would not survive a round trip through a run file.
"""
from __future__ import annotations

import math
import re
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pyterrier as pt

from ..core import InputFormatError, atomic_open
from ..core.rescore import add_ranks
from .text_files import read_lines


def query_problem(query: object) -> str | None:
    """Why ``query`` cannot be run (empty, not text, a NUL byte), or None."""
    if not isinstance(query, str):
        return f"the query is {'missing (NaN)' if query is None or query != query else type(query).__name__}"
    if not query.strip():
        return "the query is empty"
    if "\0" in query:
        return "the query holds a NUL byte"
    return None


def _column(line: str, i: int) -> int:
    """The 1-based column where whitespace-separated field ``i`` of ``line`` starts."""
    return [m.start() for m in re.finditer(r"\S+", line)][i] + 1


def read_topics(path: str | Path) -> pd.DataFrame:
    """Topics as a ``qid, query`` frame: ``qid<TAB>query`` lines, or TREC ``<top>`` topics (via PyTerrier)."""
    path = Path(path)
    lines = list(read_lines(path))
    if lines and lines[0][1].lstrip().startswith("<"):
        return _read_trec_topics(path, lines)
    qids, queries, seen = [], [], {}
    for lineno, line in lines:
        qid, sep, query = line.partition("\t")
        if not sep:
            raise InputFormatError(path, lineno, "expected 'qid<TAB>query', found no tab", column=1)
        qid = qid.strip()
        if not qid:
            raise InputFormatError(path, lineno, "empty qid", column=1)
        if any(c.isspace() for c in qid):
            raise InputFormatError(path, lineno, f"qid {qid!r} contains whitespace", column=1)
        if qid in seen:
            raise InputFormatError(path, lineno, f"duplicate qid {qid!r} (first seen on line {seen[qid]})")
        problem = query_problem(query)
        if problem:
            raise InputFormatError(path, lineno, f"qid {qid!r}: {problem}", column=len(qid) + 2)
        seen[qid] = lineno
        qids.append(qid), queries.append(query)
    return pd.DataFrame({"qid": qids, "query": queries})


def _read_trec_topics(path: Path, lines: list[tuple[int, str]]) -> pd.DataFrame:
    """TREC ``<top>`` topics, parsed by PyTerrier from the decoded text (so a BOM or CRLF cannot hide a topic)."""
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", suffix=".trec") as f:
        f.write("\n".join(line for _, line in lines) + "\n")
        f.flush()
        topics = pt.io.read_topics(f.name, format="trec")
    topics["qid"] = topics["qid"].astype(str)
    dupes = topics.qid[topics.qid.duplicated()]
    if len(dupes):
        raise InputFormatError(path, 0, f"duplicate qid {dupes.iloc[0]!r}")
    for qid, query in zip(topics["qid"], topics["query"]):
        problem = query_problem(query)
        if problem:
            raise InputFormatError(path, next((n for n, line in lines if qid in line), 0), f"qid {qid!r}: {problem}")
    return topics


def read_qrels(path: str | Path) -> pd.DataFrame:
    """TREC qrels (``qid iter docno label``) as a ``qid, docno, label`` frame.

    The same (qid, docno) twice with different labels is an error naming both lines; twice with the same label,
    one warning (the repeat is dropped).
    """
    path = Path(path)
    qids, docnos, labels, seen, repeated = [], [], [], {}, []
    for lineno, line in read_lines(path):
        fields = line.split()
        if len(fields) != 4:
            raise InputFormatError(path, lineno, f"expected 4 fields 'qid iter docno label', found {len(fields)}")
        qid, _, docno, text = fields
        try:
            label = int(text)
        except ValueError:
            raise InputFormatError(path, lineno, f"relevance label {text!r} is not an integer",
                                   _column(line, 3)) from None
        if (qid, docno) in seen:
            first, first_label = seen[(qid, docno)]
            if first_label != label:
                raise InputFormatError(path, lineno, f"qid {qid!r}, docno {docno!r} judged {label} here and "
                                                     f"{first_label} on line {first}")
            repeated.append(lineno)
            continue
        seen[(qid, docno)] = (lineno, label)
        qids.append(qid), docnos.append(docno), labels.append(label)
    if repeated:
        warnings.warn(f"{path}: {len(repeated)} repeated judgement(s) with the same label dropped (lines "
                      f"{', '.join(map(str, repeated[:5]))}{', ...' if len(repeated) > 5 else ''})", stacklevel=2)
    return pd.DataFrame({"qid": qids, "docno": docnos, "label": pd.array(labels, dtype="int64")})


def read_run(path: str | Path) -> pd.DataFrame:
    """A TREC run (``qid Q0 docno rank score tag``) as ``qid, docno, score, rank, name``, re-ranked by score
    (rank 0-based). A score that is not a finite number, a rank that is not an integer, or a docno twice for one
    query is an error naming the line."""
    path = Path(path)
    rows, seen = [], {}
    for lineno, line in read_lines(path):
        fields = line.split()
        if len(fields) != 6:
            raise InputFormatError(path, lineno, f"expected 6 fields 'qid Q0 docno rank score tag', found {len(fields)}")
        qid, _, docno, rank, text, tag = fields
        try:
            score = float(text)
        except ValueError:
            score = None
        if score is None or not math.isfinite(score):
            raise InputFormatError(path, lineno, f"score {text!r} is not a finite number",
                                   _column(line, 4))
        if not rank.lstrip("-").isdigit():
            raise InputFormatError(path, lineno, f"rank {rank!r} is not an integer", _column(line, 3))
        if (qid, docno) in seen:
            raise InputFormatError(path, lineno, f"docno {docno!r} appears twice for qid {qid!r} (first on line "
                                                 f"{seen[(qid, docno)]})")
        seen[(qid, docno)] = lineno
        rows.append((qid, docno, score, tag))
    run = pd.DataFrame(rows, columns=["qid", "docno", "score", "name"])
    return add_ranks(run)


def write_run(results: pd.DataFrame, path: str | Path, name: str = "tir") -> None:
    """Write ``qid, docno, score, rank`` results as a TREC run file, atomically (rank written 1-based).

    Ids with whitespace cannot be written (a reader would split them): that is an error naming the id.
    """
    results = add_ranks(results[["qid", "docno", "score"]].copy()) if "rank" not in results else results
    qids, docnos = results["qid"].astype(str).tolist(), results["docno"].astype(str).tolist()
    ranks = (results["rank"].to_numpy(dtype=np.int64) + 1).tolist()
    scores = results["score"].to_numpy(dtype=np.float64).tolist()
    tag = "".join(c if not c.isspace() else "_" for c in name) or "tir"
    text = "".join(f"{q} Q0 {d} {r} {s!r} {tag}\n" for q, d, r, s in zip(qids, docnos, ranks, scores))
    if len(text.split()) != 6 * len(qids):  # an id holds whitespace (joined strings: 2.5x faster than to_csv)
        for column, ids in (("qid", qids), ("docno", docnos)):
            bad = next((i for i in ids if any(c.isspace() for c in i)), None)
            if bad is not None:
                raise ValueError(f"cannot write {path}: {column} {bad!r} contains whitespace")
    with atomic_open(path, "w") as f:
        f.write(text)
