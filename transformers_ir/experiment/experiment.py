"""``tir.Experiment``: ``pt.Experiment``'s arguments and results, run by our engine (compiled pipelines, shared
prefixes, the persistent stage cache) with per-stage times, latency, throughput and cost added; and
:func:`run_pipelines` / :func:`assemble`, the same engine as the ``tir run`` runner uses it."""
from __future__ import annotations

import html
import os
import warnings
from dataclasses import dataclass, field
from typing import Callable, Iterator, Literal, Mapping, Sequence

import numpy as np
import pandas as pd
import pyterrier as pt

from ..core import require_columns
from .cache import StageCache
from .cost import Cost, resolve_cost
from .execution import (StageRecord, batch1_latency, check_columns, execute, execute_in_batches, prepare,
                        quiet_pyterrier, stage_chain)
from .frame import ExperimentFrame, ExperimentInfo
from .measures import parse_measures, perquery_values
from .saved_runs import SavedRuns
from .significance import add_significance, test_function

System = "pt.Transformer | pd.DataFrame"
PERCENTILES = (50, 95, 99)
RUN_COLUMNS = ("qid", "docno", "score", "rank")  # what is kept of each run (not document text)


@dataclass
class PipelineResult:
    """One pipeline's run, evaluated: its results row, per-query values and per-stage records."""

    name: str
    row: dict
    perquery: dict[str, dict[str, float]]
    stages: list[dict]
    run: pd.DataFrame | None
    error: str | None = None


@dataclass
class ExperimentResult:
    """What an experiment produced: one row per pipeline, per-query values, per-stage figures and the runs."""

    results: pd.DataFrame
    perquery: pd.DataFrame
    stages: pd.DataFrame
    runs: dict[str, pd.DataFrame] = field(repr=False)
    metrics: list[str]
    baselines: list[str] = field(default_factory=list)
    cache: dict[str, int] = field(default_factory=dict)

    @property
    def errors(self) -> dict[str, str]:
        if "error" not in self.results:
            return {}
        failed = self.results[self.results["error"].notna()]
        return dict(zip(failed["name"], failed["error"]))

    def _repr_html_(self) -> str:
        return render_html(self.results, self.stages)


def render_html(table: pd.DataFrame, stages: pd.DataFrame) -> str:
    """An experiment in a notebook: ``table``, then per pipeline a bar of its stages' times (lighter: cached)."""
    bars = []
    for name, group in stages.groupby("name", sort=False) if len(stages) else ():
        total = group["seconds"].sum() or 1.0
        cells = "".join(
            f'<div title="{html.escape(s)}: {t * 1000:.1f} ms{" (cached)" if c else ""}" '
            f'style="display:inline-block;height:12px;width:{max(1.0, 300 * t / total):.0f}px;'
            f'background:hsl({(60 * i) % 360},60%,{75 if c else 55}%)"></div>'
            for i, (s, t, c) in enumerate(zip(group["stage"], group["seconds"], group["cached"])))
        bars.append(f"<tr><td>{html.escape(str(name))}</td><td>{cells}</td><td>{total * 1000:.1f} ms</td></tr>")
    return (table.to_html(index=False, float_format=lambda v: f"{v:.4f}", max_rows=pd.get_option("display.max_rows"))
            + "<table><tr><th>pipeline</th><th>time per stage (lighter: cached)</th><th>total</th></tr>"
            + "".join(bars) + "</table>")


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


def _percentiles(seconds: np.ndarray) -> dict[str, float]:
    if not len(seconds):
        return {f"latency_p{p}_ms": float("nan") for p in PERCENTILES}
    return {f"latency_p{p}_ms": float(np.percentile(seconds, p) * 1000) for p in PERCENTILES}


def _prepared_chains(names: Sequence[str], systems: Sequence, topics: pd.DataFrame,
                     check: bool = True) -> dict[str, list[pt.Transformer]]:
    """The ``>>`` chain of each transformer system, column-checked on ``topics`` (unless ``check`` is False) and
    prepared (indexes built, models loaded), all before any query runs."""
    chains = {n: stage_chain(s) for n, s in zip(names, systems) if not isinstance(s, pd.DataFrame)}
    if check:
        with quiet_pyterrier():  # inspecting runs PyTerrier's operators on empty frames
            for name, chain in chains.items():
                check_columns(name, chain, list(topics.columns))
    for chain in chains.values():
        prepare(chain)
    return chains


def _latency_sample(topics: pd.DataFrame, latency_queries: int, seed: int) -> pd.DataFrame:
    return topics.sample(n=min(latency_queries, len(topics)), random_state=seed) if latency_queries else topics.iloc[:0]


def _figures(name: str, records: list[StageRecord], chain: list[pt.Transformer], sample: pd.DataFrame, cost: Cost,
             topics: int) -> tuple[dict, list[dict]]:
    """A pipeline's efficiency figures (mean response time, latency percentiles on ``sample``, QPS, $, peak RSS,
    cached stages) and one row per stage; NaN for a precomputed run (no ``records``)."""
    seconds = sum(r.seconds for r in records)
    latency = batch1_latency(chain, sample) if records and len(sample) else np.zeros((0, len(records)))
    row = {
        "mrt_ms": 1000 * seconds / topics if records else np.nan,
        **_percentiles(latency.sum(axis=1)),
        "qps": topics / seconds if seconds else np.nan,
        "usd_per_1k_queries": cost.per_1k_queries(seconds, topics) if records else np.nan,
        "usd_per_1k_queries_latency": cost.per_1k_queries(latency.sum(), len(sample)) if len(sample) else np.nan,
        "peak_rss_mb": max((r.peak_rss_mb for r in records), default=np.nan),
        "cached_stages": sum(r.cached for r in records),
    }
    stages = [{"name": name, **vars(r), **_percentiles(latency[:, r.position]),
               "qps": topics / r.seconds if r.seconds else np.nan} for r in records]
    return row, stages


def run_pipelines(pipelines: "Sequence[System] | Mapping[str, System]", topics: pd.DataFrame, qrels: pd.DataFrame,
                  metrics: Sequence[str], names: Sequence[str] | None = None, cache: "bool | StageCache" = True,
                  latency_queries: int = 0, cost: "Cost | str | dict | None" = None, seed: int = 42,
                  errors: str = "raise") -> Iterator[PipelineResult]:
    """Run and evaluate each pipeline, yielding each one's result as soon as it is done.

    Every pipeline is checked (columns, metrics) before any runs; indexes and models are prepared before
    timing starts; pipelines sharing a prefix run it once; stage outputs are cached on disk unless
    ``cache=False``. ``latency_queries`` queries (a seeded sample) are re-run one at a time for latency
    percentiles. ``errors="record"`` yields a failed pipeline with its error instead of raising.
    """
    names, systems = _names(pipelines, names)
    measures = parse_measures(metrics)
    cost = resolve_cost(cost)
    require_columns("Experiment topics", topics.columns, ["qid", "query"])
    require_columns("Experiment qrels", qrels.columns, ["qid", "docno", "label"])
    qrels = qrels.merge(topics[["qid"]].drop_duplicates())
    store = (StageCache() if cache is True else cache) or None
    chains = _prepared_chains(names, systems, topics)
    sample = _latency_sample(topics, latency_queries, seed)

    def evaluate(name: str, run: pd.DataFrame | None, records: list[StageRecord], error: Exception | None):
        row = {"name": name, **{m: np.nan for m in measures}}
        if error is not None:
            if errors == "raise":
                raise error
            return PipelineResult(name, {**row, "error": str(error)}, {}, [], None, str(error))
        per_query = perquery_values(run, qrels, measures)
        if not per_query:
            message = f"pipeline {name!r} returned no results for any of the {len(topics)} topics"
            if errors == "raise":
                raise ValueError(message)
            return PipelineResult(name, {**row, "error": message}, {}, [], None, message)
        values = pd.DataFrame.from_dict(per_query, orient="index")
        row.update({m: float(values[m].mean()) for m in measures})
        figures, stages = _figures(name, records, chains.get(name, []), sample, cost, len(topics))
        return PipelineResult(name, {**row, **figures}, per_query, stages,
                              run[[c for c in RUN_COLUMNS if c in run.columns]])

    for name, system in zip(names, systems):
        if isinstance(system, pd.DataFrame):
            yield evaluate(name, system, [], None)
    for finished in execute(chains, topics, store):
        yield evaluate(*finished)


def _systems(retr_systems, names, baseline) -> tuple[list[str] | None, list, int | None]:
    """pt.Experiment's systems: a dict (names are its keys; ``baseline`` may be one) or a sequence."""
    if isinstance(retr_systems, Mapping):
        names, systems = [str(n) for n in retr_systems], list(retr_systems.values())
    elif isinstance(retr_systems, (pd.DataFrame, pt.Transformer, str)) or not isinstance(retr_systems, Sequence):
        raise TypeError("Expected list or dict of transformers for retr_systems, instead received %s"
                        % str(type(retr_systems)))
    else:
        systems = list(retr_systems)
        names = None if names is None else [str(n) for n in names]
    if isinstance(baseline, str):
        if names is None or baseline not in names:
            raise ValueError(f"Unknown baseline '{baseline}'. Valid options are: {', '.join(names or [])}"
                             + ("" if names else " (name the systems with a dict or names=)"))
        baseline = names.index(baseline)
    if baseline is not None and not 0 <= int(baseline) < len(systems):
        raise ValueError(f"baseline {baseline} is not the index of one of the {len(systems)} systems")
    return names, systems, baseline


def _check_round(round, perquery) -> None:
    if round is None:
        return
    if isinstance(round, dict):
        if perquery:
            raise ValueError("Sorry, per-measure rounding only support when reporting means")
        values = round.items()
    elif isinstance(round, int):
        values = [("round", round)]
    else:
        raise ValueError("Argument round should be an integer or a dictionary")
    for k, v in values:
        if not isinstance(v, int) or v < 0:
            raise ValueError("rounding number for measure %s should be integer >= 0, not %s" % (k, str(v)))


def Experiment(
        retr_systems: "Sequence[System] | Mapping[str, System]",
        topics: "pd.DataFrame | str",
        qrels: "pd.DataFrame | str",
        eval_metrics: "Sequence[str | ir_measures.Measure] | None" = None,
        names: Sequence[str] | None = None,
        perquery: "bool | Literal['both']" = False,
        dataframe: bool = True,
        batch_size: int | None = None,
        filter_by_qrels: bool = False,
        filter_by_topics: bool = True,
        baseline: "int | str | None" = None,
        test: "str | Callable" = "t",
        correction: str | None = None,
        correction_alpha: float = 0.05,
        highlight: str | None = None,
        round: "int | dict[str, int] | None" = None,
        verbose: "bool | Literal['auto']" = "auto",
        validate: Literal["warn", "error", "ignore"] = "warn",
        save_dir: str | None = None,
        save_mode: Literal["reuse", "overwrite", "warn", "error"] = "warn",
        save_format="trec",
        precompute_prefix: bool = False,
        plan: Literal["linear", "tree"] = "linear",
        *,
        metrics: "Sequence[str] | None" = None,
        cache: "bool | StageCache" = True,
        latency_queries: int = 0,
        cost: "Cost | str | dict | None" = None,
        seed: int = 42,
        on_run: Callable[[str, pd.DataFrame], None] | None = None):
    """``pt.Experiment`` with the same arguments, meanings and results, run by our engine and measured.

    Returns what ``pt.Experiment`` returns — the averages frame (a pandas Styler when ``highlight``), the per-query
    frame for ``perquery=True``, both for ``perquery='both'``, dicts for ``dataframe=False`` — with pt's columns and
    values; frames are :class:`ExperimentFrame` s carrying our figures as extra columns and ``.stages``, ``.runs``,
    ``.perquery``, ``.to_latex()``, ``.pareto()``. Beyond pt: ``eval_metrics`` may be ir_measures names
    (``"AP"``, ``"nDCG@10"``) as well as trec_eval names and Measure objects (``metrics=`` is an alias);
    ``test="permutation"``; ``baseline`` may be a name with a list of systems and ``names=``; ``save_dir`` works
    with either ``plan`` (pipelines always share common prefixes here). Ours only: ``cache`` (the persistent stage
    cache, or ``False``), ``latency_queries`` (that many queries, a ``seed``-ed sample, re-run one at a time for
    latency percentiles), ``cost`` (a hardware price, for $ per 1k queries), ``on_run(name, results)``.
    """
    if metrics is not None:
        if eval_metrics is not None:
            raise TypeError("give eval_metrics (or its alias metrics), not both")
        eval_metrics = metrics
    if eval_metrics is None:
        raise TypeError("Experiment() missing required argument: 'eval_metrics'")
    if isinstance(eval_metrics, str):
        eval_metrics = [eval_metrics]
    names, systems, baseline = _systems(retr_systems, names, baseline)
    if precompute_prefix:
        warnings.warn("precompute_prefix is deprecated. Use plan='tree' instead", DeprecationWarning, stacklevel=2)
    if plan not in ("linear", "tree"):
        raise ValueError(f"plan must be 'linear' or 'tree', not {plan!r}")
    if validate not in ("warn", "error", "ignore"):
        raise ValueError(f"validate must be 'warn', 'error' or 'ignore', not {validate!r}")
    if perquery not in (True, False, "both"):
        raise ValueError(f"perquery must be True, False or 'both', not {perquery!r}")
    if isinstance(topics, str) and os.path.isfile(topics):
        topics = pt.io.read_topics(topics)
    if isinstance(qrels, str) and os.path.isfile(qrels):
        qrels = pt.io.read_qrels(qrels)
    require_columns("Experiment topics", topics.columns, ["qid", "query"])
    require_columns("Experiment qrels", qrels.columns, ["qid", "docno", "label"])
    _check_round(round, perquery)
    if correction is not None:
        if baseline is None:
            raise ValueError("Requested multiple testing correction, but no baseline was specified.")
        from statsmodels.stats.multitest import multipletests
        multipletests([0.5], alpha=correction_alpha, method=correction)  # an unknown method fails here, not at the end
    test_fn = test_function(test, seed)
    if filter_by_qrels:
        topics = topics.merge(qrels[["qid"]].drop_duplicates())
    if filter_by_topics:
        qrels = qrels.merge(topics[["qid"]].drop_duplicates())
    if (filter_by_qrels or filter_by_topics) and not (len(topics) and len(qrels)):
        raise ValueError("There is no overlap between the qids found in the topics and qrels. If this is "
                         "intentional, set filter_by_topics=False and filter_by_qrels=False.")
    names = [str(s) for s in systems] if names is None else names
    if len(names) != len(systems):
        raise ValueError("names should be the same length as retr_systems")
    mrt_needed = "mrt" in eval_metrics
    measures = parse_measures([m for m in eval_metrics if m != "mrt"])
    if validate != "ignore":
        from pyterrier._evaluation._validation import _validate
        with quiet_pyterrier():
            _validate(systems, topics, list(measures.values()), names, validate)
    saved = SavedRuns(save_dir, save_mode, save_format, names) if save_dir is not None else None
    if saved is not None:
        systems = [s if isinstance(s, pd.DataFrame) or (r := saved.existing(n)) is None else r
                   for n, s in zip(names, systems)]

    # the engine keys pipelines by name; pt allows a name twice, so repeated ones get their position
    keys = names if len(set(names)) == len(names) else [f"{n} (#{i})" for i, n in enumerate(names)]
    position = {k: i for i, k in enumerate(keys)}
    chains = _prepared_chains(keys, systems, topics, check=validate != "ignore")
    store = (StageCache() if cache is True else cache) or None
    cost = resolve_cost(cost)
    sample = _latency_sample(topics, latency_queries, seed)
    from pyterrier._evaluation._rendering import RenderFromPerQuery
    renderer = RenderFromPerQuery(names, baseline=baseline, test_fn=test_fn, correction=correction,
                                  correction_alpha=correction_alpha, round=round, precompute_time=0)
    num_q = qrels["qid"].nunique()
    figures: list[dict] = [{}] * len(systems)
    stages: list[list[dict]] = [[] for _ in systems]
    runs: dict[str, pd.DataFrame] = {}
    finished = [(k, s, [], None) for k, s in zip(keys, systems) if isinstance(s, pd.DataFrame)]
    with pt.tqdm(total=len(systems), unit="system", desc="tir.Experiment", disable=verbose is not True) as bar:
        for key, run, records, error in [*finished, *execute_in_batches(chains, topics, store, batch_size)]:
            if error is not None:
                raise error
            i = position[key]
            if not len(run):
                raise ValueError(f"{len(topics)} topics, but no results "
                                 + ("in dataframe" if isinstance(systems[i], pd.DataFrame) else
                                    f"received from {systems[i]}"))
            if saved is not None and key in chains:
                saved.write(names[i], run)
            per_query = perquery_values(run, qrels, measures)
            if perquery:
                _backfill(per_query, topics["qid"], list(measures))
            renderer.add_metrics(i, per_query, 1000 * sum(r.seconds for r in records) / num_q)
            figures[i], stages[i] = _figures(names[i], records, chains.get(key, []), sample, cost, len(topics))
            runs[names[i]] = run[[c for c in RUN_COLUMNS if c in run.columns]]
            if on_run is not None:
                on_run(names[i], runs[names[i]])
            bar.update()

    if saved is not None:
        saved.write_summaries(renderer.averages(dataframe=True, mrt_needed=mrt_needed), renderer.perquery(), names)
    if not dataframe:
        averages = renderer.averages(dataframe=False, highlight=highlight, mrt_needed=mrt_needed)
        return averages if not perquery else (averages, renderer.perquery(False)) if perquery == "both" \
            else renderer.perquery(False)

    extra = pd.DataFrame(figures)
    if not latency_queries:
        extra = extra.drop(columns=[c for c in extra.columns if c.startswith(("latency_", "usd_per_1k_queries_l"))])
    info = ExperimentInfo(
        metrics=list(measures), stages=pd.DataFrame([s for rows in stages for s in rows]), runs=runs,
        baseline=None if baseline is None else names[baseline], test=test, correction=correction,
        alpha=correction_alpha, cost=cost, cache=store.stats() if store else {})
    averages = ExperimentFrame(pd.concat([renderer.averages(dataframe=True, mrt_needed=mrt_needed), extra], axis=1))
    per_query_frame = ExperimentFrame(renderer.perquery())
    info.averages, info.perquery = averages, per_query_frame
    averages._tir = per_query_frame._tir = info
    shown = averages
    if highlight is not None:
        styled = renderer.averages(dataframe=True, highlight=highlight, mrt_needed=mrt_needed)
        shown = averages.style.use(styled.export())
    if perquery == "both":
        from pyterrier._evaluation._rendering import EvaluationDataTuple
        return EvaluationDataTuple(shown, per_query_frame)
    return per_query_frame if perquery else shown


def _backfill(per_query: dict[str, dict[str, float]], qids: pd.Series, measures: list[str]) -> None:
    """As ``pt.Experiment(perquery=...)``: topics without qrels get NaN for every measure, with a warning."""
    missing = [q for q in dict.fromkeys(qids) if q not in per_query]
    for qid in missing:
        per_query[qid] = {m: float("nan") for m in measures}
    if missing:
        warnings.warn(f"{len(missing)} topic(s) not found in qrels. Scores for these topics are given as NaN and "
                      "should not contribute to averages.", stacklevel=3)


def assemble(results: Sequence[PipelineResult], metrics: list[str], baselines: Sequence[str] = (),
             test: "str | Callable" = "t", correction: str | None = None, alpha: float = 0.05, seed: int = 42,
             cache_stats: dict | None = None) -> ExperimentResult:
    """Combine per-pipeline results into one :class:`ExperimentResult`, adding significance vs ``baselines``."""
    table = pd.DataFrame([r.row for r in results])
    long = pd.DataFrame([(r.name, q, m, v) for r in results for q, ms in r.perquery.items() for m, v in ms.items()],
                        columns=["name", "qid", "measure", "value"])
    if baselines:
        table = add_significance(table, long, baselines, metrics, test, correction, alpha, seed)
    stages = pd.DataFrame([s for r in results for s in r.stages])
    return ExperimentResult(table, long, stages, {r.name: r.run for r in results if r.run is not None}, metrics,
                            list(baselines), cache_stats or {})
