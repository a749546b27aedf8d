"""Effectiveness/efficiency Pareto plots of an experiment output folder, written as SVG.

``pareto.svg`` holds one row of two panels per dataset: the metric against batch-1 latency p50 (ms) and against
$ per 1M queries. Each pipeline is a point with its min–max spread over the timed repeats as a horizontal bar,
labelled by its row number in the table (the key beside the panels names them); points too close to label apart
share one label, and each label goes where it overlaps no other. The Pareto frontier (highest metric for the
least latency / cost, by medians, where points whose spreads overlap cost the same) is a step line through its
highlighted points. The x axis is logarithmic only when the values span more than two decades.

The SVG is written directly (no plotting library): a figure costs about a millisecond, so re-running a grid
re-draws it for nothing, and its text stays text (searchable, editable, exact in tests). Browsers, notebooks
(``IPython.display.SVG``) and GitHub show it; ``rsvg-convert -f pdf`` or Inkscape make a PDF for LaTeX.
"""
from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from ..core import atomic_write_text
from .report import EFFICIENCY, failed, load_results

PANELS = [("latency_p50_ms", "Latency p50 (ms), batch size 1"), ("usd_per_1m_queries", "$ per 1M queries")]
LOG_SPAN = 100.0  # a log x axis beyond this max / min ratio
FONT = "DejaVu Sans, Helvetica, Arial, sans-serif"
CHAR_EM = 0.62  # width of an average character of FONT, in em (a slight overestimate: labels never touch)
PANEL_W, PANEL_H = 330.0, 230.0  # plot area of one panel (px)
MARGIN_L, MARGIN_R, MARGIN_T, MARGIN_B = 62.0, 24.0, 30.0, 70.0
LABEL_PX, TICK_PX, TITLE_PX = 10.0, 10.0, 12.0
FRONTIER = "#d62728"


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


def text_px(text: str, size: float) -> float:
    """Estimated width of ``text`` at font size ``size`` (px)."""
    return len(text) * size * CHAR_EM


def _number(value: float, step: float) -> str:
    """A tick label with as many decimals as the tick step needs."""
    decimals = max(0, -math.floor(math.log10(step) + 1e-9)) if step > 0 else 0
    return f"{value:.{decimals}f}"


@dataclass
class Axis:
    """Data to pixels along one axis: ``[low, high]`` onto ``[start, end]`` px, linear or log10, with ticks."""

    low: float
    high: float
    start: float
    end: float
    log: bool = False
    ticks: list[tuple[float, str]] = field(default_factory=list)

    @classmethod
    def fit(cls, values: np.ndarray, start: float, end: float, log: bool, most: int) -> "Axis":
        """An axis over ``values`` with 8% padding, at most ``most`` ticks at round numbers."""
        values = values[np.isfinite(values)]
        low, high = float(values.min()), float(values.max())
        if log:
            low, high = math.log10(low), math.log10(high)
        pad = (high - low) * 0.08 or (abs(high) * 0.05 if not log else 0.1) or 1.0
        axis = cls(low - pad, high + pad, start, end, log)
        axis.ticks = axis._log_ticks() if log else axis._linear_ticks(most)
        return axis

    def _linear_ticks(self, most: int) -> list[tuple[float, str]]:
        raw = (self.high - self.low) / max(most - 1, 1)
        magnitude = 10 ** math.floor(math.log10(raw))
        step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
        first = math.ceil(self.low / step) * step
        values = [first + i * step for i in range(int((self.high - first) / step + 1e-9) + 1)]
        return [(v, _number(v, step)) for v in values]

    def _log_ticks(self) -> list[tuple[float, str]]:
        ticks = []
        for exponent in range(math.floor(self.low), math.ceil(self.high) + 1):
            for m in (1, 2, 5) if self.high - self.low < 3 else (1,):
                v = math.log10(m) + exponent
                if self.low <= v <= self.high:
                    ticks.append((v, f"{m * 10.0 ** exponent:g}"))
        return ticks

    def __call__(self, value: "float | np.ndarray"):
        value = np.log10(value) if self.log else value
        return self.start + (value - self.low) / (self.high - self.low) * (self.end - self.start)

    def at(self, tick: float) -> float:
        """Pixel of a tick value (already in the axis's own units)."""
        return self.start + (tick - self.low) / (self.high - self.low) * (self.end - self.start)


def _text(x: float, y: float, text: str, size: float = LABEL_PX, anchor: str = "start", **attrs) -> str:
    extra = "".join(f' {k.rstrip("_").replace("_", "-")}="{v}"' for k, v in attrs.items())
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size:g}" text-anchor="{anchor}"{extra}>'
            f"{escape(text)}</text>")


def place_labels(points: list[tuple[float, float]], labels: list[str], box: tuple[float, float, float, float],
                 avoid: list[tuple[float, float, float, float]] = ()) -> list[tuple[float, float, str]]:
    """``(x, y, text)`` of labels for ``points`` (pixels): points closer than a label's size share one label (their
    labels joined by commas), and each label takes the first of eight positions around its point that lies
    inside ``box`` and overlaps no label placed before it nor a rectangle of ``avoid``."""
    h = LABEL_PX
    clusters: list[list[int]] = []
    for i in sorted(range(len(points)), key=lambda i: (points[i][1], points[i][0])):
        near = next((c for c in clusters if abs(points[c[0]][0] - points[i][0]) < 1.6 * h
                     and abs(points[c[0]][1] - points[i][1]) < h), None)
        (near.append(i) if near is not None else clusters.append([i]))
    placed: list[tuple[float, float, float, float]] = list(avoid)
    out = []
    for cluster in clusters:
        text = ",".join(labels[i] for i in sorted(cluster))
        w = text_px(text, LABEL_PX)
        px, py = points[cluster[0]]
        candidates = [(px + 5, py - 4), (px + 5, py + h + 2), (px - 5 - w, py - 4), (px - 5 - w, py + h + 2),
                      (px - w / 2, py - 7), (px - w / 2, py + h + 6), (px + 5, py + h / 2), (px - 5 - w, py + h / 2)]
        for x, y in candidates:  # (x, y): the label's left end on its baseline
            rect = (x, y - h, x + w, y + 2)
            inside = rect[0] >= box[0] and rect[2] <= box[2] and rect[1] >= box[1] and rect[3] <= box[3]
            if inside and not any(rect[0] < r[2] and r[0] < rect[2] and rect[1] < r[3] and r[1] < rect[3]
                                  for r in placed):
                break
        else:
            x, y = candidates[0]
        placed.append((x, y - h, x + w, y + 2))
        out.append((x, y, text))
    return out


def panel(x0: float, y0: float, group: pd.DataFrame, cost: str, xlabel: str, metric: str, labels: list[str],
          title: str) -> list[str]:
    """SVG elements of one panel whose plot area starts at ``(x0, y0)``: ``group``'s pipelines as ``metric``
    against column ``cost`` with spreads, the frontier and labels; pipelines without a positive ``cost`` or
    without ``metric`` are named under the x label."""
    left, top, right, bottom = x0, y0, x0 + PANEL_W, y0 + PANEL_H
    out = [_text((left + right) / 2, top - 10, title, TITLE_PX, "middle", font_weight="bold"),
           f'<rect x="{left:.1f}" y="{top:.1f}" width="{PANEL_W:g}" height="{PANEL_H:g}" fill="none" stroke="#333"/>',
           _text((left + right) / 2, bottom + 32, xlabel, LABEL_PX + 1, "middle"),
           _text(left - 48, (top + bottom) / 2, metric, LABEL_PX + 1, "middle",
                 transform=f"rotate(-90 {left - 48:.1f} {(top + bottom) / 2:.1f})")]
    shown = ((group[cost] > 0) & group[metric].notna()).to_numpy() if cost in group else np.zeros(len(group), bool)
    missing = [str(n) for n, s in zip(group["name"], shown) if not s]
    if not shown.any():
        return out + [_text((left + right) / 2, (top + bottom) / 2, f"no pipeline has a {xlabel}", LABEL_PX + 1,
                            "middle", fill="#555")]
    if missing:  # named under the x label, on at most two lines (all of them in the tooltip)
        note = f"not shown, no {xlabel}: {', '.join(missing)}"
        lines = textwrap.wrap(note, int(PANEL_W / (LABEL_PX * CHAR_EM)), max_lines=2, placeholder=" …")
        out.append(f"<g><title>{escape(note)}</title>" + "".join(
            _text(left, bottom + 47 + 12 * i, line, LABEL_PX, fill="#555") for i, line in enumerate(lines)) + "</g>")
    data = group[shown]
    figure = EFFICIENCY.get(cost)
    x, y = data[cost].astype(float).to_numpy(), data[metric].astype(float).to_numpy()
    low = data[figure.low].astype(float).fillna(data[cost]).to_numpy() if figure and figure.low in data else x
    high = data[figure.high].astype(float).fillna(data[cost]).to_numpy() if figure and figure.high in data else x
    log = bool(low.min() > 0 and high.max() / low.min() > LOG_SPAN)
    ax = Axis.fit(np.concatenate([low, high]), left, right, log, most=6)
    ay = Axis.fit(y, bottom, top, False, most=6)
    for value, label in ax.ticks:
        px = ax.at(value)
        out += [f'<line x1="{px:.1f}" y1="{top:.1f}" x2="{px:.1f}" y2="{bottom:.1f}" stroke="#e5e5e5"/>',
                _text(px, bottom + 14, label, TICK_PX, "middle")]
    for value, label in ay.ticks:
        py = ay.at(value)
        out += [f'<line x1="{left:.1f}" y1="{py:.1f}" x2="{right:.1f}" y2="{py:.1f}" stroke="#e5e5e5"/>',
                _text(left - 5, py + 3.5, label, TICK_PX, "end")]
    px, py, pl, ph = ax(x), ay(y), ax(low), ax(high)
    for a, b, c in zip(pl, ph, py):
        out.append(f'<path d="M{a:.1f},{c:.1f}H{b:.1f}M{a:.1f},{c - 3:.1f}V{c + 3:.1f}'
                   f'M{b:.1f},{c - 3:.1f}V{c + 3:.1f}" stroke="#888" fill="none"/>')
    out += [f'<circle cx="{a:.1f}" cy="{b:.1f}" r="3" fill="#888"/>' for a, b in zip(px, py)]
    front = pareto_frontier(list(zip(x, y, low, high)))
    steps = f"M{px[front[0]]:.1f},{py[front[0]]:.1f}" + "".join(f"H{px[i]:.1f}V{py[i]:.1f}" for i in front[1:])
    out.append(f'<path d="{steps}" stroke="{FRONTIER}" stroke-width="1.6" fill="none"/>')
    out += [f'<circle cx="{px[i]:.1f}" cy="{py[i]:.1f}" r="4.5" fill="{FRONTIER}" stroke="#000"/>' for i in front]
    for lx, ly, text in place_labels(list(zip(px, py)), [lbl for lbl, s in zip(labels, shown) if s],
                                     (left + 2, top + 2, right - 2, bottom - 2)):
        out.append(_text(lx, ly, text, LABEL_PX, class_="label"))
    return out


def pareto_svg(frame: pd.DataFrame, manifest: dict, metric: str) -> str:
    """The whole figure: a row of panels per dataset, the legend and the key of pipeline numbers."""
    bad = failed(frame)
    datasets = list(dict.fromkeys(frame["dataset"]))
    names = list(dict.fromkeys(frame.loc[~bad, "name"]))
    display = {**(manifest.get("display_names") or {}), **((manifest.get("table") or {}).get("names") or {})}
    number = {n: str(i + 1) for i, n in enumerate(names)}
    key = [(number[n], display.get(n, n)) for n in names]
    row_h = MARGIN_T + PANEL_H + MARGIN_B
    panels_w = len(PANELS) * (MARGIN_L + PANEL_W + MARGIN_R)
    key_x = panels_w + 10
    legend = ("Pareto frontier", "pipeline, min–max over repeats")
    width = key_x + max([text_px(k, LABEL_PX) + 20 for _, k in key] + [text_px(t, LABEL_PX) + 28 for t in legend]) + 10
    failures = [f"{n} ({d})" if d else n for d, n in zip(frame.loc[bad, "dataset"], frame.loc[bad, "name"])]
    height = max(row_h * len(datasets), 60 + 14 * len(key)) + (20 if failures else 0)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
           f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="{FONT}">',
           f'<rect width="{width:.0f}" height="{height:.0f}" fill="#fff"/>']
    for r, dataset in enumerate(datasets):
        group = frame[(frame["dataset"] == dataset) & ~bad]
        labels = [number[n] for n in group["name"]]
        group = group.assign(name=group["name"].map(lambda n: display.get(n, n)))
        for c, (cost, xlabel) in enumerate(PANELS):
            out += panel(c * (MARGIN_L + PANEL_W + MARGIN_R) + MARGIN_L, r * row_h + MARGIN_T, group, cost, xlabel,
                         metric, labels, f"{dataset}: {metric}" if dataset else metric)
    y = MARGIN_T
    out += [f'<path d="M{key_x},{y - 4}h22" stroke="{FRONTIER}" stroke-width="1.6"/>',
            f'<circle cx="{key_x + 11}" cy="{y - 4}" r="4.5" fill="{FRONTIER}" stroke="#000"/>',
            _text(key_x + 28, y, legend[0], LABEL_PX),
            f'<path d="M{key_x},{y + 10}h22M{key_x},{y + 7}v6M{key_x + 22},{y + 7}v6" stroke="#888"/>',
            f'<circle cx="{key_x + 11}" cy="{y + 10}" r="3" fill="#888"/>',
            _text(key_x + 28, y + 14, legend[1], LABEL_PX)]
    for i, (label, name) in enumerate(key):
        out += [_text(key_x + 14, y + 40 + 14 * i, label, LABEL_PX, "end"),
                _text(key_x + 20, y + 40 + 14 * i, name, LABEL_PX, class_="key")]
    if failures:
        out.append(_text(10, height - 8, f"Failed, not shown: {', '.join(failures)}", LABEL_PX, fill="#a00"))
    return "\n".join(out + ["</svg>"]) + "\n"


def write_pareto(out_dir: str | Path, metric: str | None = None, frame: pd.DataFrame | None = None,
                 manifest: dict | None = None) -> list[Path]:
    """Write ``pareto.svg`` into ``out_dir`` (atomically); return its path in a list.

    ``metric`` defaults to the manifest's ``pareto_metric``, else its first metric. Failed pipelines are
    left out and named under the figure. ``frame`` and ``manifest`` (as in ``results.csv`` and
    ``manifest.json``) save reading them back.
    """
    out_dir = Path(out_dir)
    if frame is None or manifest is None:
        frame, manifest = load_results(out_dir)
    metric = metric or manifest.get("pareto_metric") or manifest["metrics"][0]
    if metric not in frame:
        raise ValueError(f"metric {metric!r} is not in {out_dir / 'results.csv'}")
    path = out_dir / "pareto.svg"
    atomic_write_text(path, pareto_svg(frame, manifest, metric))
    return [path]


class SVGFigure:
    """An SVG a notebook shows by itself (``_repr_svg_``); ``save(path)`` writes it."""

    def __init__(self, svg: str):
        self.svg = svg

    def _repr_svg_(self) -> str:
        return self.svg

    def save(self, path: str | Path) -> Path:
        atomic_write_text(Path(path), self.svg)
        return Path(path)
