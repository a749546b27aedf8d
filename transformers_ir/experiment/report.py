"""Paper-ready tables of experiment results: LaTeX that compiles unchanged in a two-column paper, Markdown, and
plain text for the terminal, with the same cells, bold and significance markers in each.

One table holds every dataset: a row per pipeline, a column group per dataset (metrics, then efficiency figures).
Metrics show ▲ / ▼ where the (corrected) paired test finds them significantly better / worse than a baseline (with
several baselines, the baseline's letter follows the triangle). Bold marks the best value per column among values
that differ as printed (ties all bold; nothing bold when all tie); an efficiency figure is tied with the best when
their min–max spreads over the timed repeats overlap. Pipelines that failed are named below the table.
The ``table:`` section of a config (or keyword arguments) chooses columns, their order, digits, rows and display
names, and ``width`` (``auto``: one column when it fits, else the page width).
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from ..core import TirError, atomic_write_text
from .texwidth import COLUMN_WIDTH_PT, PAGE_WIDTH_PT, TABCOLSEP_PT, marks_width, table_width, text_width
from .timing import describe_hardware


@dataclass(frozen=True)
class Figure:
    """An efficiency column of results.csv: its header, whether higher is better, and its spread columns."""

    header: str
    higher: bool = False
    low: str | None = None  # column of the lowest value over the timed repeats (for the better/worse tie)
    high: str | None = None


EFFICIENCY: dict[str, Figure] = {
    "latency_p50_ms": Figure("p50 (ms)", False, "latency_p50_ms_min", "latency_p50_ms_max"),
    "latency_p95_ms": Figure("p95 (ms)"),
    "latency_p99_ms": Figure("p99 (ms)"),
    "mrt_ms": Figure("MRT (ms)", False, "mrt_ms_min", "mrt_ms_max"),
    "qps": Figure("QPS", True, "qps_min", "qps_max"),
    "usd_per_1m_queries": Figure("$/1M q.", False, "usd_per_1m_queries_min", "usd_per_1m_queries_max"),
    "usd_per_1m_queries_batch1": Figure("$/1M q. (b=1)"),
    "peak_rss_mb": Figure("RSS (MB)"),
    "index_mb": Figure("Index (MB)"),
}
DEFAULT_EFFICIENCY = ("latency_p50_ms", "qps", "usd_per_1m_queries")
METRIC_DIGITS = 4  # decimals of a metric
FIGURE_DIGITS = 3  # significant digits of an efficiency figure
WIDTHS = ("auto", "column", "page")
LETTERS = "abcdefghijklmnopqrstuvwxyz"
TEST_NAMES = {"t": "paired t-test", "wilcoxon": "Wilcoxon signed-rank test", "permutation": "paired permutation test"}
CORRECTION_NAMES = {"holm": "Holm", "bonferroni": "Bonferroni", "sidak": "Šidák", "holm-sidak": "Holm-Šidák",
                    "simes-hochberg": "Hochberg", "hommel": "Hommel", "fdr_bh": "Benjamini-Hochberg",
                    "fdr_by": "Benjamini-Yekutieli"}
_LATEX_SPECIALS = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                   "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
                   "<": r"\textless{}", ">": r"\textgreater{}", "|": r"\textbar{}", "α": r"$\alpha$",
                   "–": "--", "Š": r"\v{S}", "▲": r"$\blacktriangle$", "▼": r"$\blacktriangledown$"}
_MARKDOWN_SPECIALS = re.compile(r"([\\`*_|<>$\[\]])")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
PACKAGES = ("booktabs", "amssymb", "graphicx")  # what table.tex needs (its first line says so)


# ---------------------------------------------------------------- options

@dataclass(frozen=True)
class TableOptions:
    """What a table shows. ``columns``: metric names and efficiency columns (keys of :data:`EFFICIENCY`) in order
    (default: every metric, then latency p50, QPS and $ per 1M queries where measured); ``digits``: per column,
    decimals of a metric or significant digits of an efficiency figure; ``names``: pipeline -> display name;
    ``pipelines``: the rows and their order (default: all); ``width``: ``auto``, ``column`` or ``page``;
    ``caption``: the caption's first sentence; ``label``: the LaTeX label (default ``tab:<experiment name>``)."""

    columns: tuple[str, ...] | None = None
    digits: Mapping[str, int] = field(default_factory=dict)
    names: Mapping[str, str] = field(default_factory=dict)
    pipelines: tuple[str, ...] | None = None
    width: str = "auto"
    caption: str | None = None
    label: str | None = None


class TableOptionError(TirError, ValueError):
    """A bad table option; ``key`` locates it inside the ``table:`` section (``("columns", 2)``)."""

    def __init__(self, key: tuple, message: str):
        self.key, self.message = key, message
        super().__init__(f"table.{'.'.join(map(str, key))}: {message}")


def table_options(spec: "TableOptions | Mapping | None" = None, metrics: Sequence[str] = (),
                  **overrides) -> TableOptions:
    """Options from a config's ``table:`` mapping (or :class:`TableOptions`) and keyword ``overrides`` (``None``
    values ignored), checked against ``metrics``: a bad one raises :class:`TableOptionError`."""
    base = dict(vars(spec)) if isinstance(spec, TableOptions) else {k: v for k, v in (spec or {}).items()
                                                                      if v is not None}
    base.update({k: v for k, v in overrides.items() if v is not None})
    for key in base:
        if key not in TableOptions.__dataclass_fields__:
            raise TableOptionError((key,), f"unknown option; use {', '.join(TableOptions.__dataclass_fields__)}")
    known = [*metrics, *EFFICIENCY]
    for key in ("columns", "pipelines"):
        if base.get(key) is not None:
            base[key] = tuple(str(c) for c in ([base[key]] if isinstance(base[key], str) else base[key]))
    for i, column in enumerate(base.get("columns") or ()):
        if column not in known:
            raise TableOptionError(("columns", i), f"unknown column {column!r}; choose from the metrics "
                                                   f"({', '.join(metrics)}) and {', '.join(EFFICIENCY)}")
    for column, digits in (base.get("digits") or {}).items():
        if column not in known:
            raise TableOptionError(("digits", column), f"unknown column {column!r}")
        if not isinstance(digits, int) or isinstance(digits, bool) or not 0 <= digits <= 9:
            raise TableOptionError(("digits", column), f"digits must be an integer from 0 to 9, got {digits!r}")
    if base.get("width", "auto") not in WIDTHS:
        raise TableOptionError(("width",), f"choose one of {', '.join(WIDTHS)}, got {base['width']!r}")
    return TableOptions(**base)


# ---------------------------------------------------------------- numbers

def significant(value: float, digits: int = FIGURE_DIGITS) -> str:
    """``value`` with ``digits`` significant digits, never in scientific notation (integers are not rounded:
    2075.4 -> ``2075``); 0.0000206 -> ``0.0000206``."""
    if value is None or not math.isfinite(value):
        return ""
    if value == 0:
        return "0"
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(value))))
    if decimals and abs(round(value, decimals)) >= 10 ** (digits - decimals):  # 9.996 -> 10.0, not 10.00
        decimals -= 1
    return f"{value:.{decimals}f}"


def pvalue(value: float) -> str:
    """A p-value in scientific notation with 2 significant digits (``3.2e-05``)."""
    return "" if value is None or not math.isfinite(value) else f"{value:.1e}"


def _is_true(value: object) -> bool:
    """A ``significant vs B`` cell (a bool, or ``True``/``False``/empty as read back from CSV) as a bool."""
    return str(value).strip().lower() in {"true", "1", "1.0"}


def latex_escape(text: str) -> str:
    """``text`` with LaTeX's special characters escaped, for text mode."""
    return "".join(_LATEX_SPECIALS.get(c, c) for c in str(text))


def markdown_escape(text: str) -> str:
    """``text`` with the characters Markdown tables and emphasis would interpret backslash-escaped."""
    return _MARKDOWN_SPECIALS.sub(r"\\\1", str(text))


def visible_len(text: str) -> int:
    return len(_ANSI.sub("", text))


# ---------------------------------------------------------------- cells

@dataclass(frozen=True)
class Cell:
    """One formatted value: its digits, whether it is bold, and its significance marks ``(baseline, +1 | -1)``."""

    text: str
    bold: bool = False
    marks: tuple[tuple[int, int], ...] = ()


@dataclass
class Grid:
    """A whole table before formatting: datasets (column groups), columns, row names and their cells."""

    datasets: list[str]
    columns: list[str]
    rows: list[str]  # pipeline names
    names: list[str]  # their display names
    cells: dict[tuple[str, str, str], Cell]  # (pipeline, dataset, column) -> cell; absent -> missing
    baselines: list[str]
    failed: list[tuple[str, str]]  # (dataset, pipeline)


def load_results(out_dir: str | Path) -> tuple[pd.DataFrame, dict]:
    """``results.csv`` (with a ``dataset`` column, an empty one if absent) and ``manifest.json`` of ``out_dir``."""
    out_dir = Path(out_dir)
    frame = pd.read_csv(out_dir / "results.csv")
    if "dataset" not in frame:
        frame.insert(0, "dataset", "")
    frame["dataset"] = frame["dataset"].fillna("").astype(str)
    frame["name"] = frame["name"].astype(str)
    return frame, json.loads((out_dir / "manifest.json").read_text(encoding="utf-8"))


def failed(frame: pd.DataFrame) -> pd.Series:
    """True on rows whose pipeline failed (a non-empty ``error``)."""
    if "error" not in frame:
        return pd.Series(False, index=frame.index)
    return frame["error"].fillna("").astype(str).str.strip() != ""


def default_columns(frame: pd.DataFrame, metrics: Sequence[str]) -> list[str]:
    """Every metric, then latency p50, QPS and $ per 1M queries where any pipeline has them."""
    return [*metrics, *(c for c in DEFAULT_EFFICIENCY if c in frame and frame[c].notna().any())]


def _best_as_printed(printed: pd.Series) -> pd.Series:
    """True where the printed value is the highest (ties all True); all False when fewer than two values differ."""
    if printed.dropna().nunique() < 2:
        return pd.Series(False, index=printed.index)
    return printed == printed.max()


def _figure_bold(group: pd.DataFrame, column: str, figure: Figure) -> pd.Series:
    """The best median and every value whose min–max spread overlaps the best's; nothing bold when all of them
    tie, or for a figure measured once (no spread to tell noise from a difference)."""
    values = group[column].astype(float)
    shown = values.notna()
    if not (figure.low in group and figure.high in group) or shown.sum() < 2:
        return pd.Series(False, index=group.index)
    low, high = group[figure.low].astype(float).fillna(values), group[figure.high].astype(float).fillna(values)
    best = values[shown].idxmax() if figure.higher else values[shown].idxmin()
    tied = shown & (low <= high[best]) & (high >= low[best])
    return pd.Series(False, index=group.index) if tied[shown].all() else tied


def _marks(group: pd.DataFrame, metric: str, baselines: list[str]) -> list[tuple[tuple[int, int], ...]]:
    """Per row: ``(baseline index, +1 better / -1 worse)`` for each baseline it differs from significantly; the
    direction is the sign of the difference of means, or else of queries won minus lost."""
    out: list[list[tuple[int, int]]] = [[] for _ in range(len(group))]
    values = group[metric].to_numpy(dtype=float)
    names = group["name"].to_numpy()
    for i, base in enumerate(baselines):
        column, at = f"{metric} significant vs {base}", np.flatnonzero(names == base)
        if column not in group or not len(at):
            continue
        won, lost = (pd.to_numeric(group[c], errors="coerce").to_numpy(dtype=float) if (c := f"{metric} {s} vs {base}")
                     in group else np.zeros(len(group)) for s in "+-")
        difference = values - values[at[0]]
        direction = np.sign(np.where(difference != 0, difference, np.nan_to_num(won - lost)))
        for r in np.flatnonzero(group[column].map(_is_true).to_numpy(dtype=bool) & (direction != 0)):
            out[r].append((i, int(direction[r])))
    return [tuple(m) for m in out]


def build_grid(frame: pd.DataFrame, manifest: Mapping, options: TableOptions) -> Grid:
    """Every cell of the table: formatted, bold and marked per dataset and column over the rows shown."""
    metrics = list(manifest.get("metrics") or [])
    baselines = list(manifest.get("baselines") or [])
    if len(baselines) > len(LETTERS):
        raise ValueError(f"at most {len(LETTERS)} baselines can be marked in a table; got {len(baselines)}")
    bad = failed(frame)
    ok = frame[~bad]
    columns = list(options.columns or default_columns(ok, metrics))
    datasets = list(dict.fromkeys(frame["dataset"]))
    rows = list(options.pipelines) if options.pipelines else list(dict.fromkeys(ok["name"]))
    rows = [r for r in rows if r in set(ok["name"])]
    display = {**(manifest.get("display_names") or {}), **options.names}
    cells: dict[tuple[str, str, str], Cell] = {}
    for dataset in datasets:
        group = ok[(ok["dataset"] == dataset) & ok["name"].isin(rows)]
        for column in columns:
            if column not in group:
                continue
            values = group[column].astype(float)
            if column in EFFICIENCY:
                digits = options.digits.get(column, FIGURE_DIGITS)
                bold = _figure_bold(group, column, EFFICIENCY[column])
                texts = values.map(lambda v: significant(v, digits))
                marks = [()] * len(group)
            else:
                digits = options.digits.get(column, METRIC_DIGITS)
                texts = values.map(lambda v: f"{v:.{digits}f}" if math.isfinite(v) else "")
                bold = _best_as_printed(texts.map(lambda t: float(t or "nan")))
                marks = _marks(group, column, baselines)
            for name, text, b, m in zip(group["name"], texts, bold, marks):
                if text:
                    cells[name, dataset, column] = Cell(text, bool(b), m)
    failures = [(d, n) for d, n in zip(frame.loc[bad, "dataset"], frame.loc[bad, "name"])]
    return Grid(datasets, columns, rows, [display.get(r, r) for r in rows], cells, baselines, failures)


# ---------------------------------------------------------------- words around the table

def header(column: str) -> str:
    return EFFICIENCY[column].header if column in EFFICIENCY else column


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def caption_text(grid: Grid, manifest: Mapping, options: TableOptions) -> str:
    """What the table shows, and (with efficiency columns) the hardware it was measured on."""
    named = [d for d in grid.datasets if d]
    first = options.caption or (f"Results on {_join(named)}." if named else "Results.")
    parts = [first]
    if any(c in EFFICIENCY for c in grid.columns):
        hardware = describe_hardware(manifest.get("hardware") or {})
        if hardware:
            parts.append(f"Measured on {hardware}.")
    return " ".join(parts)


def legend_text(grid: Grid, manifest: Mapping) -> list[str]:
    """The sentences below the table: bold, markers (test, correction, alpha), timing method, cost, failures."""
    sentences = []
    metrics_shown = [c for c in grid.columns if c not in EFFICIENCY]
    figures = [c for c in grid.columns if c in EFFICIENCY]
    if any(cell.bold for cell in grid.cells.values()):
        spread = "; a timing ties with the best when their min–max spreads overlap" if any(
            EFFICIENCY[c].low for c in figures) else ""
        sentences.append(f"Bold: best per column, ties as printed all bold{spread}.")
    if grid.baselines and metrics_shown:
        sig = manifest.get("significance") or {}
        test, correction, alpha = sig.get("test", "t"), sig.get("correction"), sig.get("alpha", 0.05)
        how = (f"{TEST_NAMES.get(test, test)}, "
               + (f"{CORRECTION_NAMES.get(correction, correction)} correction" if correction else "no correction")
               + f", α = {alpha}")
        if not any(cell.marks for cell in grid.cells.values()):
            sentences.append(f"None differs significantly from {_join(grid.baselines)} ({how}).")
        elif len(grid.baselines) == 1:
            sentences.append(f"▲ / ▼: significantly better / worse than {grid.baselines[0]} ({how}).")
        else:
            which = ", ".join(f"{LETTERS[i]}: {b}" for i, b in enumerate(grid.baselines))
            sentences.append(f"▲ / ▼ and a letter: significantly better / worse than that baseline ({which}; {how}).")
    timing, latency = manifest.get("timing") or {}, manifest.get("latency") or {}
    repeats = (f"median of {timing.get('repeats', 1)} runs after {timing.get('warmup', 0)} warm-up"
               f"{'s' if timing.get('warmup', 0) != 1 else ''}")
    if any(c.startswith("latency_") or c == "usd_per_1m_queries_batch1" for c in figures):
        sentences.append(f"Latency: one query at a time, over {latency.get('queries', '?')} sampled queries, "
                         f"{repeats}.")
    batch = [word for c, word in (("qps", "QPS"), ("mrt_ms", "MRT"), ("usd_per_1m_queries", "cost")) if c in figures]
    cost = manifest.get("cost") if any(c.startswith("usd_") for c in figures) else None
    rate = f"cost at ${cost.get('usd_per_hour')} per hour ({cost.get('hardware')})" if cost else ""
    if batch:
        words = _join(batch)
        sentences.append(f"{words[0].upper()}{words[1:]}: all queries in one batch, per stage the {repeats}, summed"
                         + (f"; {rate}." if rate else "."))
    elif rate:
        sentences.append(f"{rate[0].upper()}{rate[1:]}.")
    if "peak_rss_mb" in figures:
        sentences.append("RSS: peak resident memory while the pipeline's stages ran.")
    if "index_mb" in figures:
        sentences.append("Index: size on disk of the indexes the pipeline reads.")
    if grid.failed:
        named = [f"{n} ({d})" if d and len(grid.datasets) > 1 else n for d, n in grid.failed]
        sentences.append(f"Failed, not shown: {', '.join(named)}.")
    return sentences


# ---------------------------------------------------------------- LaTeX

def _latex_marks(marks: tuple[tuple[int, int], ...], letters: bool) -> str:
    if not marks:
        return ""
    body = r"\,".join((r"\blacktriangle" if d > 0 else r"\blacktriangledown") + (rf"\mathrm{{{LETTERS[i]}}}" if letters
                                                                                   else "") for i, d in marks)
    return f"${{}}^{{{body}}}$"


def _latex_cell(cell: Cell | None, letters: bool) -> str:
    if cell is None:
        return "--"
    text = rf"\textbf{{{cell.text}}}" if cell.bold else cell.text
    return text + _latex_marks(cell.marks, letters)


def _cell_width(cell: Cell | None, letters: bool) -> float:
    if cell is None:
        return text_width("--")
    return text_width(cell.text, cell.bold) + marks_width(len(cell.marks), len(cell.marks) if letters else 0)


def latex_layout(grid: Grid, options: TableOptions) -> tuple[str, float]:
    """``(environment, estimated natural width in pt)``: ``table`` when ``width`` is ``column`` or the table fits
    the column (``auto``), else ``table*``."""
    letters = len(grid.baselines) > 1
    widths = [max([text_width("Pipeline")] + [text_width(n) for n in grid.names])]
    groups = []
    for dataset in grid.datasets:
        first = len(widths)
        for column in grid.columns:
            widths.append(max([text_width(header(column))] + [_cell_width(grid.cells.get((r, dataset, column)), letters)
                                                               for r in grid.rows]))
        if len(grid.datasets) > 1:
            groups.append((first, len(widths) - 1, text_width(dataset)))
    width = table_width(widths, groups)
    if options.width == "column":
        return "table", width
    if options.width == "page":
        return "table*", width
    return ("table" if width <= COLUMN_WIDTH_PT else "table*"), width


def _label(manifest: Mapping, options: TableOptions) -> str:
    return options.label or "tab:" + (re.sub(r"[^A-Za-z0-9]+", "-", str(manifest.get("name") or "results")).strip("-")
                                      or "results")


def render_latex(grid: Grid, manifest: Mapping, options: TableOptions) -> str:
    """A booktabs table (``table`` or ``table*``, see :func:`latex_layout`), caption above, label, legend below;
    a table wider than the line (e.g. in a narrower template) is scaled down to it, never overfull."""
    letters = len(grid.baselines) > 1
    environment, width = latex_layout(grid, options)
    target = COLUMN_WIDTH_PT if environment == "table" else PAGE_WIDTH_PT
    ncols = len(grid.columns) * len(grid.datasets)
    head = []
    if len(grid.datasets) > 1:
        head.append(" & ".join([""] + [rf"\multicolumn{{{len(grid.columns)}}}{{c}}{{{latex_escape(d)}}}"
                                       for d in grid.datasets]) + r" \\")
        head.append("".join(rf"\cmidrule(lr){{{2 + i * len(grid.columns)}-{1 + (i + 1) * len(grid.columns)}}}"
                            for i in range(len(grid.datasets))))
    head.append(" & ".join(["Pipeline"] + [latex_escape(header(c)) for _ in grid.datasets for c in grid.columns])
                + r" \\")
    body = [" & ".join([latex_escape(n)] + [_latex_cell(grid.cells.get((r, d, c)), letters)
                                             for d in grid.datasets for c in grid.columns]) + r" \\"
            for r, n in zip(grid.rows, grid.names)]
    legend = legend_text(grid, manifest)
    fits = "fits" if width <= target else "is scaled to"
    lines = [
        f"% transformers-ir table; needs \\usepackage{{{','.join(PACKAGES)}}}",
        f"% about {width:.0f}pt wide at \\small: {fits} the {'column' if environment == 'table' else 'page'} "
        f"width ({target:.0f}pt in a two-column article); table: {{width: column|page}} and columns: choose",
        rf"\begin{{{environment}}}[t]", r"\centering",
        rf"\caption{{{latex_escape(caption_text(grid, manifest, options))}}}",
        rf"\label{{{_label(manifest, options)}}}", r"\small", rf"\setlength{{\tabcolsep}}{{{TABCOLSEP_PT:g}pt}}",
        rf"\sbox0{{\begin{{tabular}}{{@{{}}l*{{{ncols}}}{{r}}@{{}}}}", r"\toprule", *head, r"\midrule", *body,
        r"\bottomrule", r"\end{tabular}}%",
        r"\ifdim\wd0>\linewidth\resizebox{\linewidth}{!}{\usebox0}\else\usebox0\fi",
    ]
    if legend:
        lines += [r"\par\smallskip", r"{\footnotesize\raggedright " + latex_escape(" ".join(legend)) + r"\par}"]
    return "\n".join(lines + [rf"\end{{{environment}}}"]) + "\n"


# ---------------------------------------------------------------- Markdown and plain text

def text_marks(marks: tuple[tuple[int, int], ...], letters: bool) -> str:
    """``▲`` / ``▼`` per baseline (followed by its letter when there are several)."""
    return "".join(("▲" if d > 0 else "▼") + (LETTERS[i] if letters else "") for i, d in marks)


def _plain_cells(grid: Grid, bold: Callable[[str], str], missing: str, align: bool = False) -> list[list[str]]:
    """Rows of formatted cells; ``align`` pads the markers of each column to one width so digits line up."""
    letters = len(grid.baselines) > 1
    keys = [(d, c) for d in grid.datasets for c in grid.columns]
    marks = {(r, k): text_marks(cell.marks, letters) if (cell := grid.cells.get((r, *k))) else ""
             for r in grid.rows for k in keys}
    pad = {k: max((len(marks[r, k]) for r in grid.rows), default=0) if align else 0 for k in keys}
    out = []
    for r in grid.rows:
        row = []
        for k in keys:
            cell = grid.cells.get((r, *k))
            text = missing if cell is None else bold(cell.text) if cell.bold else cell.text
            row.append(text + marks[r, k].ljust(pad[k]))
        out.append(row)
    return out


def _headers(grid: Grid, escape: Callable[[str], str]) -> list[str]:
    several = len(grid.datasets) > 1
    return [escape(f"{d}: {header(c)}" if several else header(c)) for d in grid.datasets for c in grid.columns]


def render_markdown(grid: Grid, manifest: Mapping, options: TableOptions) -> str:
    frame = pd.DataFrame(_plain_cells(grid, lambda s: f"**{s}**", "–"), columns=_headers(grid, markdown_escape))
    frame.insert(0, "Pipeline", [markdown_escape(n) for n in grid.names])
    table = frame.to_markdown(index=False, disable_numparse=True, colalign=["left"] + ["right"] * (frame.shape[1] - 1))
    legend = legend_text(grid, manifest)
    parts = [f"Table: {markdown_escape(caption_text(grid, manifest, options))}", table]
    return "\n\n".join(parts + ([markdown_escape(" ".join(legend))] if legend else [])) + "\n"


def render_text(grid: Grid, manifest: Mapping, options: TableOptions, ansi: bool = False) -> str:
    """A plain-text table for the terminal (no escapes; bold in ANSI when ``ansi``), with a row naming the
    dataset above each column group."""
    bold = (lambda s: f"\x1b[1m{s}\x1b[0m") if ansi else (lambda s: s)
    cells = _plain_cells(grid, bold, "–", align=True)
    headers = ["Pipeline"] + [header(c) for _ in grid.datasets for c in grid.columns]
    rows = [[n] + r for n, r in zip(grid.names, cells)]
    widths = [max(visible_len(x) for x in [h] + [r[i] for r in rows]) for i, h in enumerate(headers)]
    k = len(grid.columns)
    if len(grid.datasets) > 1:  # widen a group whose dataset name is longer than its columns
        for g, dataset in enumerate(grid.datasets):
            span = sum(widths[1 + g * k:1 + (g + 1) * k]) + 2 * (k - 1)
            widths[(g + 1) * k] += max(0, len(dataset) - span)

    def line(values: list[str]) -> str:
        return "  ".join(v.ljust(w) if i == 0 else " " * (w - visible_len(v)) + v
                         for i, (v, w) in enumerate(zip(values, widths))).rstrip()

    lines = [caption_text(grid, manifest, options), ""]
    if len(grid.datasets) > 1:
        spans = [sum(widths[1 + g * k:1 + (g + 1) * k]) + 2 * (k - 1) for g in range(len(grid.datasets))]
        lines.append(" " * widths[0] + "".join("  " + d.center(s) for d, s in zip(grid.datasets, spans)).rstrip())
        lines.append(" " * widths[0] + "".join("  " + "-" * s for s in spans))
    lines += [line(headers), "  ".join("-" * w for w in widths)] + [line(r) for r in rows]
    legend = legend_text(grid, manifest)
    if not ansi:
        legend = [s for s in legend if not s.startswith("Bold:")]
    return "\n".join(lines + ([""] + legend if legend else [])) + "\n"


# ---------------------------------------------------------------- entry points

FORMATS = ("latex", "markdown", "text")


def render(frame: pd.DataFrame, manifest: Mapping, fmt: "str | Sequence[str]" = "latex",
           options: "TableOptions | Mapping | None" = None, ansi: bool = False) -> "str | dict[str, str]":
    """The table of ``frame`` (results rows, with a ``dataset`` column) described by ``manifest`` (metrics,
    baselines, significance, timing, cost, hardware, display names) in ``fmt``: ``latex``, ``markdown`` or
    ``text``; given several formats, a dict of each (the cells are worked out once)."""
    formats = [fmt] if isinstance(fmt, str) else list(fmt)
    for f in formats:
        if f not in FORMATS:
            raise ValueError(f"unknown table format {f!r}; choose one of {list(FORMATS)}")
    if "dataset" not in frame:
        frame = frame.assign(dataset="")
    options = table_options(options, manifest.get("metrics") or [])
    grid = build_grid(frame, manifest, options)
    out = {f: render_latex(grid, manifest, options) if f == "latex" else render_markdown(grid, manifest, options)
           if f == "markdown" else render_text(grid, manifest, options, ansi) for f in formats}
    return out[fmt] if isinstance(fmt, str) else out


def render_table(out_dir: str | Path, fmt: str = "latex", ansi: bool = False, **options) -> str:
    """The table of an output folder (``results.csv`` + ``manifest.json``), with the options of the manifest's
    ``table`` section updated by keyword ``options``."""
    frame, manifest = load_results(out_dir)
    spec = table_options(manifest.get("table"), manifest.get("metrics") or [], **options)
    return render(frame, manifest, fmt, spec, ansi)


def write_tables(out_dir: str | Path, tables: Mapping[str, str] | None = None) -> list[Path]:
    """Write ``table.tex`` and ``table.md`` into ``out_dir`` (each atomically); return their paths. ``tables``
    (``{"latex": ..., "markdown": ...}`` from :func:`render`) saves rendering them again."""
    out_dir = Path(out_dir)
    if tables is None:
        frame, manifest = load_results(out_dir)
        tables = render(frame, manifest, ("latex", "markdown"), manifest.get("table"))
    paths = [out_dir / "table.tex", out_dir / "table.md"]
    for path, fmt in zip(paths, ("latex", "markdown")):
        atomic_write_text(path, tables[fmt])
    return paths


# ---------------------------------------------------------------- comparing two folders

def _number(value: float, digits: int, signed: bool = False) -> str:
    return "" if pd.isna(value) else f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def compare(dir1: str | Path, dir2: str | Path) -> str:
    """A Markdown table comparing two output folders on the pipelines both ran (by dataset and name).

    Per shared metric: the value in A, in B and B − A; then latency p50 and $ per 1M queries in each.
    Pipelines found (or successful) in only one folder, and failed ones, are listed below the table.
    """
    (a, ma), (b, mb) = load_results(dir1), load_results(dir2)
    metrics = [m for m in ma["metrics"] if m in mb["metrics"]]
    key = ["dataset", "name"]
    fa, fb = failed(a), failed(b)
    shared = a[~fa].merge(b[~fb], on=key, suffixes=(" (A)", " (B)"))
    table = shared[key].copy()
    for m in metrics:
        table[f"{m} (A)"] = shared[f"{m} (A)"].map(lambda v: _number(v, METRIC_DIGITS))
        table[f"{m} (B)"] = shared[f"{m} (B)"].map(lambda v: _number(v, METRIC_DIGITS))
        table[f"Δ {m}"] = (shared[f"{m} (B)"] - shared[f"{m} (A)"]).map(
            lambda v: _number(v, METRIC_DIGITS, signed=True))
    for column in ("latency_p50_ms", "usd_per_1m_queries"):
        if f"{column} (A)" not in shared or f"{column} (B)" not in shared:
            continue
        for side in ("A", "B"):
            table[f"{header(column)} ({side})"] = shared[f"{column} ({side})"].map(significant)
    table[key] = table[key].map(markdown_escape)
    table = table.rename(columns=markdown_escape)
    lines = [f"A = `{dir1}`, B = `{dir2}`", "",
             table.to_markdown(index=False, disable_numparse=True,
                               colalign=["left"] * 2 + ["right"] * (table.shape[1] - 2))
             if len(table) else "No pipeline in both."]
    for side, frame, mask in (("A", a, fa), ("B", b, fb)):
        only = frame[~mask].merge(shared[key], on=key, how="left", indicator=True).query("_merge == 'left_only'")
        for label, rows in ((f"Only in {side}", only), (f"Failed in {side}", frame[mask])):
            if len(rows):
                lines += ["", f"{label}: " + ", ".join(map(_pipeline, rows["dataset"], rows["name"]))]
    return "\n".join(lines) + "\n"


def _pipeline(dataset: str, name: str) -> str:
    return f"{markdown_escape(name)} ({markdown_escape(dataset)})" if dataset else markdown_escape(name)
