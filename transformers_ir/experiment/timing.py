"""Figures one can defend: repeated runs after a warm-up, summarised by median and min–max; each stage's own peak
memory; and the hardware they were measured on (MLPerf inference; "Moving Beyond Downstream Task Accuracy for
IR Benchmarking")."""
from __future__ import annotations

import os
import platform
import re
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence, TypeVar

import numpy as np

T = TypeVar("T")


@dataclass(frozen=True)
class TimingPlan:
    """How often each stage runs: ``warmup`` untimed runs, then ``repeats`` timed ones (the first run's output is
    the one used, so ``warmup=1`` costs nothing extra beyond the repeats)."""

    repeats: int = 3
    warmup: int = 1

    def __post_init__(self):
        if int(self.repeats) < 1 or int(self.warmup) < 0:
            raise ValueError(f"timing needs repeats >= 1 and warmup >= 0, got repeats={self.repeats}, "
                             f"warmup={self.warmup}")

    @property
    def runs(self) -> int:
        return self.warmup + self.repeats


def resolve_timing(spec: "TimingPlan | dict | None") -> TimingPlan:
    if isinstance(spec, TimingPlan):
        return spec
    return TimingPlan(**(spec or {}))


def spread(values: Sequence[float]) -> tuple[float, float, float]:
    """(median, min, max) of ``values``; NaNs when there are none."""
    if not len(values):
        return (float("nan"),) * 3
    array = np.asarray(values, dtype=float)
    return float(np.median(array)), float(array.min()), float(array.max())


# ---------------------------------------------------------------- memory

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def _status_mb(field: str) -> float:
    match = re.search(rf"^{field}:\s+(\d+) kB", _STATUS.read_text(), re.M)
    return int(match.group(1)) / 1024 if match else float("nan")


def _reset_high_water() -> bool:
    """Reset the kernel's peak-RSS counter of this process (Linux ``clear_refs`` 5); False where unsupported."""
    try:
        _CLEAR_REFS.write_text("5")
        return True
    except OSError:
        return False


def current_rss_mb() -> float:
    """This process's resident set size now (MB), or NaN where it cannot be read."""
    try:
        return _status_mb("VmRSS")
    except OSError:
        pass
    try:
        import psutil
        return psutil.Process().memory_info().rss / 2**20
    except ImportError:
        return float("nan")


class PeakRss:
    """``with PeakRss() as m: ...`` -> ``m.peak_mb``: the highest RSS of this process inside the block, and
    ``m.start_mb`` its RSS when the block began.

    On Linux the kernel's high-water mark is reset on entry and read on exit (exact, free); elsewhere a
    thread samples the RSS every ``interval`` seconds (a short spike between samples can be missed).
    """

    def __init__(self, interval: float = 0.005):
        self.interval, self.peak_mb, self.start_mb = interval, float("nan"), float("nan")
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def __enter__(self) -> "PeakRss":
        self.start_mb = current_rss_mb()
        self._kernel = _reset_high_water()
        if not self._kernel:
            self.peak_mb = self.start_mb
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak_mb = max(self.peak_mb, current_rss_mb())

    def __exit__(self, *exc) -> None:
        if self._kernel:
            self.peak_mb = _status_mb("VmHWM")
        else:
            self._stop.set()
            self._thread.join()
            self.peak_mb = max(self.peak_mb, current_rss_mb())

    @property
    def added_mb(self) -> float:
        """How far the peak rose above the RSS at entry."""
        return max(0.0, self.peak_mb - self.start_mb)


# ---------------------------------------------------------------- time

_CUDA: list = []  # [torch.cuda or None] once torch is imported (asked once: it is on every timed call)


def _cuda():
    if not _CUDA:
        torch = sys.modules.get("torch")  # only a stage that uses torch has imported it
        if torch is None:
            return None
        _CUDA.append(torch.cuda if torch.cuda.is_available() else None)
    return _CUDA[0]


def timed_call(fn: Callable[[], T]) -> tuple[T, float]:
    """``fn()`` and its wall seconds (after the GPU has finished, when torch uses one)."""
    cuda = _cuda()
    start = time.perf_counter()
    out = fn()
    if cuda:
        cuda.synchronize()
    return out, time.perf_counter() - start


# ---------------------------------------------------------------- hardware

def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _blas() -> str | None:
    """The BLAS numpy calls (e.g. ``scipy-openblas 0.3.29``), as numpy reports it."""
    try:
        info = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return " ".join(str(info[k]) for k in ("name", "version") if info.get(k)) or None
    except Exception:
        return None


def hardware() -> dict:
    """What the figures were measured on: CPU model, cores (usable by this process), torch threads, BLAS, GPU."""
    torch = sys.modules.get("torch")
    cuda = _cuda()
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {"cpu": _cpu_model(), "cores": usable, "torch_threads": torch.get_num_threads() if torch else None,
            "blas": _blas(), "gpu": cuda.get_device_name(0) if cuda else None}


def describe_hardware(info: dict) -> str:
    """One line: ``AMD EPYC 7B13, 2 cores, 1 torch thread, BLAS scipy-openblas 0.3.29, no GPU``."""
    if not info:
        return ""
    parts = [str(info.get("cpu") or "unknown CPU")]
    if info.get("cores"):
        parts.append(f"{info['cores']} core{'s' if info['cores'] != 1 else ''}")
    if info.get("torch_threads"):
        n = info["torch_threads"]
        parts.append(f"{n} torch thread{'s' if n != 1 else ''}")
    if info.get("blas"):
        parts.append(f"BLAS {info['blas']}")
    parts.append(f"GPU {info['gpu']}" if info.get("gpu") else "no GPU")
    return ", ".join(parts)
