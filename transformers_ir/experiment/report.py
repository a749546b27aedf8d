"""Paper-ready tables from an experiment output folder (``results.csv`` + ``manifest.json``).

One table per dataset: each metric (best in bold, a superscript per baseline where the corrected test says
the value differs significantly from it), latency p50, QPS and $ per 1k queries (best in bold). Pipelines that
failed (non-empty ``error``) are left out of the table and named in a footnote.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pandas as pd

from ..core import atomic_write_text

# Efficiency columns: (results.csv column, header, True when higher is better, fewest decimals shown).
EFFICIENCY = [("latency_p50_ms", "Latency p50 (ms)", False, 2), ("qps", "QPS", True, 1),
              ("usd_per_1k_queries", "$/1k queries", False, 2)]
LATEX_MARKERS = [r"\dagger", r"\ddagger", r"\S", r"\P", r"\|", r"\star", r"\diamond", r"\triangle"]
TEXT_MARKERS = ["†", "‡", "§", "¶", "‖", "⋆", "⋄", "△"]
TEST_NAMES = {"t": "paired t-test", "wilcoxon": "Wilcoxon signed-rank test", "permutation": "paired permutation test"}
CORRECTION_NAMES = {"holm": "Holm", "bonferroni": "Bonferroni", "sidak": "Šidák", "holm-sidak": "Holm-Šidák",
                    "simes-hochberg": "Hochberg", "hommel": "Hommel", "fdr_bh": "Benjamini-Hochberg",
                    "fdr_by": "Benjamini-Yekutieli"}
_LATEX_SPECIALS = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                   "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
                   "<": r"\textless{}", ">": r"\textgreater{}", "|": r"\textbar{}"}
_MARKDOWN_SPECIALS = re.compile(r"([\\`*_|<>$\[\]])")


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


def _is_true(value: object) -> bool:
    """A ``significant vs B`` cell as read back from CSV (``True``/``False``/empty) as a bool."""
    return str(value).strip().lower() in {"true", "1", "1.0"}


def _best_mask(values: pd.Series, higher_is_better: bool) -> pd.Series:
    """True where ``values`` equals the best (max or min) of the column; all False when every value is NaN."""
    best = values.max() if higher_is_better else values.min()
    return values == best


def _significant(frame: pd.DataFrame, metric: str, baselines: list[str]) -> pd.DataFrame:
    """Per row, per baseline: whether ``metric`` differs significantly (after correction) from that baseline."""
    columns = {b: f"{metric} significant vs {b}" for b in baselines}
    return pd.DataFrame({b: frame[c].map(_is_true) if c in frame else False for b, c in columns.items()},
                        index=frame.index)


def _decimals(values: pd.Series, fewest: int) -> int:
    """Decimals that show the smallest positive value with three significant digits (at least ``fewest``)."""
    positive = values[values > 0]
    if positive.empty:
        return fewest
    return max(fewest, min(9, 2 - math.floor(math.log10(positive.min()))))


def latex_escape(text: str) -> str:
    """``text`` with LaTeX's special characters escaped, for text mode."""
    return "".join(_LATEX_SPECIALS.get(c, c) for c in str(text))


def markdown_escape(text: str) -> str:
    """``text`` with the characters Markdown tables and emphasis would interpret backslash-escaped."""
    return _MARKDOWN_SPECIALS.sub(r"\\\1", str(text))


@dataclass(frozen=True)
class _Style:
    """How one output format escapes text, bolds a value, marks significance and shows a missing value."""

    escape: Callable[[str], str]
    bold: Callable[[str], str]
    marks: Callable[[list[int]], str]  # the superscript for the baselines (by index) a value differs from
    missing: str


LATEX = _Style(latex_escape, lambda s: rf"\textbf{{{s}}}",
               lambda ids: f"$^{{{''.join(LATEX_MARKERS[i] for i in ids)}}}$" if ids else "", "--")
MARKDOWN = _Style(markdown_escape, lambda s: f"**{s}**", lambda ids: "".join(TEXT_MARKERS[i] for i in ids), "–")


def _format(values: pd.Series, digits: int, best: pd.Series, style: _Style) -> list[str]:
    return [style.missing if pd.isna(v) else style.bold(f"{v:.{digits}f}") if b else f"{v:.{digits}f}"
            for v, b in zip(values, best)]


def _cells(group: pd.DataFrame, metrics: list[str], baselines: list[str], style: _Style,
           efficiency: list = EFFICIENCY) -> pd.DataFrame:
    """The table body of one dataset as formatted strings: name, metrics, efficiency columns."""
    cells = pd.DataFrame({"name": group["name"].map(style.escape)}, index=group.index)
    for metric in metrics:
        values = group[metric].astype(float)
        marks = _significant(group, metric, baselines).to_dict("records")
        suffixes = [style.marks([i for i, base in enumerate(baselines) if row[base]]) for row in marks]
        cells[metric] = [c + s for c, s in zip(_format(values, 4, _best_mask(values, True), style), suffixes)]
    for column, _, higher, fewest in efficiency:
        values = group[column].astype(float) if column in group else pd.Series(float("nan"), index=group.index)
        cells[column] = _format(values, _decimals(values, fewest), _best_mask(values, higher), style)
    return cells


def _datasets(frame: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(frame["dataset"]))


def _baselines(manifest: dict) -> list[str]:
    baselines = list(manifest.get("baselines") or [])
    if len(baselines) > len(TEXT_MARKERS):
        raise ValueError(f"at most {len(TEXT_MARKERS)} baselines can be marked in a table; got {len(baselines)}")
    return baselines


def caption(manifest: dict, dataset: str, latex: bool) -> str:
    """What the table shows: dataset, bold, markers with their test, correction and alpha, and the cost basis."""
    escape = latex_escape if latex else markdown_escape
    baselines = _baselines(manifest)
    parts = [f"Results on {escape(dataset)}." if dataset else "Results.",
             "Bold: best per column (highest metric and QPS, lowest latency and cost)."]
    if baselines:
        sig = manifest.get("significance") or {}
        test = sig.get("test", "t")
        correction = sig.get("correction")
        alpha = sig.get("alpha", 0.05)
        style = LATEX if latex else MARKDOWN
        which = "; ".join(f"{style.marks([i])} vs {escape(b)}" for i, b in enumerate(baselines))
        how = (f"{TEST_NAMES.get(test, escape(test))}, "
               + (f"{CORRECTION_NAMES.get(correction, escape(correction))} correction" if correction
                  else "no correction")
               + (rf", $\alpha = {alpha}$" if latex else f", α = {alpha}"))
        parts.append(f"Significantly different from a baseline ({which}): {how}.")
    cost = manifest.get("cost") or {}
    if cost:
        usd = "\\$" if latex else "$"
        hardware = escape(cost.get("hardware", "unknown hardware"))
        parts.append(f"Cost at {usd}{cost.get('usd_per_hour')}/hour on {hardware}.")
    return " ".join(parts)


def _footnote(names: list[str], escape: Callable[[str], str]) -> str:
    return "Failed, not shown: " + ", ".join(escape(n) for n in names) + "." if names else ""


def _label(dataset: str) -> str:
    return "tab:results" + (f"-{re.sub(r'[^A-Za-z0-9]+', '-', dataset).strip('-')}" if dataset else "")


def _latex_table(cells: pd.DataFrame, metrics: list[str], caption_text: str, label: str, footnote: str,
                 efficiency: list = EFFICIENCY) -> str:
    headers = ["Pipeline"] + [latex_escape(m) for m in metrics] + [latex_escape(h) for _, h, _, _ in efficiency]
    rows = [" & ".join(row) + r" \\" for row in cells.itertuples(index=False)]
    lines = [r"\begin{table}[t]", r"\centering", rf"\caption{{{caption_text}}}", rf"\label{{{label}}}",
             rf"\begin{{tabular}}{{l{'r' * (len(headers) - 1)}}}", r"\toprule", " & ".join(headers) + r" \\",
             r"\midrule", *rows, r"\bottomrule", r"\end{tabular}"]
    if footnote:
        lines += [r"\par\smallskip\footnotesize " + footnote]
    return "\n".join(lines + [r"\end{table}"]) + "\n"


def _markdown_table(cells: pd.DataFrame, metrics: list[str], caption_text: str, dataset: str, footnote: str,
                    efficiency: list = EFFICIENCY) -> str:
    cells = cells.set_axis(["Pipeline"] + [markdown_escape(m) for m in metrics]
                           + [markdown_escape(h) for _, h, _, _ in efficiency], axis=1)
    table = cells.to_markdown(index=False, disable_numparse=True, colalign=["left"] + ["right"] * (cells.shape[1] - 1))
    parts = ([f"### {markdown_escape(dataset)}"] if dataset else []) + [table, f"Table: {caption_text}"]
    return "\n\n".join(parts + ([f"*{footnote}*"] if footnote else [])) + "\n"


def render_table(out_dir: str | Path, fmt: str = "latex") -> str:
    """One table per dataset of ``out_dir``'s results, as LaTeX (booktabs) or Markdown.

    Bold marks the best value of each column as stored in ``results.csv`` (ties all bold), not as rounded.
    """
    return render_frame(*load_results(out_dir), fmt=fmt)


def render_frame(frame: pd.DataFrame, manifest: dict, fmt: str = "latex", efficiency: list = EFFICIENCY) -> str:
    """:func:`render_table` of a results frame (``results.csv``'s columns; ``dataset`` optional) and its manifest;
    ``efficiency``: the (column, header, higher is better, fewest decimals) shown after the metrics."""
    if fmt not in ("latex", "markdown"):
        raise ValueError(f"unknown table format {fmt!r}; choose 'latex' or 'markdown'")
    if "dataset" not in frame:
        frame = frame.assign(dataset="")
    metrics, baselines = list(manifest["metrics"]), _baselines(manifest)
    latex = fmt == "latex"
    style = LATEX if latex else MARKDOWN
    tables = []
    for dataset in _datasets(frame):
        group = frame[frame["dataset"] == dataset]
        ok = ~failed(group)
        cells = _cells(group[ok], metrics, baselines, style, efficiency)
        footnote = _footnote(list(group.loc[~ok, "name"]), style.escape)
        text = caption(manifest, dataset, latex)
        tables.append(_latex_table(cells, metrics, text, _label(dataset), footnote, efficiency) if latex
                      else _markdown_table(cells, metrics, text, dataset, footnote, efficiency))
    return ("% needs \\usepackage{booktabs}\n" if latex else "") + "\n".join(tables)


def write_tables(out_dir: str | Path) -> list[Path]:
    """Write ``table.tex`` and ``table.md`` into ``out_dir`` (each atomically); return their paths."""
    out_dir = Path(out_dir)
    paths = [out_dir / "table.tex", out_dir / "table.md"]
    for path, fmt in zip(paths, ("latex", "markdown")):
        atomic_write_text(path, render_table(out_dir, fmt))
    return paths


def _number(value: float, digits: int, signed: bool = False) -> str:
    return "" if pd.isna(value) else f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def compare(dir1: str | Path, dir2: str | Path) -> str:
    """A Markdown table comparing two output folders on the pipelines both ran (by dataset and name).

    Per shared metric: the value in A, in B and B − A; then latency p50 and $ per 1k queries in each.
    Pipelines found (or successful) in only one folder, and failed ones, are listed below the table.
    """
    (a, ma), (b, mb) = load_results(dir1), load_results(dir2)
    metrics = [m for m in ma["metrics"] if m in mb["metrics"]]
    key = ["dataset", "name"]
    fa, fb = failed(a), failed(b)
    shared = a[~fa].merge(b[~fb], on=key, suffixes=(" (A)", " (B)"))
    table = shared[key].copy()
    for m in metrics:
        table[f"{m} (A)"] = shared[f"{m} (A)"].map(lambda v: _number(v, 4))
        table[f"{m} (B)"] = shared[f"{m} (B)"].map(lambda v: _number(v, 4))
        table[f"Δ {m}"] = (shared[f"{m} (B)"] - shared[f"{m} (A)"]).map(lambda v: _number(v, 4, signed=True))
    for column, header, _, fewest in EFFICIENCY:
        if column == "qps" or f"{column} (A)" not in shared or f"{column} (B)" not in shared:
            continue
        digits = _decimals(pd.concat([shared[f"{column} (A)"], shared[f"{column} (B)"]]), fewest)
        for side in ("A", "B"):
            table[f"{header} ({side})"] = shared[f"{column} ({side})"].map(lambda v: _number(v, digits))
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
