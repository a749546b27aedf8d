"""Figures one can defend: warm-up runs left out, repeats summarised by median and min–max, each stage's own
peak memory, and the hardware named."""
import types

import numpy as np
import pandas as pd
import pyterrier as pt
import pytest

from transformers_ir.experiment import StageCache, run_pipelines, timing
from transformers_ir.experiment.execution import batch1_latency
from transformers_ir.experiment.timing import PeakRss, TimingPlan, describe_hardware, hardware

TOPICS = pd.DataFrame({"qid": ["1", "2", "3", "4"], "query": ["a", "b", "c", "d"]})
QRELS = pd.DataFrame({"qid": ["1", "2", "3", "4"], "docno": ["d1"] * 4, "label": [1] * 4})


class Clock:
    """A fake ``time`` module whose clock only the stages below move."""

    def __init__(self):
        self.now = 0.0

    def perf_counter(self) -> float:
        return self.now


class Retrieve(pt.Transformer):
    """Returns d1 then d2 for every query; each call moves ``clock`` on by the next of ``durations``."""

    def __init__(self, clock: Clock | None = None, durations=(0.0,), key: str | None = None):
        self.clock, self.durations, self.calls, self.key = clock, list(durations), [], key

    def fingerprint(self):
        return self.key  # None: not cached

    def transform(self, topics: pd.DataFrame) -> pd.DataFrame:
        if not len(topics):  # PyTerrier asking which columns come out
            return pd.DataFrame(columns=["qid", "query", "docno", "score", "rank"])
        if self.clock is not None:
            self.clock.now += self.durations[min(len(self.calls), len(self.durations) - 1)]
        self.calls.append(len(topics))
        return pd.DataFrame([{"qid": q, "query": t, "docno": d, "score": s, "rank": r}
                             for q, t in zip(topics["qid"], topics["query"])
                             for r, (d, s) in enumerate([("d1", 2.0), ("d2", 1.0)])])


class Allocate(pt.Transformer):
    """Touches ``mb`` MB of memory and frees it before returning its input."""

    def __init__(self, mb: int):
        self.mb = mb

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        block = np.ones(self.mb * 2**20 // 8)
        block[::512] += 1.0
        del block
        return frame


@pytest.fixture
def clock(monkeypatch):
    fake = Clock()
    monkeypatch.setattr(timing, "time", types.SimpleNamespace(perf_counter=fake.perf_counter))
    return fake


def test_warmup_runs_are_left_out_and_repeats_give_median_and_spread(clock):
    stage = Retrieve(clock, durations=[10.0, 1.0, 3.0, 2.0] + [0.001] * 100)  # a slow first (warm-up) run
    [result] = run_pipelines({"r": stage}, TOPICS, QRELS, ["P@1"], cache=False, latency_queries=2,
                             timing={"repeats": 3, "warmup": 1})
    assert stage.calls[:4] == [4, 4, 4, 4]  # the whole batch, once untimed and three times timed
    assert stage.calls[4:] == [1] * 8  # then 2 queries alone, in 1 untimed and 3 timed passes
    [row] = result.stages
    assert (row["seconds"], row["seconds_min"], row["seconds_max"], row["repeats"]) == (2.0, 1.0, 3.0, 3)
    figures = result.row
    assert figures["mrt_ms"] == pytest.approx(500.0) and figures["qps"] == pytest.approx(2.0)
    assert (figures["qps_min"], figures["qps_max"]) == (pytest.approx(4 / 3), pytest.approx(4.0))
    assert figures["usd_per_1m_queries_min"] < figures["usd_per_1m_queries"] < figures["usd_per_1m_queries_max"]
    assert figures["latency_p50_ms"] == pytest.approx(1.0)  # the 10 s warm-up is in none of them
    assert figures["P@1"] == 1.0


def test_no_warmup_times_every_run(clock):
    stage = Retrieve(clock, durations=[5.0, 1.0])
    [result] = run_pipelines({"r": stage}, TOPICS, QRELS, ["P@1"], cache=False, latency_queries=0,
                             timing={"repeats": 2, "warmup": 0})
    assert len(stage.calls) == 2 and result.stages[0]["seconds_max"] == 5.0 and result.stages[0]["repeats"] == 2


def test_batch1_latency_shape():
    stage = Retrieve()
    times = batch1_latency([stage, Allocate(1)], TOPICS, TimingPlan(repeats=2, warmup=1))
    assert times.shape == (2, 4, 2) and (times >= 0).all() and len(stage.calls) == 3 * 4


def test_cached_stage_reports_the_times_measured_when_computed(clock, tmp_path):
    cache = StageCache(tmp_path / "cache")
    first = next(run_pipelines({"r": Retrieve(clock, [9.0, 4.0, 6.0, 5.0], key="k")}, TOPICS, QRELS, ["P@1"],
                               cache=cache, latency_queries=0))
    again = Retrieve(clock, [100.0], key="k")
    second = next(run_pipelines({"r": again}, TOPICS, QRELS, ["P@1"], cache=cache, latency_queries=0))
    assert again.calls == [] and second.stages[0]["cached"]
    for key in ("seconds", "seconds_min", "seconds_max", "repeats", "peak_rss_mb"):
        assert second.stages[0][key] == first.stages[0][key], key
    assert first.stages[0]["seconds"] == 5.0


def test_timing_plan_is_checked():
    with pytest.raises(ValueError, match="repeats >= 1"):
        TimingPlan(repeats=0)


def test_each_stage_reports_its_own_peak_memory():
    pipeline = Allocate(200) >> Retrieve()
    [result] = run_pipelines({"p": pipeline}, TOPICS, QRELS, ["P@1"], cache=False, latency_queries=0,
                             timing={"repeats": 1, "warmup": 0})
    allocate, retrieve = result.stages
    assert allocate["rss_added_mb"] >= 180  # the 200 MB it touched
    assert retrieve["rss_added_mb"] < 50  # freed before the next stage: not charged to it
    assert allocate["peak_rss_mb"] - retrieve["peak_rss_mb"] >= 150
    assert result.row["peak_rss_mb"] == allocate["peak_rss_mb"]


def test_peak_rss_sampling_fallback(monkeypatch):
    monkeypatch.setattr(timing, "_reset_high_water", lambda: False)  # as where /proc/self/clear_refs is missing
    with PeakRss(interval=0.001) as memory:
        Allocate(200).transform(TOPICS)
        block = np.ones(100 * 2**20 // 8)
        block[::512] += 1.0
    assert memory.added_mb >= 80  # the 100 MB still held when the block ended (a 200 MB spike may fall between samples)


def test_hardware_is_described():
    info = hardware()
    assert info["cores"] >= 1 and info["cpu"]
    text = describe_hardware({"cpu": "AMD EPYC 7B13", "cores": 2, "torch_threads": 1, "blas": "OpenBLAS 0.3.27",
                              "gpu": "NVIDIA H100"})
    assert text == "AMD EPYC 7B13, 2 cores, 1 torch thread, BLAS OpenBLAS 0.3.27, GPU NVIDIA H100"
