"""The experiment engine: pipelines run (compiled, sharing prefixes, through the persistent stage cache), timed per
stage and costed; :func:`run_pipelines` / :func:`assemble` as the ``tir run`` runner uses it (one evaluated row per
pipeline, several baselines), and what ``tir.Experiment`` (``pt_experiment.py``) shares with it."""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Callable, Iterator, Mapping, Sequence

import numpy as np
import pandas as pd
import pyterrier as pt

from ..core import StageError
from ..core.build_options import current_build_options
from ..data.frames import checked_qrels, checked_run, checked_topics
from .cache import StageCache
from .cost import Cost, resolve_cost
from .coverage import check_coverage, coverage
from .execution import StageRecord, batch1_latency, check_columns, execute, prepare, quiet_pyterrier, stage_chain
from .measures import parse_measures, perquery_values
from .ray_executor import prepare_side_by_side
from .significance import add_significance
from .timing import TimingPlan, resolve_timing, spread

System = "pt.Transformer | pd.DataFrame"
PERCENTILES = (50, 95, 99)
LATENCY_QUERIES = 10  # the batch-1 latency sample of tir.Experiment, by default
LATENCY_COLUMNS = ("latency_p50_ms", "latency_p95_ms", "latency_p99_ms", "latency_p50_ms_min", "latency_p50_ms_max")
THROUGHPUT_COLUMNS = ("mrt_ms", "mrt_ms_min", "mrt_ms_max", "qps", "qps_min", "qps_max", "usd_per_1m_queries",
                      "usd_per_1m_queries_min", "usd_per_1m_queries_max")
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
    meta: dict = field(default_factory=dict)  # as in manifest.json: significance, cost, timing, latency, hardware

    @property
    def errors(self) -> dict[str, str]:
        if "error" not in self.results:
            return {}
        failed = self.results[self.results["error"].notna()]
        return dict(zip(failed["name"], failed["error"]))

    def _repr_html_(self) -> str:
        from .notebook import render_html
        return render_html(self.results, self.stages, self.metrics, self.baselines, self.meta)

    def table(self, fmt: str = "markdown", **options) -> str:
        """The paper table of these results (``fmt``: ``latex``, ``markdown`` or ``text``); ``options`` as the
        config's ``table:`` section (``columns``, ``digits``, ``names``, ``pipelines``, ``width``, ...)."""
        from .report import render
        return render(self.results.assign(dataset=""), {**self.meta, "metrics": self.metrics,
                                                         "baselines": self.baselines}, fmt, options)


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


def warn(message: str) -> None:
    warnings.warn(message, stacklevel=3)


def latency_figures(seconds: np.ndarray) -> dict[str, float]:
    """Batch-1 latency percentiles (ms) from ``seconds`` of shape (repeats, queries): each percentile is the
    median over the repeats of that repeat's percentile over the queries; p50 also with its min and max."""
    if not seconds.size:
        return {c: np.nan for c in LATENCY_COLUMNS}
    per_repeat = {p: np.percentile(seconds, p, axis=1) * 1000 for p in PERCENTILES}
    out = {f"latency_p{p}_ms": float(np.median(v)) for p, v in per_repeat.items()}
    return {**out, "latency_p50_ms_min": float(per_repeat[50].min()), "latency_p50_ms_max": float(per_repeat[50].max())}


def throughput_figures(records: Sequence[StageRecord], queries: int, cost: Cost) -> dict[str, float]:
    """A pipeline's batch figures from its stages' timed runs: the sum of the stages' median seconds, and as its
    spread the sum of their minima to the sum of their maxima; as mean response time, QPS and $ per 1M queries."""
    if not records or not queries:
        return {c: np.nan for c in THROUGHPUT_COLUMNS}
    med, low, high = (sum(spread(r.times)[i] for r in records) for i in range(3))
    return {"mrt_ms": 1000 * med / queries, "mrt_ms_min": 1000 * low / queries, "mrt_ms_max": 1000 * high / queries,
            "qps": queries / med if med else np.nan, "qps_min": queries / high if high else np.nan,
            "qps_max": queries / low if low else np.nan,
            "usd_per_1m_queries": cost.per_1m_queries(med, queries),
            "usd_per_1m_queries_min": cost.per_1m_queries(low, queries),
            "usd_per_1m_queries_max": cost.per_1m_queries(high, queries)}


def prepared_chains(names: Sequence[str], systems: Sequence, topics: pd.DataFrame, check: bool = True,
                    errors: str = "raise") -> tuple[dict[str, list[pt.Transformer]], dict[str, Exception]]:
    """The ``>>`` chain of each transformer system, column-checked on ``topics`` (unless ``check`` is False) and
    prepared (indexes built, models loaded; with ``tir.build_options(executor="ray")`` the indexes first, side by
    side on Ray), all before any query runs; and, with ``errors="record"``, the error of each pipeline whose stages
    could not be prepared (e.g. a bad corpus line while indexing), left out of the chains so that the others run."""
    chains = {n: stage_chain(s) for n, s in zip(names, systems) if not isinstance(s, pd.DataFrame)}
    if check:
        with quiet_pyterrier():  # inspecting runs PyTerrier's operators on empty frames
            for name, chain in chains.items():
                check_columns(name, chain, list(topics.columns))
    if current_build_options().executor == "ray":  # independent index builds side by side
        prepare_side_by_side([stage for chain in chains.values() for stage in chain])
    unprepared = {}
    for name, chain in list(chains.items()):
        try:
            prepare(chain)
        except Exception as e:
            if errors == "raise":
                raise
            unprepared[name] = StageError(f"pipeline {name!r}, preparing its stages: {type(e).__name__}: {e}")
            del chains[name]
    return chains, unprepared


def checked_inputs(topics: pd.DataFrame, qrels: pd.DataFrame, strict: bool,
                   report: Callable[[str], None]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Topics and qrels checked (string ids, integer labels, runnable queries); topics without qrels and qrels
    without topics reported through ``report``, or an error when ``strict``."""
    topics, qrels = checked_topics(topics, "Experiment topics"), checked_qrels(qrels, "Experiment qrels")
    found = coverage(topics, qrels)
    check_coverage(found, strict)
    for message in found.messages():
        report(message)
    return topics, qrels


def latency_sample(topics: pd.DataFrame, latency_queries: int, seed: int) -> pd.DataFrame:
    return topics.sample(n=min(latency_queries, len(topics)), random_state=seed) if latency_queries else topics.iloc[:0]


def pipeline_figures(name: str, records: list[StageRecord], chain: list[pt.Transformer], sample: pd.DataFrame,
                     cost: Cost, topics: int, timing: TimingPlan = TimingPlan()) -> tuple[dict, list[dict]]:
    """A pipeline's efficiency figures (batch: mean response time, QPS, $ per 1M queries, each with its min–max
    over the timed repeats; batch 1: latency percentiles on ``sample``; peak RSS, index size, cached stages) and one
    row per stage; NaN for a precomputed run (no ``records``)."""
    latency = (batch1_latency(chain, sample, timing) if records and len(sample)
               else np.zeros((0, 0, len(records))))
    end_to_end = latency.sum(axis=2)
    row = {
        **throughput_figures(records, topics, cost),
        **latency_figures(end_to_end),
        "usd_per_1m_queries_batch1": (cost.per_1m_queries(float(np.median(end_to_end.mean(axis=1))), 1)
                                      if end_to_end.size else np.nan),
        "peak_rss_mb": max((r.peak_rss_mb for r in records), default=np.nan),
        "index_mb": float(np.nansum([r.index_mb for r in records])) if records else np.nan,
        "cached_stages": sum(r.cached for r in records),
    }
    stages = [{"name": name, **r.row(), **latency_figures(latency[:, :, r.position]),
               "qps": topics / spread(r.times)[0] if spread(r.times)[0] else np.nan} for r in records]
    return row, stages


def run_pipelines(pipelines: "Sequence[System] | Mapping[str, System]", topics: pd.DataFrame, qrels: pd.DataFrame,
                  metrics: Sequence[str], names: Sequence[str] | None = None, cache: "bool | StageCache" = True,
                  latency_queries: int = LATENCY_QUERIES, cost: "Cost | str | dict | None" = None, seed: int = 42,
                  errors: str = "raise", strict: bool = False, report: Callable[[str], None] = warn,
                  timing: "TimingPlan | dict | None" = None) -> Iterator[PipelineResult]:
    """Run and evaluate each pipeline, yielding each one's result as soon as it is done.

    Every pipeline is checked (columns, metrics) before any runs; indexes and models are prepared before
    timing starts; pipelines sharing a prefix run it once; stage outputs are cached on disk unless
    ``cache=False``. Each computed stage runs ``timing.warmup`` untimed and ``timing.repeats`` timed times
    (default 1 and 3) on the whole batch; ``latency_queries`` queries (a seeded sample) are then run one at a
    time, in as many untimed and timed passes, for batch-1 latency. ``errors="record"`` yields a failed
    pipeline with its error instead of raising.
    Topics, qrels and runs given as frames are checked (string ids, integer labels, runnable queries); topics
    without qrels and qrels without topics are reported through ``report`` (default: a warning), or are an error
    when ``strict``.
    """
    names, systems = _names(pipelines, names)
    measures = parse_measures(metrics)
    cost, timing = resolve_cost(cost), resolve_timing(timing)
    topics, qrels = checked_inputs(topics, qrels, strict, report)
    qrels = qrels.merge(topics[["qid"]])
    systems = [checked_run(s, f"run {n!r}") if isinstance(s, pd.DataFrame) else s for n, s in zip(names, systems)]
    store = (StageCache() if cache is True else cache) or None
    chains, unprepared = prepared_chains(names, systems, topics, errors=errors)
    sample = latency_sample(topics, latency_queries, seed)

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
        figures, stages = pipeline_figures(name, records, chains.get(name, []), sample, cost, len(topics), timing)
        return PipelineResult(name, {**row, **figures}, per_query, stages,
                              run[[c for c in RUN_COLUMNS if c in run.columns]])

    for name, system in zip(names, systems):
        if isinstance(system, pd.DataFrame):
            yield evaluate(name, system, [], None)
    for name, error in unprepared.items():
        yield evaluate(name, None, [], error)
    for finished in execute(chains, topics, store, timing):
        yield evaluate(*finished)


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
