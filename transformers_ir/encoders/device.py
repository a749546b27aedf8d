"""Device choice, CPU threads and seeds."""
from __future__ import annotations

import os
import random

import numpy as np


def cpu_cores() -> int:
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def cpu_threads() -> int:
    """Threads for torch on CPU: ``$TIR_TORCH_THREADS`` when set (fewer threads win on a machine busy with other
    jobs), else one per core."""
    value = os.environ.get("TIR_TORCH_THREADS")
    if value is None:
        return cpu_cores()
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"TIR_TORCH_THREADS must be a positive integer, got {value!r}")
    return int(value)


def choose_device(device: str | None = None) -> str:
    """``device`` if given, else ``cuda`` when present, else ``cpu`` (torch using :func:`cpu_threads` threads)."""
    import torch
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu" and torch.get_num_threads() != cpu_threads():
        torch.set_num_threads(cpu_threads())
    return device


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) for repeatable training and sampling."""
    import torch
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
