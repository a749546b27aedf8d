"""Ranking results by score, and what re-scoring stages share: new scores, NaN never passed on, re-ranked."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from .columns import require_columns

RESCORED = ("score", "rank")


def add_ranks(results: pd.DataFrame) -> pd.DataFrame:
    """Sort by qid then descending score and set a 0-based ``rank`` (PyTerrier's convention)."""
    results = results.sort_values(["qid", "score"], ascending=[True, False], kind="stable").reset_index(drop=True)
    results["rank"] = results.groupby("qid", sort=False).cumcount()
    return results


def rescorer_outputs(stage: object, input_columns: list[str], needed: list[str], hint: str = "") -> list[str]:
    """A re-scorer's output columns: its input's (``needed`` checked, naming ``stage``) with ``score, rank`` last."""
    require_columns(stage, input_columns, needed, hint=hint)
    return [c for c in input_columns if c not in RESCORED] + list(RESCORED)


def rescored(stage: object, results: pd.DataFrame, scores: np.ndarray, columns: list[str]) -> pd.DataFrame:
    """``results`` (row order matching ``scores``) with ``score`` replaced, NaN scores set to -inf with a warning
    naming ``stage``, sorted by qid and descending score, 0-based ``rank`` set, and ``columns`` selected."""
    scores = np.asarray(scores, dtype=np.float64).copy()
    nan = np.isnan(scores)
    if nan.any():
        warnings.warn(f"{stage}: {int(nan.sum())} NaN score(s) replaced by -inf", stacklevel=3)
        scores[nan] = -np.inf
    out = results.drop(columns=[c for c in RESCORED if c in results.columns]).reset_index(drop=True)
    out["score"] = scores
    return add_ranks(out)[columns]
