"""Writing an experiment's files: results.csv, perquery.csv, stages.csv, runs/<name>.trec, table.md."""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from ..core import atomic_open, atomic_write_text
from ..data import write_run
from .experiment import ExperimentResult


def safe_filename(name: str) -> str:
    """A pipeline name as a file name (``BM25 % 100`` -> ``BM25_%_100``)."""
    return re.sub(r"[^A-Za-z0-9._%+=,\[\]@-]+", "_", name).strip("_") or "pipeline"


def run_path(out_dir: str | Path, name: str) -> Path:
    return Path(out_dir) / "runs" / f"{safe_filename(name)}.trec"


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    with atomic_open(path, "w") as f:
        frame.to_csv(f, index=False)


def markdown_table(result: ExperimentResult) -> str:
    """The results as a Markdown table: metrics to 4 decimals, mean response time in ms."""
    columns = ["name"] + result.metrics + ["mrt_ms"]
    extra = [c for c in result.results.columns if " p_corrected vs " in c]
    table = result.results[columns + extra].copy()
    for c in result.metrics + extra:
        table[c] = table[c].map(lambda v: "" if pd.isna(v) else f"{v:.4f}")
    table["mrt_ms"] = table["mrt_ms"].map(lambda v: "" if pd.isna(v) else f"{v:.2f}")
    return table.to_markdown(index=False, disable_numparse=True) + "\n"


def write_outputs(result: ExperimentResult, out_dir: str | Path, runs: bool = True) -> Path:
    """Write every file of ``result`` into ``out_dir`` (each atomically); return the folder.

    ``runs=False`` skips ``runs/*.trec`` (for callers that wrote each run as soon as it finished).
    """
    out_dir = Path(out_dir)
    for name, run in result.runs.items() if runs else ():
        write_run(run, run_path(out_dir, name), name=safe_filename(name))
    write_csv(result.results, out_dir / "results.csv")
    write_csv(result.perquery, out_dir / "perquery.csv")
    write_csv(result.stages, out_dir / "stages.csv")
    atomic_write_text(out_dir / "table.md", markdown_table(result))
    return out_dir
