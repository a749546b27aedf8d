"""Paper-ready outputs: tables mark exactly the best / significant cells of results.csv; plots; compare."""
import json
import math
import re
from html import escape as xml_escape

import pandas as pd
import pytest

from transformers_ir.experiment.plots import draw_pareto, pareto_frontier, write_pareto
from transformers_ir.experiment.report import (caption, compare, latex_escape, markdown_escape, render_table,
                                               write_tables)

METRICS = ["AP", "nDCG@10", "R@1000"]
BASELINES = ["BM25", "BM25 >> RM3"]
EFFICIENCY = {"latency_p50_ms": False, "qps": True, "usd_per_1k_queries": False}  # column -> higher is better
ODD = "BM25_k1=0.9 % 100 >> CE & {x} #1 $"
MANIFEST = {"metrics": METRICS, "baselines": BASELINES,
            "significance": {"test": "t", "correction": "holm", "alpha": 0.05},
            "cost": {"hardware": "c5.large_spot & co", "usd_per_hour": 0.096}, "pareto_metric": "nDCG@10"}

# dataset, name, AP, nDCG@10, R@1000, latency p50, qps, $/1k, significant vs BM25, vs RM3, error
ROWS = [
    ("vaswani", "BM25", .30, .45, .80, 2.0, 500.0, 0.000053, None, True, None),
    ("vaswani", "BM25 >> RM3", .33, .46, .85, 6.0, 160.0, 0.00016, True, None, None),
    ("vaswani", ODD, .36, .52, .85, 40.0, 25.0, 0.0011, True, False, None),
    ("vaswani", "precomputed", .31, .44, .79, math.nan, math.nan, math.nan, False, True, None),
    ("vaswani", "broken", math.nan, math.nan, math.nan, math.nan, math.nan, math.nan, None, None, "OOM"),
    ("scifact", "BM25", .62, .66, .95, 3.0, 330.0, 0.00008, None, False, None),
    ("scifact", "BM25 >> RM3", .63, .65, .96, 9.0, 110.0, 0.00024, False, None, None),
    ("scifact", ODD, .70, .71, .96, 80.0, 12.5, 0.0021, True, True, None),
]


def write_fixture(out_dir, rows=ROWS, manifest=MANIFEST):
    """An experiment output folder following the results.csv / manifest.json contract."""
    records = []
    for ds, name, ap, ndcg, r, p50, qps, usd, sig_bm25, sig_rm3, error in rows:
        record = {"dataset": ds, "name": name, "AP": ap, "nDCG@10": ndcg, "R@1000": r, "mrt_ms": p50,
                  "latency_p50_ms": p50, "latency_p95_ms": p50 * 2, "latency_p99_ms": p50 * 3, "qps": qps,
                  "usd_per_1k_queries": usd, "peak_rss_mb": 900.0}
        for base, sig in zip(BASELINES, (sig_bm25, sig_rm3)):
            for m in METRICS:  # the same verdict for every metric, except AP vs BM25 which is never significant
                record[f"{m} p_value vs {base}"] = None if sig is None else 0.001 if sig else 0.3
                record[f"{m} p_corrected vs {base}"] = None if sig is None else 0.003 if sig else 0.6
                never = (m, base) == ("AP", "BM25")
                record[f"{m} significant vs {base}"] = None if sig is None else bool(sig) and not never
        record["error"] = error
        records.append(record)
    out_dir.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(records).to_csv(out_dir / "results.csv", index=False)
    (out_dir / "manifest.json").write_text(json.dumps(manifest))
    return out_dir


@pytest.fixture
def out(tmp_path):
    return write_fixture(tmp_path / "out")


# --- parsing the tables back -----------------------------------------------------------------------------
LATEX_SYMBOLS = {r"\dagger": 0, r"\ddagger": 1}
TEXT_SYMBOLS = {"†": 0, "‡": 1}


def parse_cell(cell: str, fmt: str) -> tuple[float, bool, set[int]]:
    """(value, bold, indices of the baselines marked) of one table cell."""
    if fmt == "latex":
        sup = re.findall(r"\$\^\{((?:\\[a-zA-Z]+)+)\}\$", cell)
        markers = {LATEX_SYMBOLS[s] for group in sup for s in re.findall(r"\\[a-zA-Z]+", group)}
        rest = re.sub(r"\$\^\{(?:\\[a-zA-Z]+)+\}\$", "", cell).strip()
        bold = re.fullmatch(r"\\textbf\{(.*)\}", rest)
    else:
        markers = {TEXT_SYMBOLS[s] for s in re.findall("[†‡]", cell)}
        rest = re.sub("[†‡]", "", cell).strip()
        bold = re.fullmatch(r"\*\*(.*)\*\*", rest)
    text = bold.group(1) if bold else rest
    return (math.nan if text in ("--", "–") else float(text)), bool(bold), markers


def parse_tables(text: str, fmt: str) -> dict[str, tuple[list[str], list[str], list[list[str]]]]:
    """dataset -> (header cells, name cells, other cells per row), from a rendered LaTeX or Markdown table."""
    tables = {}
    if fmt == "latex":
        for block in text.split(r"\begin{table}")[1:]:
            dataset = re.search(r"\\caption\{Results on (\w+)\.", block).group(1)
            head = block.split(r"\toprule")[1].split(r"\midrule")[0]
            body = block.split(r"\midrule")[1].split(r"\bottomrule")[0]
            split = lambda line: [c.strip() for c in re.split(r"(?<!\\)&", line.strip().removesuffix(r"\\"))]
            rows = [split(line) for line in body.strip().splitlines()]
            tables[dataset] = split(head), [r[0] for r in rows], [r[1:] for r in rows]
    else:
        for block in text.split("### ")[1:]:
            dataset = block.splitlines()[0]
            lines = [line for line in block.splitlines() if line.startswith("|")]
            split = lambda line: [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
            rows = [split(line) for line in lines[2:]]
            tables[dataset] = split(lines[0]), [r[0] for r in rows], [r[1:] for r in rows]
    return tables


@pytest.mark.parametrize("fmt", ["latex", "markdown"])
def test_table_marks_exactly_the_best_and_significant_cells(out, fmt):
    tables = parse_tables(render_table(out, fmt), fmt)
    frame = pd.read_csv(out / "results.csv")
    ok = frame[frame["error"].isna()]
    assert list(tables) == ["vaswani", "scifact"]
    escape = latex_escape if fmt == "latex" else markdown_escape
    for dataset, group in ok.groupby("dataset", sort=False):
        header, names, cells = tables[dataset]
        assert len(header) == 1 + len(METRICS) + len(EFFICIENCY)
        assert names == [escape(n) for n in group["name"]]  # same rows, same order, failed one left out
        columns = METRICS + list(EFFICIENCY)
        higher = {**{m: True for m in METRICS}, **EFFICIENCY}
        for (_, row), row_cells in zip(group.iterrows(), cells):
            for column, cell in zip(columns, row_cells):
                value, bold, markers = parse_cell(cell, fmt)
                values = group[column]
                best = values.max() if higher[column] else values.min()
                assert bold == (row[column] == best), (dataset, row["name"], column, cell)
                if pd.isna(row[column]):
                    assert math.isnan(value)
                else:
                    assert value == pytest.approx(row[column], rel=0.01, abs=5e-5)
                expected = {i for i, b in enumerate(BASELINES)
                            if column in METRICS and row[f"{column} significant vs {b}"] is True}
                assert markers == expected, (dataset, row["name"], column, cell)


def test_fixture_exercises_ties_misses_and_both_markers(out):
    """Guards the test above against a fixture too easy to catch a wrong mark."""
    latex = render_table(out, "latex")
    vaswani = latex.split(r"\begin{table}")[1]
    assert vaswani.count(r"\textbf{0.8500}") == 2  # a tie on R@1000: both bold
    assert r"$^{\dagger\ddagger}$" in latex  # a cell significant vs both baselines
    assert "0.3000$^{\\ddagger}$" in vaswani  # AP vs BM25 is never significant; vs RM3 it is
    assert r"precomputed & 0.3100$^{\ddagger}$ & 0.4400$^{\ddagger}$ & 0.7900$^{\ddagger}$ & -- & -- & --" in vaswani


def test_latex_escaping():
    assert latex_escape(r"a_b % c & d # e $ f {g} ~x^2 \ <|>") == (
        r"a\_b \% c \& d \# e \$ f \{g\} \textasciitilde{}x\textasciicircum{}2 \textbackslash{} "
        r"\textless{}\textbar{}\textgreater{}")
    assert markdown_escape("a|b*c_d $x$") == r"a\|b\*c\_d \$x\$"


def test_latex_table_structure_and_escaped_names(out):
    latex = render_table(out, "latex")
    assert latex.count(r"\begin{table}") == 2
    for rule in (r"\toprule", r"\midrule", r"\bottomrule"):
        assert latex.count(rule) == 2
    assert latex_escape(ODD) in latex and ODD not in latex
    assert r"Latency p50 (ms) & QPS & \$/1k queries \\" in latex
    assert "Failed, not shown: broken." in latex.split(r"\begin{table}")[1]
    assert "broken" not in latex.split(r"\begin{table}")[2]


def test_caption_states_test_correction_alpha_markers_and_cost(out):
    text = caption(MANIFEST, "vaswani", latex=True)
    for part in ("paired t-test", "Holm correction", r"$\alpha = 0.05$", r"$^{\dagger}$ vs BM25",
                 r"$^{\ddagger}$ vs BM25 \textgreater{}\textgreater{} RM3", r"\$0.096/hour", r"c5.large\_spot \& co"):
        assert part in text, part
    assert text in render_table(out, "latex")
    plain = caption({**MANIFEST, "significance": {"test": "wilcoxon", "correction": None, "alpha": 0.01}},
                    "scifact", latex=False)
    assert "Wilcoxon signed-rank test, no correction, α = 0.01" in plain
    assert "† vs BM25; ‡ vs BM25 \\>\\> RM3" in plain and "$0.096/hour on c5.large\\_spot & co" in plain


def test_table_without_baselines_or_cost(tmp_path):
    out = write_fixture(tmp_path / "out", manifest={"metrics": METRICS})
    latex = render_table(out, "latex")
    assert "Significantly" not in latex and "Cost at" not in latex and "dagger" not in latex
    assert r"\textbf{0.3600}" in latex  # best AP on vaswani still bold


def test_write_tables(out):
    tex, md = write_tables(out)
    assert tex.read_text() == render_table(out, "latex") and md.read_text() == render_table(out, "markdown")
    assert "Table: Results on vaswani." in md.read_text()
    assert not list(out.glob(".*.tmp"))
    with pytest.raises(ValueError, match="format"):
        render_table(out, "html")


def test_pareto_frontier_on_hand_made_points():
    points = [(1, 0.3), (2, 0.5), (2, 0.4), (3, 0.45), (4, 0.6), (0.5, 0.1), (math.nan, 0.9), (4, 0.6), (5, 0.6)]
    # (2, .4) and (3, .45) are beaten by (2, .5); (5, .6) by (4, .6); NaN is left out; ties on both axes stay
    assert pareto_frontier(points) == [5, 0, 1, 4, 7]
    assert pareto_frontier([(1.0, 0.5)]) == [0]
    assert pareto_frontier([]) == []
    assert pareto_frontier([(1, 0.5), (1, 0.7)]) == [1]  # same cost: the better one only


def test_draw_pareto_steps_through_the_frontier():
    from matplotlib.figure import Figure
    group = pd.DataFrame({"name": ["a", "b", "c", "d", "e"], "nDCG@10": [.3, .5, .4, .6, .7],
                          "latency_p50_ms": [1.0, 2.0, 3.0, 8.0, math.nan]})
    ax = Figure().subplots()
    draw_pareto(ax, group, "latency_p50_ms", "Latency p50 (ms)", "nDCG@10")
    [line] = ax.lines
    assert line.get_drawstyle() == "steps-post"  # best metric reachable at each latency
    assert line.get_xydata().tolist() == [[1.0, .3], [2.0, .5], [8.0, .6]]
    points, front = (c.get_offsets().tolist() for c in ax.collections)
    assert len(points) == 4 and front == [[1.0, .3], [2.0, .5], [8.0, .6]]
    assert [t.get_text() for t in ax.texts] == ["a", "b", "c", "d"]
    assert ax.get_xlabel() == "Latency p50 (ms)\nnot shown, no Latency p50 (ms): e"
    assert ax.get_xscale() == "log"


def test_write_pareto(out):
    png, svg = write_pareto(out)
    assert png.read_bytes().startswith(b"\x89PNG") and png.stat().st_size > 10_000
    text = svg.read_text()
    for name in ("BM25", "BM25 >> RM3", ODD):
        assert xml_escape(name, quote=False) in text, name
    assert "not shown, no Latency p50 (ms): precomputed" in text  # it has no latency to plot
    assert "nDCG@10 vs Latency p50 (ms)" in text  # the manifest's pareto_metric
    assert "Failed, not shown: broken (vaswani)" in text
    write_pareto(out, metric="AP")
    assert "AP vs $ per 1k queries" in svg.read_text()
    with pytest.raises(ValueError, match="MRR"):
        write_pareto(out, metric="MRR")


def test_compare(tmp_path):
    a = write_fixture(tmp_path / "a")
    changed = [(ds, name, ap + 0.01, ndcg - 0.02, r, p50 / 2, qps * 2, usd / 2, s1, s2, err)
               for ds, name, ap, ndcg, r, p50, qps, usd, s1, s2, err in ROWS if name != "precomputed"]
    changed[2] = changed[2][:-1] + ("CUDA error",)  # ODD on vaswani fails in B
    changed.append(("vaswani", "new one", .5, .5, .5, 1.0, 1.0, 1.0, None, None, None))
    b = write_fixture(tmp_path / "b", changed, {**MANIFEST, "metrics": ["nDCG@10", "AP"]})
    text = compare(a, b)
    lines = text.splitlines()
    assert lines[0] == f"A = `{a}`, B = `{b}`"
    header = [c.strip() for c in lines[2].strip("|").split("|")]
    assert header == ["dataset", "name", "AP (A)", "AP (B)", "Δ AP", "nDCG@10 (A)", "nDCG@10 (B)", "Δ nDCG@10",
                      "Latency p50 (ms) (A)", "Latency p50 (ms) (B)", r"\$/1k queries (A)", r"\$/1k queries (B)"]
    rows = {(r[0], r[1]): r for r in ([c.strip() for c in line.strip("|").split("|")] for line in lines[4:]
                                      if line.startswith("|"))}
    assert set(rows) == {("vaswani", "BM25"), ("vaswani", "BM25 \\>\\> RM3"), ("scifact", "BM25"),
                         ("scifact", "BM25 \\>\\> RM3"), ("scifact", markdown_escape(ODD))}
    assert rows["vaswani", "BM25"][2:] == ["0.3000", "0.3100", "+0.0100", "0.4500", "0.4300", "-0.0200",
                                           "2.00", "1.00", "0.0000530", "0.0000265"]
    assert "Only in A: " + markdown_escape(ODD) + " (vaswani), precomputed (vaswani)" in text
    assert "Only in B: new one (vaswani)" in text
    assert "Failed in A: broken (vaswani)" in text
    assert "Failed in B: " + markdown_escape(ODD) + " (vaswani), broken (vaswani)" in text
