"""Whether long work (index building, corpus encoding, training) shows a tqdm progress bar.

By default a bar shows when stderr is a terminal and not otherwise (logs, CI, notebooks' captured output stay
clean); ``TIR_PROGRESS=1`` always shows them, ``TIR_PROGRESS=0`` (``tir run --quiet``) never does.
"""
from __future__ import annotations

import os
import sys


def show_progress(verbose: bool | None = None) -> bool:
    """True when a progress bar should show; ``verbose=True`` (a stage's own setting) asks for one."""
    setting = os.environ.get("TIR_PROGRESS", "").strip()
    if setting == "0":
        return False
    if verbose or setting == "1":
        return True
    stream = sys.stderr
    return bool(stream is not None and hasattr(stream, "isatty") and stream.isatty())
