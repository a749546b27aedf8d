"""``tir run``: a config grid in, an experiment folder out — resumable, cached, timed and costed.

A config's journey, top-down in :func:`run_config`: load (YAML, schema) -> check everything that can be checked
before any work (stages and parameters, expressions, metrics, significance, cost, datasets, topics/qrels coverage,
the output folder) -> expand the grid into pipelines -> key each point -> run what is not already finished (locally
or on Ray), writing each point and its run as soon as it finishes -> evaluate significance over all points -> write
results, tables, plots and the manifest. An interrupted run is resumed by the same command.
"""
from __future__ import annotations

import json
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from .config import StageFactory, check_axes, expand, load_config, resolve_baselines
from .config.yamlmap import ConfigError, LocatedYaml
from .core import atomic_write_text, file_sha256
from .core.build_options import build_options
from .core.fingerprint import frame_fingerprint
from .data import load_dataset, write_run
from .data.frames import checked_qrels, checked_topics
from .experiment import PipelineResult, StageCache, assemble, parse_measure, resolve_cost, run_pipelines, stage_chain
from .experiment.coverage import CoverageError, check_coverage, coverage
from .experiment.environment import environment
from .experiment.outputs import write_csv
from .experiment.plots import write_pareto
from .experiment.points import file_names, load_point, point_key, remove_stale, save_point
from .experiment.ray_executor import forwarded_env, prepare_side_by_side, ray_map
from .experiment.report import TableOptionError, render, table_options, write_tables
from .experiment.significance import CORRECTIONS
from .registry import stage_registry


@dataclass
class RunSummary:
    out_dir: Path
    results: pd.DataFrame
    failed: dict[str, str] = field(default_factory=dict)
    cache: dict[str, int] = field(default_factory=dict)
    resumed: int = 0

    def _repr_html_(self) -> str:
        from .experiment.notebook import render_folder
        return render_folder(self.out_dir)


@dataclass
class _Dataset:
    """One dataset of the config, loaded and checked: its topics, qrels, coverage and where its files go."""

    index: int
    dataset: Any
    topics: pd.DataFrame
    qrels: pd.DataFrame
    factory: StageFactory
    coverage: Any
    stem: str


def run_config(path: str | Path, output: str | Path | None = None, *, overrides: dict[str, Any] | None = None,
               only: list[str] | None = None, use_cache: bool = True, echo: Callable[[str], None] = print,
               ansi: bool = False) -> RunSummary:
    """Run the grid of the config at ``path`` into ``output`` (or the config's); resume finished points.
    ``ansi``: print the table's bold as ANSI (for a terminal)."""
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    config, doc = load_config(str(path), overrides)
    registry = stage_registry()
    check_axes(config, doc, registry)
    all_points = expand(config, doc)
    points = all_points
    if only:
        points = [p for p in all_points if p.name in only or p.pipeline in only]
        if not points:
            raise doc.error(("pipelines",), f"--only {only}: no such pipeline or grid point")
    baselines = [b for b in resolve_baselines(config, doc, all_points) if b in {p.name for p in points}]
    metrics = _check_metrics(config, doc)
    _check_table(config, doc, metrics, all_points)
    _check_significance(config, doc)
    cost = _cost(config, doc)
    datasets = _datasets(config, doc, registry)
    pipelines = [{p.name: d.factory.pipeline(p) for p in points} for d in datasets]
    out_dir = _output_folder(config, doc, output)
    files = file_names(p.name for p in all_points)
    cache = StageCache() if use_cache else None
    echo(f"{config.name}: {len(points)} pipeline(s) x {len(datasets)} dataset(s) -> {out_dir}")

    config_id = {"config": str(Path(path).resolve()), "name": config.name}
    tables, failed, resumed, manifest_datasets, used_baselines = [], {}, 0, [], set()
    several = len(datasets) > 1
    plans = []  # per dataset: its points' folder, keys and the points already finished
    for d, grid in zip(datasets, pipelines):
        point_dir = out_dir / "points" / d.stem
        context = {**config_id, "topics": frame_fingerprint(d.topics), "qrels": frame_fingerprint(d.qrels),
                   "metrics": metrics, "cost": [cost.hardware, cost.usd_per_hour],
                   "latency": config.latency.model_dump(), "timing": config.timing.model_dump(), "seed": config.seed}
        keys = {n: point_key(p, context) for n, p in grid.items()}
        plans.append((point_dir, keys, {n: r for n in grid if (r := load_point(point_dir / f"{files[n]}.json", keys[n]))}))
    if config.executor == "ray":
        _build_indexes_on_ray(config, [p for grid, (_, _, done) in zip(pipelines, plans)
                                       for n, p in grid.items() if n not in done], echo)
    for d, grid, (point_dir, keys, finished) in zip(datasets, pipelines, plans):
        runs_dir = out_dir / "runs" / (d.stem if several else "")
        resumed += len(finished)
        todo = {n: p for n, p in grid.items() if n not in finished}
        echo(f"  {d.dataset.name}: {len(d.topics)} topics, {d.coverage.evaluated} with qrels; "
             f"{len(finished)} point(s) already done, {len(todo)} to run")
        for message in d.coverage.messages():
            echo(f"  {d.dataset.name}: {message}")
        if config.executor == "ray":
            calls = [(str(Path(path).resolve()), overrides, d.index, n, use_cache, forwarded_env(config.ray_env))
                     for n in todo]
            results = ray_map(_run_point, calls, config.ray_address, forwarded_env(config.ray_env))
        else:
            results = run_pipelines(todo, d.topics, d.qrels, config.metrics, cache=cache or False,
                                    latency_queries=config.latency.queries, cost=cost, seed=config.seed,
                                    errors="record", report=lambda _: None, timing=config.timing.model_dump())
        for result in results:
            if result.run is not None and result.error is None:
                write_run(result.run, runs_dir / f"{files[result.name]}.trec", name=files[result.name])
            save_point(point_dir / f"{files[result.name]}.json", keys[result.name], result)
            finished[result.name] = result
            if result.error:
                failed[f"{d.dataset.name}/{result.name}" if several else result.name] = result.error
                echo(f"  FAILED: {result.name}: {result.error}")
            else:
                echo(f"  done: {result.name}")
        current = [files[p.name] for p in all_points]
        remove_stale(point_dir, current, ".json")
        remove_stale(runs_dir, current, ".trec")
        ok_baselines = [b for b in baselines if b in finished and not finished[b].error]
        used_baselines.update(ok_baselines)
        experiment = assemble([finished[n] for n in grid], metrics, ok_baselines, config.significance.test,
                              config.significance.correction, config.significance.alpha, config.seed)
        tables.append((d.dataset.name, experiment))
        manifest_datasets.append({"name": d.dataset.name, "split": config.split, "topics": len(d.topics),
                                  "coverage": d.coverage.as_dict(), "topics_sha256": context["topics"],
                                  "qrels_sha256": context["qrels"], "corpus_sha256": _safe(d.dataset.fingerprint)})

    results = pd.concat([e.results.assign(dataset=n) for n, e in tables], ignore_index=True)
    results = results[["dataset"] + [c for c in results.columns if c != "dataset"]]
    write_csv(results, out_dir / "results.csv")
    write_csv(pd.concat([e.perquery.assign(dataset=n) for n, e in tables], ignore_index=True), out_dir / "perquery.csv")
    write_csv(pd.concat([e.stages.assign(dataset=n) for n, e in tables], ignore_index=True), out_dir / "stages.csv")
    write_csv(_indexes([d.factory for d in datasets], cost), out_dir / "indexes.csv")
    manifest = {
        "name": config.name, "config": config.model_dump(mode="json"), "config_path": str(Path(path).resolve()),
        "config_sha256": file_sha256(path), "overrides": overrides or {}, "only": only or [],
        "metrics": metrics, "baselines": [b for b in baselines if b in used_baselines],
        "significance": config.significance.model_dump(), "strict": config.strict,
        "cost": {"hardware": cost.hardware, "usd_per_hour": cost.usd_per_hour},
        "latency": config.latency.model_dump(), "timing": config.timing.model_dump(),
        "table": config.table.model_dump(exclude_defaults=True), "pareto_metric": config.pareto_metric or metrics[0],
        "display_names": {p.name: p.display_name for p in points if p.params},
        "datasets": manifest_datasets, "points": [p.name for p in points],
        "files": {p.name: files[p.name] for p in all_points}, "failed": failed,
        "cache": cache.stats() if cache else {"disabled": True}, "resumed_points": resumed,
        "seed": config.seed, **environment(), "started": started, "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    text = json.dumps(manifest, indent=2, default=str)
    atomic_write_text(out_dir / "manifest.json", text)
    manifest = json.loads(text)  # as the tables read it
    tables = render(results, manifest, ("latex", "markdown", "text"), manifest.get("table"), ansi)
    write_tables(out_dir, tables)
    plots = write_pareto(out_dir, frame=results, manifest=manifest)
    echo("\n" + tables["text"])
    if cache:
        echo(f"stage cache: {cache.hits} hit(s), {cache.misses} miss(es), {cache.corrupt} corrupted entry(ies) recomputed")
    echo(f"wrote {out_dir}/: results.csv, perquery.csv, stages.csv, indexes.csv, table.md, table.tex, "
         + "".join(f"{p.name}, " for p in plots) + "manifest.json, runs/")
    return RunSummary(out_dir, results, failed, cache.stats() if cache else {}, resumed)


# --- checks before any work --------------------------------------------------------------------------------------

def _check_metrics(config, doc: LocatedYaml) -> list[str]:
    for i, name in enumerate(config.metrics):
        try:
            parse_measure(name)
        except ValueError as e:
            raise doc.error(("metrics", i), str(e)) from None
    if config.pareto_metric is not None and config.pareto_metric not in config.metrics:
        raise doc.error(("pareto_metric",), f"{config.pareto_metric!r} is not one of the metrics {config.metrics}")
    return list(config.metrics)


def _check_significance(config, doc: LocatedYaml) -> None:
    significance = config.significance  # (the test is checked by the schema)
    if significance.correction is not None and significance.correction not in CORRECTIONS:
        raise doc.error(("significance", "correction"), f"unknown correction {significance.correction!r}; "
                                                         f"choose from {list(CORRECTIONS)}")


def _check_table(config, doc: LocatedYaml, metrics: list[str], points) -> None:
    """The ``table:`` section names known columns, and pipelines or grid points of this config."""
    try:
        table_options(config.table.model_dump(), metrics)
    except TableOptionError as e:
        raise doc.error(("table",) + e.key, e.message) from None
    names = {p.name for p in points}
    for key, given in (("pipelines", config.table.pipelines or []), ("names", list(config.table.names))):
        for i, name in enumerate(given):
            if name not in names:
                raise doc.error(("table", key, i if key == "pipelines" else name),
                                f"no pipeline or grid point {name!r} ({', '.join(sorted(names))})")


def _cost(config, doc: LocatedYaml):
    try:
        return resolve_cost(config.cost.model_dump() if hasattr(config.cost, "model_dump") else config.cost)
    except ValueError as e:
        raise doc.error(("cost",), str(e)) from None


def _output_folder(config, doc: LocatedYaml, output: str | Path | None) -> Path:
    """The output folder, created and shown writable before any work. ``name`` is a label, never a path: the
    default folder is ``results/<name made filesystem-safe>``."""
    out_dir = Path(output or config.output or Path("results") / file_names([config.name])[config.name])
    key = ("output",) if output is None and config.output else ("name",) if output is None else None
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out_dir):
            pass
    except OSError as e:
        message = f"output folder {out_dir} cannot be written: {e.strerror or e}"
        if key is None:
            raise ConfigError(doc.path, None, None, message) from None
        raise doc.error(key, message) from None
    return out_dir


def _datasets(config, doc: LocatedYaml, registry: dict) -> list[_Dataset]:
    """Each dataset loaded, its topics and qrels read and checked, its coverage reported or (``strict``) refused,
    and every stage of the config checked against it."""
    out = []
    stems = file_names(config.dataset_names)
    for i, name in enumerate(config.dataset_names):
        key = ("dataset",) if config.dataset else ("datasets", i)
        try:
            ds = load_dataset(name)
        except Exception as e:
            raise doc.error(key, str(e)) from e
        try:
            topics, qrels = checked_topics(ds.topics(config.split)), checked_qrels(ds.qrels(config.split))
        except (ValueError, FileNotFoundError) as e:
            raise doc.error(("split",) if config.split else key, str(e)) from e
        found = coverage(topics, qrels)
        try:
            check_coverage(found, config.strict)
        except CoverageError as e:
            raise doc.error(("strict",) if config.strict else key, f"{ds.name}: {e}") from None
        factory = StageFactory(config, doc, registry, ds)
        factory.check()
        out.append(_Dataset(i, ds, topics, qrels, factory, found, stems[name]))
    return out


# --- on Ray: index builds side by side, then one point per task --------------------------------------------------

def _build_indexes_on_ray(config, pipelines: list, echo: Callable[[str], None]) -> None:
    """Build the indexes the pipelines' stages need, side by side as Ray tasks, each sharding its corpus encoding
    into Ray tasks as the config's ``ray:`` section says. A build that fails is reported; its pipelines record the
    error when they run."""
    stages = [stage for pipeline in pipelines for stage in stage_chain(pipeline)]
    with build_options(executor="ray", ray_address=config.ray_address, ray_env=tuple(config.ray_env),
                       **config.ray.model_dump()) as options:
        failed = prepare_side_by_side(stages, options)
    for path, error in failed.items():
        echo(f"  index {path} could not be built on Ray: {error}")


# --- one point in a fresh process (a Ray task) ------------------------------------------------------------------

def _run_point(path: str, overrides: dict | None, dataset_index: int, point_name: str, use_cache: bool,
               env: dict[str, str]) -> PipelineResult:
    """One grid point on one dataset, rebuilt from the config file."""
    import os
    os.environ.update(env)
    config, doc = load_config(path, overrides)
    point = next(p for p in expand(config, doc) if p.name == point_name)
    d = _datasets(config, doc, stage_registry())[dataset_index]
    return next(run_pipelines({point_name: d.factory.pipeline(point)}, d.topics, d.qrels, config.metrics,
                              cache=StageCache() if use_cache else False, latency_queries=config.latency.queries,
                              cost=_cost(config, doc), seed=config.seed, errors="record", report=lambda _: None,
                              timing=config.timing.model_dump()))


# --- outputs ---------------------------------------------------------------------------------------------------

def _safe(fn: Callable[[], str]) -> str | None:
    try:
        return fn()
    except Exception:
        return None


def _indexes(factories: list[StageFactory], cost) -> pd.DataFrame:
    """Each index built for a stage: build time, size and indexing cost (from its manifest)."""
    rows, seen = [], set()
    for factory in factories:
        for stage in factory._built.values():
            index = getattr(stage, "index", None)
            manifest = getattr(index, "manifest", None)
            if manifest and str(index.path) not in seen:
                seen.add(str(index.path))
                rows.append({"stage": str(stage), "path": str(index.path), "doc_count": manifest.get("doc_count"),
                             "build_seconds": manifest.get("build_seconds"), "size_bytes": manifest.get("size_bytes"),
                             "indexing_usd": cost.usd(manifest.get("build_seconds") or 0.0)})
    return pd.DataFrame(rows, columns=["stage", "path", "doc_count", "build_seconds", "size_bytes", "indexing_usd"])
