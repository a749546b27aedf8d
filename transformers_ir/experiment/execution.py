"""Running pipelines as ``>>`` chains: column checks before any work, a prefix trie so shared prefixes run
once, the persistent stage cache, and per-stage wall time (repeated after a warm-up), memory and batch-1 latency."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import pandas as pd
import pyterrier as pt
from pyterrier._ops import Compose

from ..config.to_yaml import pipeline_text
from ..core import StageError
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
    with PeakRss() as memory:
        for i in range(timing.runs):
            result, seconds = timed_call(lambda: stage.transform(frame))
            if out is None:
                out = result
            del result
            if i >= timing.warmup:
                times.append(seconds)
    return out, tuple(times), memory, (cuda.max_memory_allocated() / 2**20 if cuda else float("nan"))


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
    for run in range(timing.runs):
        for i, frame in enumerate(queries):
            for j, stage in enumerate(chain):
                frame, seconds = timed_call(lambda: stage.transform(frame))
                if run >= timing.warmup:
                    times[run - timing.warmup, i, j] = seconds
    return times
