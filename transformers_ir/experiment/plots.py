"""Effectiveness/efficiency Pareto plots from an experiment output folder.

``pareto.png`` and ``pareto.svg`` hold one row of two panels per dataset: the metric against latency p50
(ms) and against $ per 1k queries, both on log x axes. Every pipeline is a labelled point; the Pareto
frontier (highest metric for the least latency / cost) is a step line through its highlighted points.
"""
from __future__ import annotations

import functools
import io
import math
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from ..core import atomic_open
from .report import failed, load_results

PANELS = [("latency_p50_ms", "Latency p50 (ms)"), ("usd_per_1k_queries", "$ per 1k queries")]


@functools.cache
def _notebook_figure_class():
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    class NotebookFigure(Figure):
        """A matplotlib Figure that notebooks show (as PNG) without pyplot."""

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            FigureCanvasAgg(self)

        def _repr_png_(self) -> bytes:
            buffer = io.BytesIO()
            self.savefig(buffer, format="png", dpi=100)
            return buffer.getvalue()

    return NotebookFigure


def notebook_figure(**kwargs):
    """A new matplotlib Figure (``Figure(**kwargs)``, Agg canvas) that a notebook displays by itself."""
    return _notebook_figure_class()(**kwargs)


def pareto_frontier(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the ``(cost, quality)`` points no other point dominates, by increasing cost.

    A point dominates another when it costs no more and scores no less, and is strictly better in one.
    Points with a NaN or infinite coordinate are left out.
    """
    finite = [i for i, (c, q) in enumerate(points) if math.isfinite(c) and math.isfinite(q)]
    keep = [i for i in finite
            if not any(points[j][0] <= points[i][0] and points[j][1] >= points[i][1] and points[j] != points[i]
                       for j in finite)]
    return sorted(keep, key=lambda i: (points[i][0], -points[i][1]))


def draw_pareto(ax, group: pd.DataFrame, cost: str, xlabel: str, metric: str) -> None:
    """Draw ``group``'s pipelines on ``ax`` as ``metric`` against column ``cost`` (log x), with the frontier.

    Pipelines without a positive ``cost`` or without ``metric`` are named in the x label instead.
    """
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    shown = (group[cost] > 0) & group[metric].notna() if cost in group else pd.Series(False, index=group.index)
    data = group[shown]
    missing = f"\nnot shown, no {xlabel}: " + ", ".join(group.loc[~shown, "name"]) if (~shown).any() else ""
    ax.set_xlabel(xlabel + missing, parse_math=False)
    ax.set_ylabel(metric, parse_math=False)
    if data.empty:
        ax.set_xticks([]), ax.set_yticks([])
        return
    x, y = data[cost].astype(float).to_numpy(), data[metric].astype(float).to_numpy()
    front = pareto_frontier(list(zip(x, y)))
    ax.scatter(x, y, s=24, color="0.55", zorder=2, label="pipeline")
    ax.step(x[front], y[front], where="post", color="C3", linewidth=1.5, zorder=3, label="Pareto frontier")
    ax.scatter(x[front], y[front], s=48, color="C3", edgecolor="black", zorder=4)
    middle = np.log(x).mean() if len(x) > 1 else math.inf
    for xi, yi, name in zip(x, y, data["name"]):
        right = np.log(xi) > middle  # labels of the right-hand points go to their left, inside the axes
        ax.annotate(name, (xi, yi), textcoords="offset points", xytext=(-4 if right else 4, 4), fontsize=7,
                    ha="right" if right else "left", parse_math=False)
    ax.set_xscale("log")
    ax.margins(x=0.08, y=0.1)
    ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="best")


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
    with matplotlib.rc_context({"svg.fonttype": "none"}):  # keep labels as searchable, editable text
        fig = Figure(figsize=(11, 4 * len(datasets)), layout="constrained")
        FigureCanvasAgg(fig)
        axes = fig.subplots(len(datasets), len(PANELS), squeeze=False)
        for row, dataset in zip(axes, datasets):
            group = frame[(frame["dataset"] == dataset) & ~bad]
            for ax, (cost, xlabel) in zip(row, PANELS):
                draw_pareto(ax, group, cost, xlabel, metric)
                ax.set_title(f"{dataset}: {metric} vs {xlabel}" if dataset else f"{metric} vs {xlabel}",
                             fontsize=9, parse_math=False)
        if bad.any():
            names = ", ".join(f"{n} ({d})" if d else n
                              for d, n in zip(frame.loc[bad, "dataset"], frame.loc[bad, "name"]))
            fig.supxlabel(f"Failed, not shown: {names}", fontsize=8, parse_math=False)
        paths = [out_dir / "pareto.png", out_dir / "pareto.svg"]
        for path in paths:
            with atomic_open(path, "wb") as f:
                fig.savefig(f, format=path.suffix[1:], dpi=200)
    return paths
