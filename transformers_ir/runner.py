"""``tir run``: a config grid in, an experiment folder out — resumable, cached, timed and costed.

Each grid point's evaluation is written to ``points/`` as soon as it finishes, so an interrupted run
(Ctrl-C, kill -9, a failing pipeline) is resumed by the same command without recomputing finished points.
"""
from __future__ import annotations

import json
import os
import platform
import subprocess
import time
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from .config import StageFactory, check_axes, expand, load_config, resolve_baselines
from .core import atomic_write_text, file_sha256, value_sha256
from .core.fingerprint import frame_fingerprint, stage_fingerprint
from .data import load_dataset, write_run
from .experiment import PipelineResult, StageCache, assemble, resolve_cost, run_pipelines, stage_chain
from .experiment.outputs import safe_filename, write_csv
from .experiment.plots import write_pareto
from .experiment.report import TableOptionError, render, table_options, write_tables
from .experiment.timing import hardware

PACKAGES = ("transformers-ir", "pyterrier", "pyterrier-pisa", "ir-measures", "ir-datasets", "pandas", "numpy",
            "torch", "sentence-transformers", "transformers", "faiss-cpu")


def stage_registry() -> dict[str, type]:
    """Stage classes usable as ``class:`` in configs: those exported by ``transformers_ir``."""
    import pyterrier as pt

    import transformers_ir
    return {name: obj for name in transformers_ir.__all__
            if isinstance(obj := getattr(transformers_ir, name), type) and issubclass(obj, pt.Transformer)}


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


def _point_key(pipeline: Any, topics_fp: str, qrels_fp: str, metrics: list[str]) -> str:
    chain = [stage_fingerprint(s) or repr(s) for s in stage_chain(pipeline)]
    return value_sha256({"chain": chain, "topics": topics_fp, "qrels": qrels_fp, "metrics": metrics})


def _save_point(path: Path, key: str, result: PipelineResult) -> None:
    atomic_write_text(path, json.dumps({"key": key, "name": result.name, "row": result.row, "error": result.error,
                                        "stages": result.stages, "perquery": result.perquery}, default=float))


def _load_point(path: Path, key: str) -> PipelineResult | None:
    try:
        saved = json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    if saved["key"] != key or saved["error"]:
        return None
    return PipelineResult(saved["name"], saved["row"], saved["perquery"], saved["stages"], None)


@lru_cache(maxsize=1)
def _versions() -> dict[str, str]:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def _git_commit() -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True,
                              cwd=Path(__file__).parent).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def _datasets(config, doc) -> list[tuple[Any, pd.DataFrame, pd.DataFrame]]:
    out = []
    for i, name in enumerate(config.dataset_names):
        key = ("dataset",) if config.dataset else ("datasets", i)
        try:
            ds = load_dataset(name)
        except Exception as e:
            raise doc.error(key, str(e)) from e
        try:
            out.append((ds, ds.topics(config.split), ds.qrels(config.split)))
        except (ValueError, FileNotFoundError) as e:
            raise doc.error(("split",) if config.split else key, str(e)) from e
    return out


def _run_point(path: str, overrides: dict | None, dataset_index: int, point_name: str, use_cache: bool,
               env: dict[str, str]) -> PipelineResult:
    """One grid point on one dataset, in a fresh process (a Ray task): rebuilt from the config file."""
    os.environ.update(env)
    config, doc = load_config(path, overrides)
    point = next(p for p in expand(config, doc) if p.name == point_name)
    ds, topics, qrels = _datasets(config, doc)[dataset_index]
    pipeline = StageFactory(config, doc, stage_registry(), ds).pipeline(point)
    return next(run_pipelines({point_name: pipeline}, topics, qrels, config.metrics,
                              cache=StageCache() if use_cache else False, latency_queries=config.latency.queries,
                              cost=_cost(config), seed=config.seed, errors="record",
                              timing=config.timing.model_dump()))


def _ray_results(path: str, overrides: dict | None, dataset_index: int, names: list[str], use_cache: bool,
                 address: str | None):
    """Run grid points as Ray tasks (on ``ray.init()`` or an existing cluster), yielding results as they finish."""
    import ray
    env = {k: v for k, v in os.environ.items() if k.startswith(("TIR_", "HF_", "TRANSFORMERS_"))}
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, log_to_driver=False,
                 runtime_env={"env_vars": env})
    task = ray.remote(_run_point)
    pending = [task.remote(str(Path(path).resolve()), overrides, dataset_index, n, use_cache, env) for n in names]
    while pending:
        ready, pending = ray.wait(pending, num_returns=1)
        yield ray.get(ready[0])


def _check_table(config, doc, metrics: list[str], points) -> None:
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


def _cost(config):
    return resolve_cost(config.cost.model_dump() if hasattr(config.cost, "model_dump") else config.cost)


def run_config(path: str | Path, output: str | Path | None = None, *, overrides: dict[str, Any] | None = None,
               only: list[str] | None = None, use_cache: bool = True, echo: Callable[[str], None] = print,
               ansi: bool = False) -> RunSummary:
    """Run the grid of the config at ``path`` into ``output`` (or the config's); resume finished points.
    ``ansi``: print the table's bold as ANSI (for a terminal)."""
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    config, doc = load_config(str(path), overrides)
    registry = stage_registry()
    check_axes(config, doc, registry)
    points = expand(config, doc)
    if only:
        points = [p for p in points if p.name in only or p.pipeline in only]
        if not points:
            raise doc.error(("pipelines",), f"--only {only}: no such pipeline or grid point")
    baselines = [b for b in resolve_baselines(config, doc, expand(config, doc)) if b in {p.name for p in points}]
    datasets = _datasets(config, doc)
    factories = [StageFactory(config, doc, registry, ds) for ds, _, _ in datasets]
    for factory in factories:
        factory.check()
    pipelines = [{p.name: f.pipeline(p) for p in points} for f in factories]
    from .experiment import parse_measures
    metrics = list(parse_measures(config.metrics))
    _check_table(config, doc, metrics, expand(config, doc))
    cost = _cost(config)
    out_dir = Path(output or config.output or Path("results") / config.name)
    cache = StageCache() if use_cache else None
    echo(f"{config.name}: {len(points)} pipeline(s) x {len(datasets)} dataset(s) -> {out_dir}")

    tables, failed, resumed, manifest_datasets, used_baselines = [], {}, 0, [], set()
    several = len(datasets) > 1
    for index, ((ds, topics, qrels), grid) in enumerate(zip(datasets, pipelines)):
        topics_fp, qrels_fp = frame_fingerprint(topics), frame_fingerprint(qrels)
        point_dir = out_dir / "points" / safe_filename(ds.name)
        runs_dir = out_dir / "runs" / (safe_filename(ds.name) if several else "")
        keys = {n: _point_key(p, topics_fp, qrels_fp, metrics) for n, p in grid.items()}
        finished = {n: r for n in grid if (r := _load_point(point_dir / f"{safe_filename(n)}.json", keys[n]))}
        resumed += len(finished)
        todo = {n: p for n, p in grid.items() if n not in finished}
        echo(f"  {ds.name}: {len(topics)} topics; {len(finished)} point(s) already done, {len(todo)} to run")
        if config.executor == "ray":
            results = _ray_results(str(path), overrides, index, list(todo), use_cache, config.ray_address)
        else:
            results = run_pipelines(todo, topics, qrels, config.metrics, cache=cache or False,
                                    latency_queries=config.latency.queries, cost=cost, seed=config.seed,
                                    errors="record", timing=config.timing.model_dump())
        for result in results:
            if result.run is not None and result.error is None:
                write_run(result.run, runs_dir / f"{safe_filename(result.name)}.trec", name=safe_filename(result.name))
            _save_point(point_dir / f"{safe_filename(result.name)}.json", keys[result.name], result)
            finished[result.name] = result
            if result.error:
                failed[f"{ds.name}/{result.name}" if several else result.name] = result.error
                echo(f"  FAILED: {result.name}: {result.error}")
            else:
                echo(f"  done: {result.name}")
        ok_baselines = [b for b in baselines if b in finished and not finished[b].error]
        used_baselines.update(ok_baselines)
        experiment = assemble([finished[n] for n in grid], metrics, ok_baselines, config.significance.test,
                              config.significance.correction, config.significance.alpha, config.seed)
        tables.append((ds.name, experiment))
        manifest_datasets.append({"name": ds.name, "split": config.split, "topics": len(topics),
                                  "topics_sha256": topics_fp, "qrels_sha256": qrels_fp,
                                  "corpus_sha256": _safe(ds.fingerprint)})

    results = pd.concat([e.results.assign(dataset=n) for n, e in tables], ignore_index=True)
    results = results[["dataset"] + [c for c in results.columns if c != "dataset"]]
    write_csv(results, out_dir / "results.csv")
    write_csv(pd.concat([e.perquery.assign(dataset=n) for n, e in tables], ignore_index=True), out_dir / "perquery.csv")
    write_csv(pd.concat([e.stages.assign(dataset=n) for n, e in tables], ignore_index=True), out_dir / "stages.csv")
    indexes = _indexes(factories, cost)
    write_csv(indexes, out_dir / "indexes.csv")
    manifest = {
        "name": config.name, "config": config.model_dump(mode="json"), "config_path": str(Path(path).resolve()),
        "config_sha256": file_sha256(path), "overrides": overrides or {}, "only": only or [],
        "metrics": metrics, "baselines": [b for b in baselines if b in used_baselines], "significance": config.significance.model_dump(),
        "cost": {"hardware": cost.hardware, "usd_per_hour": cost.usd_per_hour},
        "latency": config.latency.model_dump(), "timing": config.timing.model_dump(),
        "table": config.table.model_dump(exclude_defaults=True), "pareto_metric": config.pareto_metric or metrics[0],
        "display_names": {p.name: p.display_name for p in points if p.params},
        "datasets": manifest_datasets, "points": [p.name for p in points], "failed": failed,
        "cache": cache.stats() if cache else {"disabled": True}, "resumed_points": resumed,
        "seed": config.seed, "git_commit": _git_commit(), "packages": _versions(),
        "python": platform.python_version(), "platform": platform.platform(), "hardware": hardware(),
        "started": started,
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
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
