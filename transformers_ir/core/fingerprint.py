"""Stable fingerprints of stages and frames, the keys of the persistent stage cache.

A stage is fingerprinted when it says what it is (a ``fingerprint()`` method returning a JSON-able
value: class, parameters, model identity, index identity), or when it is one of PyTerrier's own operators
whose ``repr`` states all its parameters. Anything else (e.g. ``pt.apply`` over a lambda) has no
fingerprint and is never cached: recomputing is always safe, a stale cache hit never is.
"""
from __future__ import annotations

import hashlib
from typing import Any

import pandas as pd

from .hashing import value_sha256

_PT_OPERATORS = ("RankCutoff", "ScalarProduct", "FeatureUnion", "SetUnion", "SetIntersection",
                 "Concatenate", "Compose", "Sum")


def stage_fingerprint(stage: Any) -> str | None:
    """sha256 of what ``stage`` computes, or ``None`` when that cannot be known."""
    if hasattr(stage, "fingerprint"):
        value = stage.fingerprint()
        return None if value is None else value_sha256({"class": _qualname(stage), "value": value})
    name = type(stage).__name__
    if type(stage).__module__.startswith("pyterrier.") and name in _PT_OPERATORS:
        parts = []
        for child in getattr(stage, "_transformers", ()) or (getattr(stage, "left", None), getattr(stage, "right", None)):
            if child is None:
                continue
            fp = stage_fingerprint(child)
            if fp is None:
                return None
            parts.append(fp)
        own = {k: v for k, v in vars(stage).items() if isinstance(v, (int, float, str, bool))}
        return value_sha256({"class": _qualname(stage), "params": own, "children": parts})
    return None


def _qualname(obj: Any) -> str:
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


def frame_fingerprint(frame: pd.DataFrame) -> str:
    """sha256 of a frame's columns and values (order-sensitive)."""
    h = hashlib.sha256(",".join(map(str, frame.columns)).encode())
    h.update(pd.util.hash_pandas_object(frame.astype(str), index=False).values.tobytes())
    return h.hexdigest()


def chain_key(stage_fp: str, input_fp: str) -> str:
    """The cache key of a stage's output: (stage fingerprint, input fingerprint)."""
    return value_sha256([stage_fp, input_fp])
