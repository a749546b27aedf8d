"""``tir.Experiment``: ``pt.Experiment``'s arguments, meanings and results (its own renderer computes the tables),
over runs made by our engine, with per-stage times, latency, throughput and cost added."""
from __future__ import annotations

import os
import warnings
from typing import TYPE_CHECKING, Callable, Literal, Mapping, Sequence

import pandas as pd
import pyterrier as pt

from ..data.frames import checked_run
from .cache import StageCache
from .cost import Cost, resolve_cost
from .execution import execute_in_batches, quiet_pyterrier
from .experiment import (LATENCY_QUERIES, RUN_COLUMNS, System, checked_inputs, latency_sample, pipeline_figures,
                         prepared_chains, warn)
from .frame import ExperimentFrame, ExperimentInfo
from .measures import parse_measures, perquery_values
from .saved_runs import SavedRuns
from .significance import test_function
from .timing import TimingPlan, hardware, resolve_timing, spread

if TYPE_CHECKING:
    import ir_measures


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
        latency_queries: int = LATENCY_QUERIES,
        cost: "Cost | str | dict | None" = None,
        seed: int = 42,
        on_run: Callable[[str, pd.DataFrame], None] | None = None,
        strict: bool = False,
        timing: "TimingPlan | dict | None" = None):
    """``pt.Experiment`` with the same arguments, meanings and results, run by our engine and measured.

    Returns what ``pt.Experiment`` returns — the averages frame (a pandas Styler when ``highlight``), the per-query
    frame for ``perquery=True``, both for ``perquery='both'``, dicts for ``dataframe=False`` — with pt's columns and
    values; frames are :class:`ExperimentFrame` s carrying our figures as extra columns and ``.stages``, ``.runs``,
    ``.perquery``, ``.to_latex()``, ``.pareto()``. Beyond pt: ``eval_metrics`` may be ir_measures names
    (``"AP"``, ``"nDCG@10"``) as well as trec_eval names and Measure objects (``metrics=`` is an alias);
    ``test="permutation"``; ``baseline`` may be a name with a list of systems and ``names=``, and may come with
    ``perquery='both'`` (significance in the averages); ``save_dir`` works with either ``plan`` (pipelines always
    share common prefixes here). Ours only: ``cache`` (the persistent stage
    cache, or ``False``), ``latency_queries`` (that many queries, 10 by default, a ``seed``-ed sample, re-run one at
    a time for latency percentiles), ``timing`` (each stage run ``warmup`` times untimed, then ``repeats`` times timed;
    ``{"repeats": 3, "warmup": 1}`` by default), ``cost`` (a hardware price, for $ per 1M queries),
    ``on_run(name, results)``, ``strict``.
    Topics, qrels and runs given as frames are checked (string ids, integer labels, runnable queries, finite scores);
    topics without qrels and qrels without topics are warned about — or are an error when ``strict``.
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
    topics, qrels = checked_inputs(topics, qrels, strict, warn)
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
    systems = [checked_run(s, f"run {n!r}") if isinstance(s, pd.DataFrame) else s for n, s in zip(names, systems)]
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
    chains, _ = prepared_chains(keys, systems, topics, check=validate != "ignore")
    store = (StageCache() if cache is True else cache) or None
    cost, timing = resolve_cost(cost), resolve_timing(timing)
    sample = latency_sample(topics, latency_queries, seed)
    from pyterrier._evaluation._rendering import RenderFromPerQuery
    renderer = RenderFromPerQuery(names, baseline=baseline, test_fn=test_fn, correction=correction,
                                  correction_alpha=correction_alpha, round=round, precompute_time=0)
    num_q = qrels["qid"].nunique()
    figures: list[dict] = [{}] * len(systems)
    stages: list[list[dict]] = [[] for _ in systems]
    runs: dict[str, pd.DataFrame] = {}
    finished = [(k, s, [], None) for k, s in zip(keys, systems) if isinstance(s, pd.DataFrame)]
    with pt.tqdm(total=len(systems), unit="system", desc="tir.Experiment", disable=verbose is not True) as bar:
        for key, run, records, error in [*finished, *execute_in_batches(chains, topics, store, batch_size, timing)]:
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
            renderer.add_metrics(i, per_query, 1000 * sum(spread(r.times)[0] for r in records) / num_q)
            figures[i], stages[i] = pipeline_figures(names[i], records, chains.get(key, []), sample, cost, len(topics),
                                                     timing)
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
        extra = extra.drop(columns=[c for c in extra.columns if c.startswith("latency_") or c.endswith("_batch1")])
    info = ExperimentInfo(
        metrics=list(measures), stages=pd.DataFrame([s for rows in stages for s in rows]), runs=runs,
        baseline=None if baseline is None else names[baseline], test=test, correction=correction,
        alpha=correction_alpha, cost=cost, cache=store.stats() if store else {},
        timing={"repeats": timing.repeats, "warmup": timing.warmup}, latency_queries=len(sample), hardware=hardware())
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
