"""The point store of an output folder: each grid point's evaluation in ``points/<dataset>/<file>.json``, written
as soon as it finishes, read back by a resumed run only when its key says it is the same computation.

A point's key covers everything that changes what the point file holds: the fingerprint of every stage of its
chain, the topics and qrels, the metrics, the cost and latency settings, the seed and the config it comes from.
File names come from :func:`file_names`, which never maps two pipeline names to one file.
"""
from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Iterable

from ..core import atomic_write_text, value_sha256
from ..core.fingerprint import stage_fingerprint
from .execution import stage_chain
from .experiment import PipelineResult


def file_names(names: Iterable[str]) -> dict[str, str]:
    """A filesystem-safe, unique file stem per name, deterministically: ASCII letters, digits and ``._=+,@[]-``
    kept, other runs of characters become ``_``; names that would collide (also ignoring case) all get a short
    hash of the full name appended."""
    names = list(dict.fromkeys(names))
    stems = {n: re.sub(r"[^A-Za-z0-9._=+,@\[\]-]+", "_", n).strip("._") or "pipeline" for n in names}
    counts: dict[str, int] = {}
    for stem in stems.values():
        counts[stem.lower()] = counts.get(stem.lower(), 0) + 1
    return {n: s if counts[s.lower()] == 1 else f"{s}-{hashlib.sha256(n.encode()).hexdigest()[:8]}"
            for n, s in stems.items()}


def point_key(pipeline, context: dict) -> str:
    """The key of one point: its stages' fingerprints (an unfingerprinted stage by its repr) and ``context``
    (topics, qrels, metrics, cost, latency, seed, config)."""
    chain = [stage_fingerprint(s) or repr(s) for s in stage_chain(pipeline)]
    return value_sha256({"chain": chain, **context})


def save_point(path: Path, key: str, result: PipelineResult) -> None:
    atomic_write_text(path, json.dumps({"key": key, "name": result.name, "row": result.row, "error": result.error,
                                        "stages": result.stages, "perquery": result.perquery}, default=float))


def load_point(path: Path, key: str) -> PipelineResult | None:
    """The finished point at ``path`` when it was computed under ``key`` and did not fail, else None."""
    try:
        saved = json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    if saved.get("key") != key or saved.get("error"):
        return None
    return PipelineResult(saved["name"], saved["row"], saved["perquery"], saved["stages"], None)


def remove_stale(folder: Path, current: Iterable[str], suffix: str) -> list[Path]:
    """Delete the ``*suffix`` files of ``folder`` whose stem is not in ``current`` (points no longer in the
    config), so nothing left there looks like a result of this config; return what was removed."""
    keep = set(current)
    stale = [p for p in folder.glob(f"*{suffix}") if p.name[:-len(suffix)] not in keep] if folder.is_dir() else []
    for path in stale:
        path.unlink(missing_ok=True)
    return stale
