"""The persistent stage cache: each stage output stored as parquet under (stage, input) fingerprints.

Files are written atomically; a sidecar JSON holds the parquet's sha256 (checked on every read), the
seconds of each timed run and the memory measured when the stage was computed, and what it was. A corrupted entry
is dropped and recomputed. Columns of dicts (``query_toks``) are stored as JSON text: parquet would turn them into
structs over the union of all keys, giving every row the others' keys.
"""
from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..core import atomic_open, atomic_write_text, cache_dir, file_sha256


def _dict_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if frame[c].dtype == object and len(frame) and isinstance(frame[c].iloc[0], dict)
            and frame[c].map(lambda v: isinstance(v, dict)).all()]


@dataclass
class CacheEntry:
    frame: pd.DataFrame
    times: tuple[float, ...]  # seconds of each timed run when it was computed
    columns: list[str]  # of the full output (columns that were not stored are re-added by the caller)
    measured: dict = field(default_factory=dict)  # peak_rss_mb, rss_added_mb, gpu_peak_mb


@dataclass
class StageCache:
    """Stage outputs under ``root`` (default ``$TIR_CACHE_DIR/stages``); counts hits, misses and corruptions."""

    root: Path = field(default_factory=lambda: cache_dir() / "stages")
    hits: int = 0
    misses: int = 0
    corrupt: int = 0

    def _paths(self, key: str) -> tuple[Path, Path]:
        folder = Path(self.root) / key[:2]
        return folder / f"{key}.parquet", folder / f"{key}.json"

    def get(self, key: str) -> CacheEntry | None:
        data, meta = self._paths(key)
        if not (data.exists() and meta.exists()):
            self.misses += 1
            return None
        try:
            info = json.loads(meta.read_text())
            if file_sha256(data) != info["sha256"]:
                raise ValueError("checksum mismatch")
            frame = pd.read_parquet(data)
            for column in info.get("json_columns", []):
                frame[column] = [json.loads(v) for v in frame[column]]
        except Exception as e:  # corrupted or unreadable: recompute
            warnings.warn(f"stage cache entry {data} is corrupted ({e}); recomputing it")
            for p in (data, meta):
                p.unlink(missing_ok=True)
            self.corrupt += 1
            self.misses += 1
            return None
        self.hits += 1
        times = tuple(float(t) for t in info.get("times") or [info["seconds"]])
        return CacheEntry(frame, times, info.get("columns") or list(frame.columns), info.get("measured") or {})

    def put(self, key: str, frame: pd.DataFrame, times: "tuple[float, ...] | float", stage: str,
            columns: list[str] | None = None, measured: dict | None = None) -> None:
        data, meta = self._paths(key)
        as_json = _dict_columns(frame)
        stored = frame.assign(**{c: [json.dumps(v) for v in frame[c]] for c in as_json})
        try:
            with atomic_open(data, "wb", fsync=False) as f:  # the checksum catches a torn file
                stored.reset_index(drop=True).to_parquet(f, index=False)
        except Exception as e:  # a frame parquet cannot hold (e.g. object columns of mixed types): just don't cache
            warnings.warn(f"stage output of {stage} not cached: {e}")
            return
        times = [float(times)] if isinstance(times, (int, float)) else [float(t) for t in times]
        atomic_write_text(meta, json.dumps({"sha256": file_sha256(data), "times": times, "stage": stage,
                                            "measured": measured or {},
                                            "rows": len(frame), "columns": columns or list(frame.columns),
                                            "json_columns": as_json, "pid": os.getpid()}))

    def stats(self) -> dict[str, int]:
        return {"hits": self.hits, "misses": self.misses, "corrupt": self.corrupt}
