"""Running pipelines as ``>>`` chains: column checks before any work, a prefix trie so shared prefixes run
once, the persistent stage cache, and per-stage wall time, memory and batch-1 latency."""
from __future__ import annotations

import contextlib
import resource
import sys
import time
import warnings
from dataclasses import dataclass
from typing import Iterable, Iterator

import numpy as np
import pandas as pd
import pyterrier as pt
from pyterrier._ops import Compose

from ..core import StageError
from ..core.pipeline_text import pipeline_text
from ..core.fingerprint import chain_key, frame_fingerprint, stage_fingerprint
from .cache import StageCache


@dataclass
class StageRecord:
    """One stage of one pipeline: wall time (when computed, even if read from the cache) and resources."""

    position: int
    stage: str
    seconds: float
    rows_out: int
    cached: bool
    peak_rss_mb: float
    device: str
    gpu_peak_mb: float = float("nan")


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


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cuda():
    torch = sys.modules.get("torch")
    return torch.cuda if torch is not None and torch.cuda.is_available() else None


@contextlib.contextmanager
def quiet_pyterrier():
    """PyTerrier's own pandas deprecation notices (its ``inplace=`` calls, deprecated in pandas 3.1) silenced while
    our engine runs its code: one per call, in every notebook cell, and nothing a user can act on."""
    with warnings.catch_warnings():
        if hasattr(pd.errors, "Pandas4Warning"):
            warnings.filterwarnings("ignore", category=pd.errors.Pandas4Warning, module=r"pyterrier(\.|$)")
        yield


def _timed(stage: pt.Transformer, frame: pd.DataFrame) -> tuple[pd.DataFrame, float, float]:
    cuda = _cuda()
    if cuda:
        cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    with quiet_pyterrier():
        out = stage.transform(frame)
    seconds = time.perf_counter() - start
    return out, seconds, (cuda.max_memory_allocated() / 2**20 if cuda else float("nan"))


Finished = tuple[str, "pd.DataFrame | None", list[StageRecord], "Exception | None"]


def execute(chains: dict[str, list[pt.Transformer]], topics: pd.DataFrame,
            cache: StageCache | None) -> Iterator[Finished]:
    """Run every chain on ``topics``, sharing common prefixes (a trie walked depth-first).

    Yields ``(name, results, records, error)`` as soon as each pipeline finishes or fails; a failure affects
    only the pipelines below the failing stage. Each stage's output is read from / written to ``cache``
    under (stage fingerprint, input fingerprint) when the whole prefix is fingerprinted.
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
                out, record, out_fp = _apply(stage, depth, frame, input_fp, cache, rebuild)
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


def execute_in_batches(chains: dict[str, list[pt.Transformer]], topics: pd.DataFrame, cache: StageCache | None,
                       batch_size: int | None) -> Iterator[Finished]:
    """:func:`execute` on ``batch_size`` topics at a time (all at once when ``None``), as ``pt.Experiment``'s
    ``batch_size`` does; each pipeline is yielded once, with its batches' results joined and its stage records
    summed (``cached`` when every batch was read from the cache). A failure in one batch fails the pipeline."""
    if not batch_size or batch_size >= len(topics):
        yield from execute(chains, topics, cache)
        return
    if batch_size < 1:
        raise ValueError(f"batch_size must be a positive number of topics, not {batch_size}")
    parts: dict[str, list[pd.DataFrame]] = {n: [] for n in chains}
    records: dict[str, list[StageRecord]] = {}
    errors: dict[str, Exception] = {}
    for start in range(0, len(topics), batch_size):
        batch = topics.iloc[start:start + batch_size].reset_index(drop=True)
        for name, out, recs, error in execute({n: c for n, c in chains.items() if n not in errors}, batch, cache):
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
    return StageRecord(a.position, a.stage, a.seconds + b.seconds, a.rows_out + b.rows_out, a.cached and b.cached,
                       max(a.peak_rss_mb, b.peak_rss_mb), a.device, max(a.gpu_peak_mb, b.gpu_peak_mb))


def _apply(stage, position: int, frame: pd.DataFrame, input_fp: str | None, cache: StageCache | None,
           rebuild: Rebuild) -> tuple[pd.DataFrame, StageRecord, str | None]:
    """Run ``stage`` or read its output from the cache.

    A stage with ``cache_output = False`` (e.g. ``TextLoader``: a lookup is cheaper than storing text) is
    never stored, and the columns it added are dropped from what later stages store, then added back
    by re-running it on what is read.
    """
    fp = stage_fingerprint(stage)
    key = chain_key(fp, input_fp) if fp and input_fp and getattr(stage, "cache_output", True) else None
    device = str(getattr(stage, "device", "cpu"))
    entry = cache.get(key) if cache is not None and key else None
    if entry is not None:
        out = entry.frame
        for source, _ in rebuild:
            with quiet_pyterrier():
                out = source.transform(out)
        out = out[entry.columns]
        return out, StageRecord(position, pipeline_text(stage), entry.seconds, len(out), True, _peak_rss_mb(), device), key
    out, seconds, gpu = _timed(stage, frame)
    if cache is not None and key:
        dropped = {c for _, cols in rebuild for c in cols}
        cache.put(key, out.drop(columns=[c for c in out.columns if c in dropped]), seconds, pipeline_text(stage),
                  list(out.columns))
    if not getattr(stage, "cache_output", True):
        key = chain_key(fp, input_fp) if fp and input_fp else None
    return out, StageRecord(position, pipeline_text(stage), seconds, len(out), False, _peak_rss_mb(), device, gpu), key


def batch1_latency(chain: list[pt.Transformer], topics: pd.DataFrame) -> np.ndarray:
    """Seconds per stage for each query run alone (batch size 1, no cache): shape (queries, stages)."""
    times = np.zeros((len(topics), len(chain)))
    for i in range(len(topics)):
        frame = topics.iloc[i:i + 1].reset_index(drop=True)
        for j, stage in enumerate(chain):
            frame, times[i, j], _ = _timed(stage, frame)
    return times
