"""Paired significance tests against one or more baselines, with multiple-testing correction."""
from __future__ import annotations

from functools import partial
from typing import Callable, Sequence

import numpy as np
import pandas as pd
from scipy import stats

CORRECTIONS = ("bonferroni", "sidak", "holm-sidak", "holm", "simes-hochberg", "hommel", "fdr_bh", "fdr_by",
               "fdr_tsbh", "fdr_tsbky", "hs")


def _permutation(a: np.ndarray, b: np.ndarray, n_resamples: int = 9999, seed: int = 0) -> tuple[float, float]:
    """Paired (sign-flip) permutation test on the mean difference."""
    res = stats.permutation_test((a, b), lambda x, y: np.mean(x - y), permutation_type="samples",
                                 n_resamples=n_resamples, rng=np.random.default_rng(seed))
    return res.statistic, res.pvalue


TESTS: dict[str, Callable] = {"t": stats.ttest_rel, "wilcoxon": stats.wilcoxon, "permutation": _permutation}


def test_function(test: "str | Callable", seed: int = 0) -> Callable:
    if callable(test):
        return test
    if test not in TESTS:
        raise ValueError(f"unknown significance test {test!r}; choose from {list(TESTS)}")
    return partial(_permutation, seed=seed) if test == "permutation" else TESTS[test]


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


def add_significance(results: pd.DataFrame, perquery: pd.DataFrame, baselines: Sequence[str], metrics: Sequence[str],
                     test: "str | Callable" = "t", correction: str | None = None, alpha: float = 0.05,
                     seed: int = 0) -> pd.DataFrame:
    """Add, per baseline B and metric M: ``M + vs B``, ``M - vs B`` (queries won/lost), ``M p_value vs B``,
    ``M p_corrected vs B`` (corrected across pipelines; equal to the p-value when ``correction`` is None)
    and ``M significant vs B`` (corrected p < ``alpha``).

    Queries are those the baseline has values for (as in ``pt.Experiment``); a pipeline without a value
    for one of them counts 0 there.
    """
    fn = test_function(test, seed)
    results = results.copy()
    names = results["name"].tolist()
    table = {m: perquery[perquery["measure"] == m].pivot(index="qid", columns="name", values="value") for m in metrics}
    for base in baselines:
        if base not in names:
            raise ValueError(f"unknown baseline {base!r}; pipelines are {names}")
        others = [n for n in names if n != base and n in table[metrics[0]].columns]
        for m in metrics:
            values = table[m][table[m][base].notna()].fillna(0.0)
            b = values[base].to_numpy()
            cols = {k: pd.Series(np.nan, index=results.index, dtype=object) for k in ("+", "-", "p_value")}
            pvalues = []
            for n in others:
                s = values[n].to_numpy()
                row = names.index(n)
                cols["+"][row], cols["-"][row] = int((s > b).sum()), int((s < b).sum())
                pvalues.append(float(fn(s, b)[1]))
                cols["p_value"][row] = pvalues[-1]
            for k, v in cols.items():
                results[f"{m} {k} vs {base}"] = v if k != "p_value" else v.astype(float)
            if pvalues:
                if correction is None:
                    reject, corrected = np.asarray(pvalues) < alpha, np.asarray(pvalues)
                else:
                    reject, corrected = correct(pvalues, correction, alpha)
                pc = pd.Series(np.nan, index=results.index)
                sig = pd.Series(pd.NA, index=results.index, dtype="boolean")
                for n, r, c in zip(others, reject, corrected):
                    pc[names.index(n)], sig[names.index(n)] = c, bool(r)
                results[f"{m} p_corrected vs {base}"], results[f"{m} significant vs {base}"] = pc, sig
    return results
