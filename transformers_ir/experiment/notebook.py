"""The notebook view of an experiment: a compact table and per-stage time bars, as HTML, from the result frames.

:func:`render_html` takes what an experiment returns (its results and stages frames, metric names, baselines and
the manifest-like ``meta``) so that any result object can call it from its ``_repr_html_``.
"""
from __future__ import annotations

import colorsys
import hashlib
import html
import math
from typing import Mapping, Sequence

import pandas as pd

from .report import (EFFICIENCY, Grid, TableOptions, build_grid, caption_text, legend_text, pvalue,
                     significant, text_marks)

FIGURES = ("latency_p50_ms", "qps", "usd_per_1m_queries", "peak_rss_mb")
BAR_PX = 260  # the longest pipeline's bar
CSS = ("<style>.tir td,.tir th{padding:2px 8px;text-align:right;vertical-align:top;white-space:nowrap}"
       ".tir td:first-child,.tir th:first-child,.tir td.bars{text-align:left}"
       ".tir .stages{font-size:85%;color:#444;white-space:normal;max-width:420px}"
       ".tir .seg{display:inline-block;height:12px;vertical-align:middle}"
       ".tir .swatch{display:inline-block;width:9px;height:9px;margin-right:3px;vertical-align:baseline}"
       ".tir .legend{font-size:85%;color:#444;max-width:980px}</style>")


def stage_label(stage: str) -> str:
    """A stage's short name: its class (``BM25('vaswani', k1=0.9)`` -> ``BM25``)."""
    return str(stage).split("(", 1)[0].strip() or str(stage)


def _color(label: str, cached: bool) -> str:
    hue = int(hashlib.sha256(label.encode()).hexdigest()[:4], 16) / 0xFFFF
    r, g, b = colorsys.hls_to_rgb(hue, 0.62 if not cached else 0.8, 0.55)
    return f"rgb({r * 255:.0f},{g * 255:.0f},{b * 255:.0f})"


def _segment(label: str, seconds: float, cached: bool, px: float) -> str:
    color = _color(label, cached)
    style = (f"width:{max(px, 1.0):.1f}px;background:{color}" if not cached else
             f"width:{max(px, 1.0):.1f}px;background:repeating-linear-gradient(45deg,{color},{color} 3px,#fff 3px,"
             f"#fff 5px)")
    tip = f"{label}: {significant(seconds * 1000)} ms{' (read from the cache; time when computed)' if cached else ''}"
    return f'<span class="seg" style="{style}" title="{html.escape(tip)}"></span>'


def stage_bars(stages: pd.DataFrame) -> dict[str, str]:
    """Per pipeline, HTML of a bar of its stages' batch seconds, on one scale for all pipelines, and below it
    each stage's name and time (cached stages hatched and marked)."""
    if stages is None or stages.empty:
        return {}
    totals = stages.groupby("name", sort=False)["seconds"].sum()
    scale = BAR_PX / totals.max() if totals.max() > 0 else 0.0
    out = {}
    for name, group in stages.groupby("name", sort=False):
        group = group.sort_values("position")
        labels = [stage_label(s) for s in group["stage"]]
        bar = "".join(_segment(lbl, t, bool(c), t * scale)
                      for lbl, t, c in zip(labels, group["seconds"], group["cached"]))
        names = " · ".join(f'<span class="swatch" style="background:{_color(lbl, bool(c))}"></span>'
                           f"{html.escape(lbl)} {significant(t * 1000)} ms{' (cached)' if c else ''}"
                           for lbl, t, c in zip(labels, group["seconds"], group["cached"]))
        out[str(name)] = (f"{bar} <b>{significant(totals[name] * 1000)} ms</b>"
                          f'<div class="stages">{names}</div>')
    return out


def _with_spread(row: Mapping, column: str, text: str) -> str:
    """HTML of an efficiency cell: latency p50 as ``median ±d`` ([median - d, median + d] covers the min–max over
    the repeats); the other figures as printed, their min–max in a tooltip."""
    figure = EFFICIENCY[column]
    value, low, high = (float(row.get(c, math.nan)) if c else math.nan for c in (column, figure.low, figure.high))
    if not (math.isfinite(low) and math.isfinite(high)):
        return html.escape(text)
    spread = f"min {significant(low)}, max {significant(high)} over the timed runs"
    if column == "latency_p50_ms":
        d = max(value - low, high - value)
        text += f" ±{significant(d, 2)}" if d > 0 else ""
    return f'<span title="{html.escape(spread)}">{html.escape(text)}</span>'


def _pvalues(results: pd.DataFrame, metrics: Sequence[str], baselines: Sequence[str]) -> str:
    """A table of the paired tests: per pipeline, metric and baseline, wins/losses, p-value and corrected p."""
    rows = []
    for base in baselines:
        for metric in metrics:
            column = f"{metric} p_value vs {base}"
            if column not in results:
                continue
            for _, r in results[results["name"] != base].iterrows():
                rows.append(f"<tr><td>{html.escape(str(r['name']))}</td><td>{html.escape(metric)}</td>"
                            f"<td>{html.escape(base)}</td><td>{r.get(f'{metric} + vs {base}', '')}/"
                            f"{r.get(f'{metric} - vs {base}', '')}</td><td>{pvalue(r[column])}</td>"
                            f"<td>{pvalue(r.get(f'{metric} p_corrected vs {base}', math.nan))}</td></tr>")
    if not rows:
        return ""
    return ("<details><summary>paired tests (p-values)</summary><table class='tir'><tr><th>pipeline</th>"
            "<th>metric</th><th>baseline</th><th>+/−</th><th>p</th><th>p corrected</th></tr>" + "".join(rows)
            + "</table></details>")


def render_html(results: pd.DataFrame, stages: pd.DataFrame, metrics: Sequence[str], baselines: Sequence[str] = (),
                meta: Mapping | None = None) -> str:
    """The compact table (metrics with significance markers, latency p50 ± spread, QPS, $ per 1M queries, peak
    RSS), each pipeline's stage bars on a common scale, the legend, and the paired tests folded away."""
    meta = dict(meta or {})
    manifest = {**meta, "metrics": list(metrics), "baselines": list(baselines)}
    frame = results.assign(dataset="")
    figures = [c for c in FIGURES if c in frame and frame[c].notna().any()]
    grid: Grid = build_grid(frame, manifest, TableOptions(columns=tuple([*metrics, *figures])))
    letters = len(grid.baselines) > 1
    bars = stage_bars(stages)
    by_name = {str(n): r for n, r in zip(frame["name"], frame.to_dict("records"))}
    head = "".join(f"<th>{html.escape(EFFICIENCY[c].header if c in EFFICIENCY else c)}</th>" for c in grid.columns)
    rows = []
    for name, display in zip(grid.rows, grid.names):
        cells = []
        for column in grid.columns:
            cell = grid.cells.get((name, "", column))
            if cell is None:
                text = "–"
            else:
                text = (_with_spread(by_name[name], column, cell.text) if column in EFFICIENCY
                        else html.escape(cell.text))
                if cell.bold:
                    text = f"<b>{text}</b>"
                if cell.marks:
                    tip = "; ".join(f"{'better' if d > 0 else 'worse'} than {grid.baselines[i]}" for i, d in cell.marks)
                    text += f'<span title="{html.escape(tip)}">{html.escape(text_marks(cell.marks, letters))}</span>'
            cells.append(f"<td>{text}</td>")
        rows.append(f"<tr><td>{html.escape(display)}</td>{''.join(cells)}"
                    f"<td class='bars'>{bars.get(name, '')}</td></tr>")
    errors = [(n, e) for n, e in zip(frame["name"], frame.get("error", pd.Series(dtype=object)))
              if isinstance(e, str) and e.strip()]
    for name, error in errors:
        rows.append(f"<tr><td>{html.escape(str(name))}</td><td colspan='{len(grid.columns) + 1}' "
                    f"style='text-align:left;color:#b00'>failed: {html.escape(error)}</td></tr>")
    grid.failed = []  # named in the table above
    legend = legend_text(grid, manifest)
    legend.append("Bars: each stage's time on all queries (one scale for every pipeline; hatched: read from the "
                  "stage cache, time as computed).")
    return (CSS + f"<div class='tir'><table class='tir'><caption style='caption-side:top;text-align:left'>"
            f"{html.escape(caption_text(grid, manifest, TableOptions()))}</caption>"
            f"<tr><th>Pipeline</th>{head}<th style='text-align:left'>time per stage</th></tr>{''.join(rows)}</table>"
            f"<p class='legend'>{html.escape(' '.join(legend))}</p>{_pvalues(results, metrics, baselines)}</div>")


def render_folder(out_dir) -> str:
    """:func:`render_html` of an output folder (``results.csv``, ``stages.csv``, ``manifest.json``), one table per
    dataset."""
    from pathlib import Path

    from .report import load_results
    out_dir = Path(out_dir)
    results, manifest = load_results(out_dir)
    try:
        stages = pd.read_csv(out_dir / "stages.csv")
    except (FileNotFoundError, pd.errors.EmptyDataError):  # no stage ran (only precomputed runs)
        stages = pd.DataFrame(columns=["name", "position", "stage", "seconds", "cached"])
    if "dataset" not in stages:
        stages = stages.assign(dataset="")
    stages["dataset"] = stages["dataset"].fillna("").astype(str)
    parts = []
    for dataset in dict.fromkeys(results["dataset"]):
        parts.append((f"<h4>{html.escape(dataset)}</h4>" if dataset else "") + render_html(
            results[results["dataset"] == dataset], stages[stages["dataset"] == dataset], manifest["metrics"],
            manifest.get("baselines") or [], manifest))
    return "".join(parts)


def render_selection(frame: pd.DataFrame, stages: pd.DataFrame) -> str:
    """Columns a user selected from an experiment's frame, as selected (p-values in scientific notation, latency,
    QPS and $ with 3 significant digits), then the stage bars of the pipelines shown."""
    def formatter(column: str):
        if "p-value" in column or "p_value" in column or "p_corrected" in column:
            return pvalue
        if column.startswith(("usd_", "latency_", "mrt_ms", "qps", "peak_rss", "index_mb")):
            return significant
        return None
    formatters = {c: f for c in frame.columns if (f := formatter(str(c))) is not None}
    names = set(frame["name"]) if "name" in frame else None
    bars = stage_bars(stages if names is None or stages is None or stages.empty else stages[stages["name"].isin(names)])
    rows = "".join(f"<tr><td>{html.escape(n)}</td><td class='bars'>{b}</td></tr>" for n, b in bars.items())
    return (CSS + frame.to_html(index=False, formatters=formatters, float_format=lambda v: f"{v:.4f}")
            + (f"<table class='tir'><tr><th>Pipeline</th><th style='text-align:left'>time per stage</th></tr>{rows}"
               "</table>" if rows else ""))
