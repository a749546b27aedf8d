"""Running pipelines as ``>>`` chains: column checks before any work, a prefix trie so shared prefixes run
once, the persistent stage cache, and per-stage wall time (repeated after a warm-up), memory and batch-1 latency."""
from __future__ import annotations

import contextlib
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import pandas as pd
import pyterrier as pt
from pyterrier._ops import Compose

from ..core import StageError
from ..core.pipeline_text import pipeline_text
from ..core.fingerprint import chain_key, frame_fingerprint, stage_fingerprint
from .cache import StageCache
from .timing import PeakRss, TimingPlan, _cuda, spread, timed_call


@dataclass
class StageRecord:
    """One stage of one pipeline, as measured when it was computed (also when its output is read from the cache):
    the seconds of each timed run on the whole batch, and the stage's own peak RSS (the process's high-water
    mark while the stage ran, and how far it rose above the RSS when the stage started)."""

    position: int
    stage: str
    times: tuple[float, ...]
    rows_out: int
    cached: bool
    peak_rss_mb: float
    rss_added_mb: float
    device: str
    gpu_peak_mb: float = float("nan")
    index_mb: float = float("nan")

    def row(self) -> dict:
        """The record as a ``stages.csv`` row: ``seconds`` is the median of the timed runs, with their min and max."""
        seconds, low, high = spread(self.times)
        return {"position": self.position, "stage": self.stage, "seconds": seconds, "seconds_min": low,
                "seconds_max": high, "repeats": len(self.times), "rows_out": self.rows_out, "cached": self.cached,
                "peak_rss_mb": self.peak_rss_mb, "rss_added_mb": self.rss_added_mb, "device": self.device,
                "gpu_peak_mb": self.gpu_peak_mb, "index_mb": self.index_mb}


def stage_chain(pipeline: pt.Transformer) -> list[pt.Transformer]:
    """The ``>>`` chain of a pipeline after PyTerrier's compilation (so ``% k`` is fused into retrievers)."""
    compiled = pipeline.compile()
    return list(compiled) if isinstance(compiled, Compose) else [compiled]


def check_columns(name: str, stages: list[pt.Transformer], input_columns: list[str]) -> None:
    """Ask each stage what it outputs for its input columns; a missing column fails here, before any work."""
    columns = list(input_columns)
    for stage in stages:
        try:
            columns = pt.inspect.transformer_outputs(stage, columns)
        except pt.validate.InputValidationError as e:
            e.args = (f"pipeline {name!r}: {e.args[0]}",) + e.args[1:]
            raise
        except pt.inspect.InspectError:
            return  # a stage that cannot say what it outputs: later stages cannot be checked either


def prepare(stages: Iterable[pt.Transformer]) -> None:
    """Build what stages need before queries run (indexes, models) so it is not counted as query time."""
    for stage in stages:
        if hasattr(stage, "prepare"):
            stage.prepare()


@contextlib.contextmanager
def quiet_pyterrier():
    """PyTerrier's own pandas deprecation notices (its ``inplace=`` calls, deprecated in pandas 3.1) silenced while
    our engine runs its code: one per call, in every notebook cell, and nothing a user can act on."""
    with warnings.catch_warnings():
        if hasattr(pd.errors, "Pandas4Warning"):
            warnings.filterwarnings("ignore", category=pd.errors.Pandas4Warning, module=r"pyterrier(\.|$)")
        yield


Finished = tuple[str, "pd.DataFrame | None", list[StageRecord], "Exception | None"]


def execute(chains: dict[str, list[pt.Transformer]], topics: pd.DataFrame, cache: StageCache | None,
            timing: TimingPlan = TimingPlan()) -> Iterator[Finished]:
    """Run every chain on ``topics``, sharing common prefixes (a trie walked depth-first).

    Yields ``(name, results, records, error)`` as soon as each pipeline finishes or fails; a failure affects
    only the pipelines below the failing stage. Each stage's output is read from / written to ``cache``
    under (stage fingerprint, input fingerprint) when the whole prefix is fingerprinted. A computed stage runs
    ``timing.warmup + timing.repeats`` times on its input; the first run's output is the one passed on.
    """
    def identity(stage: pt.Transformer) -> object:
        return stage_fingerprint(stage) or ("object", id(stage))

    def walk(names: list[str], depth: int, frame: pd.DataFrame, input_fp: str | None,
             records: list[StageRecord], rebuild: Rebuild) -> Iterator[Finished]:
        groups: dict[object, list[str]] = {}
        for name in names:
            if depth == len(chains[name]):
                yield name, frame, records, None
            else:
                groups.setdefault(identity(chains[name][depth]), []).append(name)
        for group in groups.values():
            stage = chains[group[0]][depth]
            try:
                out, record, out_fp = _apply(stage, depth, frame, input_fp, cache, rebuild, timing)
            except Exception as e:
                error = StageError(f"pipeline {group[0]!r}, stage {depth} ({stage}): {type(e).__name__}: {e}")
                error.__cause__ = e
                for name in group:
                    yield name, None, records, error
                continue
            if not getattr(stage, "cache_output", True):
                rebuild = rebuild + [(stage, [c for c in out.columns if c not in frame.columns])]
            yield from walk(group, depth + 1, out, out_fp, records + [record], rebuild)

    yield from walk(list(chains), 0, topics, frame_fingerprint(topics), [], [])


Rebuild = list[tuple[pt.Transformer, list[str]]]


def index_mb(stage: pt.Transformer) -> float:
    """Size on disk (MB) of the index folder a prepared stage reads; NaN for a stage without one."""
    try:
        path = getattr(getattr(stage, "index", None), "path", None)
        return _folder_mb(str(path), Path(path).stat().st_mtime_ns) if path is not None else float("nan")
    except Exception:
        return float("nan")


@lru_cache(maxsize=256)
def _folder_mb(path: str, _mtime_ns: int) -> float:
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file()) / 2**20


def run_repeated(stage: pt.Transformer, frame: pd.DataFrame, timing: TimingPlan
                 ) -> tuple[pd.DataFrame, tuple[float, ...], PeakRss, float]:
    """``stage`` on ``frame``, ``timing.runs`` times: the first output, the timed runs' seconds (warm-up runs
    left out), the peak RSS over all runs and the peak GPU memory (MB; NaN without a GPU)."""
    cuda = _cuda()
    if cuda:
        cuda.reset_peak_memory_stats()
    out, times = None, []
    with PeakRss() as memory, quiet_pyterrier():
        for i in range(timing.runs):
            result, seconds = timed_call(lambda: stage.transform(frame))
            if out is None:
                out = result
            del result
            if i >= timing.warmup:
                times.append(seconds)
    return out, tuple(times), memory, (cuda.max_memory_allocated() / 2**20 if cuda else float("nan"))


def execute_in_batches(chains: dict[str, list[pt.Transformer]], topics: pd.DataFrame, cache: StageCache | None,
                       batch_size: int | None, timing: TimingPlan = TimingPlan()) -> Iterator[Finished]:
    """:func:`execute` on ``batch_size`` topics at a time (all at once when ``None``), as ``pt.Experiment``'s
    ``batch_size`` does; each pipeline is yielded once, with its batches' results joined and its stage records
    summed (``cached`` when every batch was read from the cache). A failure in one batch fails the pipeline."""
    if not batch_size or batch_size >= len(topics):
        yield from execute(chains, topics, cache, timing)
        return
    if batch_size < 1:
        raise ValueError(f"batch_size must be a positive number of topics, not {batch_size}")
    parts: dict[str, list[pd.DataFrame]] = {n: [] for n in chains}
    records: dict[str, list[StageRecord]] = {}
    errors: dict[str, Exception] = {}
    for start in range(0, len(topics), batch_size):
        batch = topics.iloc[start:start + batch_size].reset_index(drop=True)
        for name, out, recs, error in execute({n: c for n, c in chains.items() if n not in errors}, batch, cache,
                                              timing):
            if error is not None:
                errors[name] = error
                continue
            parts[name].append(out)
            records[name] = recs if name not in records else [_sum_records(a, b) for a, b in zip(records[name], recs)]
    for name in chains:
        if name in errors:
            yield name, None, records.get(name, []), errors[name]
        else:
            yield name, pd.concat(parts[name], ignore_index=True), records[name], None


def _sum_records(a: StageRecord, b: StageRecord) -> StageRecord:
    """Two batches' records of one stage: their timed runs added run by run, the higher memory figures."""
    times = tuple(x + y for x, y in zip(a.times, b.times)) if len(a.times) == len(b.times) else \
        (sum(a.times) / len(a.times) + sum(b.times) / len(b.times),)  # cached batches timed with other repeats
    return StageRecord(a.position, a.stage, times, a.rows_out + b.rows_out, a.cached and b.cached,
                       max(a.peak_rss_mb, b.peak_rss_mb), max(a.rss_added_mb, b.rss_added_mb), a.device,
                       max(a.gpu_peak_mb, b.gpu_peak_mb), a.index_mb)


def _apply(stage, position: int, frame: pd.DataFrame, input_fp: str | None, cache: StageCache | None,
           rebuild: Rebuild, timing: TimingPlan) -> tuple[pd.DataFrame, StageRecord, str | None]:
    """Run ``stage`` or read its output (and the figures measured when it was computed) from the cache.

    A stage with ``cache_output = False`` (e.g. ``TextLoader``: a lookup is cheaper than storing text) is
    never stored, and the columns it added are dropped from what later stages store, then added back
    by re-running it on what is read.
    """
    fp = stage_fingerprint(stage)
    key = chain_key(fp, input_fp) if fp and input_fp and getattr(stage, "cache_output", True) else None
    device, text = str(getattr(stage, "device", "cpu")), pipeline_text(stage)
    entry = cache.get(key) if cache is not None and key else None
    if entry is not None:
        out = entry.frame
        for source, _ in rebuild:
            with quiet_pyterrier():
                out = source.transform(out)
        out = out[entry.columns]
        m = entry.measured
        return out, StageRecord(position, text, entry.times, len(out), True, m.get("peak_rss_mb", np.nan),
                                m.get("rss_added_mb", np.nan), device, m.get("gpu_peak_mb", np.nan),
                                index_mb(stage)), key
    out, times, memory, gpu = run_repeated(stage, frame, timing)
    record = StageRecord(position, text, times, len(out), False, memory.peak_mb, memory.added_mb, device, gpu,
                         index_mb(stage))
    if cache is not None and key:
        dropped = {c for _, cols in rebuild for c in cols}
        cache.put(key, out.drop(columns=[c for c in out.columns if c in dropped]), times, text, list(out.columns),
                  {"peak_rss_mb": record.peak_rss_mb, "rss_added_mb": record.rss_added_mb, "gpu_peak_mb": gpu})
    if not getattr(stage, "cache_output", True):
        key = chain_key(fp, input_fp) if fp and input_fp else None
    return out, record, key


def batch1_latency(chain: list[pt.Transformer], topics: pd.DataFrame, timing: TimingPlan = TimingPlan()) -> np.ndarray:
    """Seconds per stage for each query of ``topics`` run alone (batch size 1, no cache), in ``timing.warmup``
    untimed passes over them and then ``timing.repeats`` timed ones: shape (repeats, queries, stages)."""
    times = np.zeros((timing.repeats, len(topics), len(chain)))
    queries = [topics.iloc[i:i + 1].reset_index(drop=True) for i in range(len(topics))]
    with quiet_pyterrier():
        for run in range(timing.runs):
            for i, frame in enumerate(queries):
                for j, stage in enumerate(chain):
                    frame, seconds = timed_call(lambda: stage.transform(frame))
                    if run >= timing.warmup:
                        times[run - timing.warmup, i, j] = seconds
    return times
