"""``tir.Experiment``: evaluate pipelines on topics and qrels, with significance and per-stage times."""
from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
import pyterrier as pt

from ..core import require_columns
from .execution import StageTiming, check_columns, prepare, run_chain, stage_chain
from .measures import parse_measures, perquery_values
from .significance import correct, paired_pvalue, test_function

System = "pt.Transformer | pd.DataFrame"


@dataclass
class ExperimentResult:
    """What an experiment produced: one row per pipeline, per-query values, per-stage times and the runs."""

    results: pd.DataFrame
    perquery: pd.DataFrame
    stages: pd.DataFrame
    runs: dict[str, pd.DataFrame] = field(repr=False)
    metrics: list[str]
    baseline: str | None = None

    def _repr_html_(self) -> str:
        bars = []
        for name, group in self.stages.groupby("name", sort=False):
            total = group["seconds"].sum() or 1.0
            cells = "".join(
                f'<div title="{html.escape(s)}: {t * 1000:.1f} ms" style="display:inline-block;height:12px;'
                f'width:{max(1.0, 300 * t / total):.0f}px;background:hsl({(60 * i) % 360},60%,60%)"></div>'
                for i, (s, t) in enumerate(zip(group["stage"], group["seconds"])))
            bars.append(f"<tr><td>{html.escape(str(name))}</td><td>{cells}</td><td>{total * 1000:.1f} ms</td></tr>")
        return (self.results.to_html(index=False, float_format=lambda v: f"{v:.4f}") +
                "<table><tr><th>pipeline</th><th>time per stage</th><th>total</th></tr>" + "".join(bars) + "</table>")


def _names(pipelines, names) -> tuple[list[str], list]:
    if isinstance(pipelines, Mapping):
        names, systems = [str(n) for n in pipelines], list(pipelines.values())
    else:
        systems = list(pipelines)
        names = [str(n) for n in names] if names is not None else [str(s) for s in systems]
    if len(names) != len(systems):
        raise ValueError(f"{len(names)} names for {len(systems)} pipelines")
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise ValueError(f"pipeline names must be unique; repeated: {sorted(dupes)}")
    return names, systems


def Experiment(pipelines: "Sequence[System] | Mapping[str, System]", topics: pd.DataFrame, qrels: pd.DataFrame,
               metrics: Sequence[str], names: Sequence[str] | None = None, baseline: "int | str | None" = None,
               test: "str | Callable" = "t", correction: str | None = None, alpha: float = 0.05,
               perquery: bool = False, on_run: Callable[[str, pd.DataFrame], None] | None = None) -> ExperimentResult:
    """Run and evaluate ``pipelines`` like ``pt.Experiment``, also timing each stage of each ``>>`` chain.

    ``baseline`` (index or name) adds, per metric, wins/losses and the paired ``test`` p-value (``t`` or
    ``wilcoxon``), corrected across pipelines by ``correction`` (a statsmodels method, e.g. ``holm``).
    ``on_run(name, results)`` is called as soon as each pipeline has run. ``perquery`` puts the per-query
    values in the notebook rendering's table too (they are always in ``.perquery``).
    """
    names, systems = _names(pipelines, names)
    measures = parse_measures(metrics)
    test_fn = test_function(test)
    if isinstance(baseline, str):
        if baseline not in names:
            raise ValueError(f"unknown baseline {baseline!r}; pipelines are {names}")
        baseline = names.index(baseline)
    if baseline is not None and not 0 <= int(baseline) < len(systems):
        raise ValueError(f"baseline index {baseline} out of range for {len(systems)} pipelines")
    if correction is not None and baseline is None:
        raise ValueError("a multiple-testing correction needs a baseline")
    require_columns("Experiment topics", topics.columns, ["qid", "query"])
    require_columns("Experiment qrels", qrels.columns, ["qid", "docno", "label"])
    qrels = qrels.merge(topics[["qid"]].drop_duplicates())

    chains = {n: stage_chain(s) for n, s in zip(names, systems) if not isinstance(s, pd.DataFrame)}
    for name, chain in chains.items():
        check_columns(name, chain, list(topics.columns))
    for chain in chains.values():
        prepare(chain)

    per_query: dict[str, dict[str, dict[str, float]]] = {}
    rows, stage_rows, runs = [], [], {}
    for name, system in zip(names, systems):
        if isinstance(system, pd.DataFrame):
            run, timings = system, []
        else:
            run, timings = run_chain(name, chains[name], topics)
        runs[name] = run
        if on_run is not None:
            on_run(name, run)
        per_query[name] = perquery_values(run, qrels, measures)
        if not per_query[name]:
            raise ValueError(f"pipeline {name!r} returned no results for any of the {len(topics)} topics")
        values = pd.DataFrame.from_dict(per_query[name], orient="index")
        row = {"name": name, **{m: float(values[m].mean()) for m in measures}}
        total = sum(t.seconds for t in timings)
        row["mrt_ms"] = 1000 * total / len(topics) if timings else float("nan")
        rows.append(row)
        stage_rows += [{"name": name, "position": t.position, "stage": t.stage, "seconds": t.seconds,
                        "rows_out": t.rows_out} for t in timings]

    results = pd.DataFrame(rows)
    if baseline is not None:
        results = _significance(results, per_query, names, int(baseline), list(measures), test_fn, correction, alpha)
    long = pd.DataFrame([(n, q, m, v) for n, qs in per_query.items() for q, ms in qs.items() for m, v in ms.items()],
                        columns=["name", "qid", "measure", "value"])
    stages = pd.DataFrame(stage_rows, columns=["name", "position", "stage", "seconds", "rows_out"])
    return ExperimentResult(results, long, stages, runs, list(measures),
                            names[int(baseline)] if baseline is not None else None)


def _significance(results: pd.DataFrame, per_query, names: list[str], baseline: int, metrics: list[str],
                  test_fn: Callable, correction: str | None, alpha: float) -> pd.DataFrame:
    """Add ``{metric} +``, ``{metric} -``, ``{metric} p_value`` (and corrected columns) vs ``names[baseline]``."""
    base = per_query[names[baseline]]
    qids = list(base)
    for m in metrics:
        b = np.array([base[q][m] for q in qids])
        wins, losses, pvalues = [], [], []
        for i, name in enumerate(names):
            if i == baseline:
                wins.append(None), losses.append(None), pvalues.append(np.nan)
                continue
            s = np.array([per_query[name].get(q, {}).get(m, 0.0) for q in qids])
            wins.append(int((s > b).sum())), losses.append(int((s < b).sum()))
            pvalues.append(paired_pvalue(s, b, test_fn))
        results[f"{m} +"], results[f"{m} -"], results[f"{m} p_value"] = wins, losses, pvalues
        if correction is not None:
            others = [i for i in range(len(names)) if i != baseline]
            reject, corrected = correct([pvalues[i] for i in others], correction, alpha)
            p_corrected, significant = [np.nan] * len(names), [False] * len(names)
            for i, r, c in zip(others, reject, corrected):
                p_corrected[i], significant[i] = float(c), bool(r)
            results[f"{m} p_corrected"], results[f"{m} significant"] = p_corrected, significant
    return results
