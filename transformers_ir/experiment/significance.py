"""Paired significance tests against a baseline and multiple-testing correction."""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
from scipy import stats

TESTS: dict[str, Callable] = {"t": stats.ttest_rel, "wilcoxon": stats.wilcoxon}
CORRECTIONS = ("bonferroni", "sidak", "holm-sidak", "holm", "simes-hochberg", "hommel", "fdr_bh", "fdr_by",
               "fdr_tsbh", "fdr_tsbky", "hs")


def test_function(test: "str | Callable") -> Callable:
    if callable(test):
        return test
    if test not in TESTS:
        raise ValueError(f"unknown significance test {test!r}; choose from {list(TESTS)}")
    return TESTS[test]


def paired_pvalue(system: np.ndarray, baseline: np.ndarray, test: "str | Callable" = "t") -> float:
    """p-value of ``test(system, baseline)`` on per-query values aligned by query."""
    return float(test_function(test)(system, baseline)[1])


def correct(pvalues: Sequence[float], method: str, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """(reject, corrected p-values) by statsmodels' ``multipletests``."""
    from statsmodels.stats.multitest import multipletests
    if method not in CORRECTIONS:
        raise ValueError(f"unknown correction {method!r}; choose from {list(CORRECTIONS)}")
    reject, corrected, _, _ = multipletests(np.asarray(pvalues, dtype=float), alpha=alpha, method=method)
    return reject, corrected
