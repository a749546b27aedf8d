"""Effectiveness/efficiency Pareto plots from an experiment output folder.

``pareto.png`` and ``pareto.svg`` hold one row of two panels per dataset: the metric against batch-1 latency p50
(ms) and against $ per 1M queries. Each pipeline is a point with its min–max spread over the timed repeats as a
horizontal bar, labelled by its row number in the table (the key beside the panels names them); points too
close to label apart share one label. The Pareto frontier (highest metric for the least latency / cost, by
medians, where points whose spreads overlap cost the same) is a step line through its highlighted points. The x
axis is logarithmic only when the values span more than two decades.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from ..core import atomic_open
from .report import EFFICIENCY, failed, load_results

PANELS = [("latency_p50_ms", "Latency p50 (ms), batch size 1"), ("usd_per_1m_queries", "$ per 1M queries")]
LOG_SPAN = 100.0  # a log x axis beyond this max / min ratio
LABEL_PT = 7.0  # font size of point labels


def pareto_frontier(points: Sequence[tuple]) -> list[int]:
    """Indices of the points no other point dominates, by increasing cost.

    A point is ``(cost, quality)`` or ``(cost, quality, cost_low, cost_high)`` with the cost's spread. ``j``
    dominates ``i`` when it scores no less and costs no more, and is strictly better in one, where costs whose
    spreads overlap count as equal (neither is cheaper). Points with a NaN or infinite coordinate are left out.
    """
    full = [(p[0], p[1], p[2], p[3]) if len(p) == 4 else (p[0], p[1], p[0], p[0]) for p in points]
    finite = [i for i, (c, q, _, _) in enumerate(full) if math.isfinite(c) and math.isfinite(q)]

    def dominates(j: int, i: int) -> bool:
        cj, qj, lo_j, hi_j = full[j]
        ci, qi, lo_i, hi_i = full[i]
        tied = lo_j <= hi_i and lo_i <= hi_j
        cheaper = not tied and cj < ci
        return qj >= qi and (cheaper or tied) and (cheaper or qj > qi)

    keep = [i for i in finite if not any(dominates(j, i) for j in finite if j != i)]
    return sorted(keep, key=lambda i: (full[i][0], -full[i][1]))


def _spread(group: pd.DataFrame, column: str) -> tuple[np.ndarray, np.ndarray]:
    figure = EFFICIENCY.get(column)
    values = group[column].astype(float)
    if figure is None or figure.low not in group or figure.high not in group:
        return values.to_numpy(), values.to_numpy()
    return (group[figure.low].astype(float).fillna(values).to_numpy(),
            group[figure.high].astype(float).fillna(values).to_numpy())


def _axis_fraction(v: np.ndarray, low: float, high: float, log: bool) -> np.ndarray:
    if log:
        v, low, high = np.log10(v), math.log10(low), math.log10(high)
    return (v - low) / (high - low) if high > low else np.full(len(v), 0.5)


def _place_labels(ax, x: np.ndarray, y: np.ndarray, labels: list[str], log: bool) -> None:
    """Label the points, merging the labels of points closer than a label's height and moving each label to the
    first of a few positions around its point where it overlaps no other label."""
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    fx, fy = _axis_fraction(x, x0, x1, log), _axis_fraction(y, y0, y1, False)
    width_in, height_in = (ax.figure.get_size_inches() * ax.get_position().size)
    char_w, char_h = LABEL_PT * 0.6 / 72 / width_in, LABEL_PT * 1.2 / 72 / height_in  # in axes fractions
    clusters: list[list[int]] = []
    for i in np.lexsort((fx, -fy)):
        near = next((c for c in clusters if abs(fx[c[0]] - fx[i]) < 2 * char_w and abs(fy[c[0]] - fy[i]) < char_h),
                    None)
        (near.append(i) if near is not None else clusters.append([i]))
    placed: list[tuple[float, float, float, float]] = []
    offsets = [(1, 1), (1, -1), (-1, 1), (-1, -1), (0, 1.6), (0, -1.6)]
    for cluster in clusters:
        text = ",".join(labels[i] for i in sorted(cluster))
        px, py = fx[cluster[0]], fy[cluster[0]]
        w, h = char_w * len(text), char_h
        for dx, dy in offsets:
            left = px + (0.6 * char_w if dx > 0 else -0.6 * char_w - w if dx < 0 else -w / 2)
            bottom = py + (0.2 * h if dy > 0 else -1.2 * h) * abs(dy)
            box = (left, bottom, left + w, bottom + h)
            inside = box[0] >= 0 and box[2] <= 1 and box[1] >= 0 and box[3] <= 1
            if inside and not any(box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3] for b in placed):
                break
        placed.append(box)
        ax.text(box[0], box[1], text, transform=ax.transAxes, fontsize=LABEL_PT, parse_math=False)


def draw_pareto(ax, group: pd.DataFrame, cost: str, xlabel: str, metric: str,
                labels: Sequence[str] | None = None) -> None:
    """Draw ``group``'s pipelines on ``ax`` as ``metric`` against column ``cost``, with spreads and the frontier;
    ``labels`` (default: the names) label the points. Pipelines without a positive ``cost`` or without
    ``metric`` are named in the x label instead."""
    from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

    labels = list(group["name"] if labels is None else labels)
    shown = ((group[cost] > 0) & group[metric].notna()).to_numpy() if cost in group else np.zeros(len(group), bool)
    missing = ", ".join(n for n, s in zip(group["name"], shown) if not s)
    ax.set_xlabel(xlabel + (f"\nnot shown, no {xlabel}: {missing}" if missing else ""), parse_math=False)
    ax.set_ylabel(metric, parse_math=False)
    if not shown.any():
        ax.set_xticks([]), ax.set_yticks([])
        return
    data = group[shown]
    labels = [label for label, s in zip(labels, shown) if s]
    x, y = data[cost].astype(float).to_numpy(), data[metric].astype(float).to_numpy()
    low, high = _spread(data, cost)
    front = pareto_frontier(list(zip(x, y, low, high)))
    log = bool(np.nanmin(low) > 0 and np.nanmax(high) / np.nanmin(low) > LOG_SPAN)
    if log:
        ax.set_xscale("log")
    ax.errorbar(x, y, xerr=[x - low, high - x], fmt="o", markersize=4, color="0.55", elinewidth=1, capsize=2,
                zorder=2, label="pipeline (min–max over repeats)")
    ax.step(x[front], y[front], where="post", color="C3", linewidth=1.5, zorder=3, label="Pareto frontier")
    ax.scatter(x[front], y[front], s=40, color="C3", edgecolor="black", zorder=4)
    ax.margins(x=0.12, y=0.15)
    if log:
        ax.xaxis.set_major_locator(LogLocator(base=10, numticks=8))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
    else:
        ax.xaxis.set_major_locator(MaxNLocator(nbins=5))
    ax.yaxis.set_major_locator(MaxNLocator(nbins=6))
    ax.grid(True, which="major", alpha=0.3)
    ax.autoscale_view()
    _place_labels(ax, x, y, labels, log)


def write_pareto(out_dir: str | Path, metric: str | None = None) -> list[Path]:
    """Write ``pareto.png`` and ``pareto.svg`` into ``out_dir`` (each atomically); return their paths.

    ``metric`` defaults to the manifest's ``pareto_metric``, else its first metric. Failed pipelines are
    left out and named under the figure.
    """
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    out_dir = Path(out_dir)
    frame, manifest = load_results(out_dir)
    metric = metric or manifest.get("pareto_metric") or manifest["metrics"][0]
    if metric not in frame:
        raise ValueError(f"metric {metric!r} is not in {out_dir / 'results.csv'}")
    bad = failed(frame)
    datasets = list(dict.fromkeys(frame["dataset"]))
    names = list(dict.fromkeys(frame.loc[~bad, "name"]))
    display = {**(manifest.get("display_names") or {}), **((manifest.get("table") or {}).get("names") or {})}
    number = {n: str(i + 1) for i, n in enumerate(names)}
    key = "\n".join(f"{number[n]}  {display.get(n, n)}" for n in names)
    key_width = min(4.5, 0.9 + 0.065 * max((len(display.get(n, n)) for n in names), default=10))
    width, height = 9.0 + key_width, 3.6 * len(datasets) + 0.5
    with matplotlib.rc_context({"svg.fonttype": "none", "font.size": 8}):  # labels stay searchable, editable text
        fig = Figure(figsize=(width, height))
        FigureCanvasAgg(fig)
        fig.subplots_adjust(left=0.7 / width, right=(9.0 - 0.1) / width, bottom=0.9 / height,
                            top=1 - 0.45 / height, wspace=0.3, hspace=0.45)
        axes = fig.subplots(len(datasets), len(PANELS), squeeze=False)
        for row, dataset in zip(axes, datasets):
            group = frame[(frame["dataset"] == dataset) & ~bad]
            labels = [number[n] for n in group["name"]]
            group = group.assign(name=group["name"].map(lambda n: display.get(n, n)))
            for ax, (cost, xlabel) in zip(row, PANELS):
                draw_pareto(ax, group, cost, xlabel, metric, labels)
                ax.set_title(f"{dataset}: {metric}" if dataset else metric, fontsize=9, parse_math=False)
        handles, labels = axes[0][0].get_legend_handles_labels()
        if handles:
            fig.legend(handles, labels, loc="upper left", bbox_to_anchor=(9.05 / width, 1 - 0.3 / height), fontsize=7,
                       frameon=False)
        fig.text(9.1 / width, 1 - 0.95 / height, key, va="top", ha="left", fontsize=7, parse_math=False,
                 family="monospace" if len(names) > 9 else None)
        if bad.any():
            failures = ", ".join(f"{n} ({d})" if d else n
                                 for d, n in zip(frame.loc[bad, "dataset"], frame.loc[bad, "name"]))
            fig.text(0.5, 0.1 / height, f"Failed, not shown: {failures}", ha="center", fontsize=8, parse_math=False)
        paths = [out_dir / "pareto.png", out_dir / "pareto.svg"]
        for path in paths:
            with atomic_open(path, "wb") as f:
                fig.savefig(f, format=path.suffix[1:], dpi=150)
    return paths
