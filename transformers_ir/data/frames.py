"""Topics, qrels and runs handed over as frames (a notebook's, or read from files): ids made strings, values
checked, errors naming the frame, the column and the first offending row — never a raw pandas or trec_eval error.

Ids are compared as strings, exactly: an integer qid ``1`` becomes ``"1"`` (which matches qrels ``1`` but not
``01``)."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from ..core import TirError, require_columns
from .trec import query_problem


class FrameError(TirError, ValueError):
    """A frame whose values cannot be evaluated as they are; names the frame, column and row."""


def _ids(frame: pd.DataFrame, column: str, what: str) -> pd.Series:
    """``frame[column]`` as strings; a missing value or whitespace inside an id is an error."""
    values = frame[column]
    missing = values.isna()
    if missing.any():
        raise FrameError(f"{what}: column {column!r} has a missing value (row {int(np.flatnonzero(missing)[0])})")
    if pd.api.types.is_float_dtype(values):
        whole = values == values.round()
        if not whole.all():
            raise FrameError(f"{what}: column {column!r} holds a non-integer number {values[~whole].iloc[0]!r}; "
                             f"ids must be strings")
        values = values.astype("int64")
    values = values.astype(str)
    spaced = values.str.contains(r"\s", regex=True)
    if spaced.any():
        raise FrameError(f"{what}: column {column!r} value {values[spaced].iloc[0]!r} contains whitespace")
    return values


def checked_topics(topics: pd.DataFrame, what: str = "topics") -> pd.DataFrame:
    """``qid, query`` (and any other columns) with string qids, one row per qid, runnable queries."""
    require_columns(what, topics.columns, ["qid", "query"])
    topics = topics.assign(qid=_ids(topics, "qid", what))
    dupes = topics["qid"].duplicated()
    if dupes.any():
        raise FrameError(f"{what}: qid {topics['qid'][dupes].iloc[0]!r} appears in more than one row")
    for qid, query in zip(topics["qid"], topics["query"]):
        problem = query_problem(query)
        if problem:
            raise FrameError(f"{what}: qid {qid!r}: {problem}")
    return topics


def checked_qrels(qrels: pd.DataFrame, what: str = "qrels") -> pd.DataFrame:
    """``qid, docno, label`` with string ids and integer labels; a (qid, docno) judged twice differently is an
    error, judged twice the same is kept once."""
    require_columns(what, qrels.columns, ["qid", "docno", "label"])
    qrels = qrels.assign(qid=_ids(qrels, "qid", what), docno=_ids(qrels, "docno", what))
    labels = pd.to_numeric(qrels["label"], errors="coerce")
    bad = labels.isna() | (labels != labels.round())
    if bad.any():
        raise FrameError(f"{what}: column 'label' must hold integers; found {qrels['label'][bad].iloc[0]!r}")
    qrels = qrels.assign(label=labels.astype("int64"))
    pairs = qrels.drop_duplicates(["qid", "docno", "label"])
    conflict = pairs.duplicated(["qid", "docno"], keep=False)
    if conflict.any():
        qid, docno = pairs[conflict].iloc[0][["qid", "docno"]]
        labels = sorted(pairs[(pairs["qid"] == qid) & (pairs["docno"] == docno)]["label"])
        raise FrameError(f"{what}: qid {qid!r}, docno {docno!r} is judged with different labels {labels}")
    if len(pairs) < len(qrels):
        warnings.warn(f"{what}: {len(qrels) - len(pairs)} repeated judgement(s) with the same label dropped",
                      stacklevel=2)
    return pairs.reset_index(drop=True)


def checked_run(run: pd.DataFrame, what: str = "run") -> pd.DataFrame:
    """``qid, docno, score`` results with string ids, finite scores and each docno at most once per query."""
    require_columns(what, run.columns, ["qid", "docno", "score"])
    run = run.assign(qid=_ids(run, "qid", what), docno=_ids(run, "docno", what))
    scores = pd.to_numeric(run["score"], errors="coerce").astype("float64")
    bad = ~np.isfinite(scores.to_numpy())
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise FrameError(f"{what}: qid {run['qid'].iloc[row]!r}, docno {run['docno'].iloc[row]!r}: score "
                         f"{run['score'].iloc[row]} is not a finite number")
    dupes = run.duplicated(["qid", "docno"])
    if dupes.any():
        row = run[dupes].iloc[0]
        raise FrameError(f"{what}: docno {row['docno']!r} appears more than once for qid {row['qid']!r}")
    return run.assign(score=scores)
