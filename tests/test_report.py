"""Paper-ready outputs: one table for all datasets whose cells, bold and markers (baseline and direction) are
exactly those results.csv implies, in LaTeX, Markdown and plain text alike; units; plots; compare."""
import json
import math
import re
import shutil
import xml.etree.ElementTree as ET

import pandas as pd
import pytest

from transformers_ir.experiment.plots import FRONTIER, PANEL_H, panel, pareto_frontier, text_px, write_pareto
from transformers_ir.experiment.report import (LETTERS, TableOptionError, compare, latex_escape, markdown_escape,
                                               pvalue, render_table, significant, table_options, write_tables)

from .conftest import IN_CI

SVG = "{http://www.w3.org/2000/svg}"
METRICS = ["AP", "nDCG@10", "R@1000"]
BASELINES = ["BM25", "BM25 >> RM3"]
FIGURES = ["latency_p50_ms", "qps", "usd_per_1m_queries"]
SPREAD = {"latency_p50_ms": False, "qps": True, "usd_per_1m_queries": False}  # column -> higher is better
ODD = "BM25_k1=0.9 % 100 >> CE & {x} #1 $"
MANIFEST = {"name": "fixture", "metrics": METRICS, "baselines": BASELINES,
            "significance": {"test": "t", "correction": "holm", "alpha": 0.05},
            "cost": {"hardware": "c5.large_spot & co", "usd_per_hour": 0.096}, "pareto_metric": "nDCG@10",
            "timing": {"repeats": 3, "warmup": 1}, "latency": {"queries": 20},
            "hardware": {"cpu": "AMD EPYC 7B13", "cores": 2, "torch_threads": 1, "blas": "OpenBLAS 0.3", "gpu": None},
            "display_names": {"grid[k1=0.6,b=0.4]": "grid (k1=0.6, b=0.4)"}}

# dataset, name, AP, nDCG@10, R@1000, (p50, min, max), significant vs BM25, vs RM3, error.
# qps and $ follow from p50 (same spread); "sig" applies to every metric except AP vs BM25 (never significant).
ROWS = [
    ("vaswani", "BM25", .30, .45, .80, (2.0, 1.9, 2.1), None, True, None),
    ("vaswani", "BM25 >> RM3", .33, .46, .85, (6.0, 5.5, 6.5), True, None, None),
    ("vaswani", ODD, .36, .52, .85, (40.0, 39.0, 41.0), True, False, None),
    ("vaswani", "grid[k1=0.6,b=0.4]", .29999, .40, .70, (2.05, 2.0, 2.2), True, True, None),
    ("vaswani", "precomputed", .31, .44, .79, (math.nan,) * 3, False, True, None),
    ("vaswani", "broken", math.nan, math.nan, math.nan, (math.nan,) * 3, None, None, "OOM"),
    ("scifact", "BM25", .62, .66, .95, (3.0, 2.9, 3.1), None, False, None),
    ("scifact", "BM25 >> RM3", .63, .65, .96, (9.0, 8.0, 10.0), False, None, None),
    ("scifact", ODD, .70, .71, .96, (80.0, 70.0, 90.0), True, True, None),
    ("scifact", "grid[k1=0.6,b=0.4]", .55, .60, .90, (3.5, 3.4, 3.6), True, True, None),
]


def write_fixture(out_dir, rows=ROWS, manifest=MANIFEST):
    """An experiment output folder following the results.csv / manifest.json contract."""
    records = []
    for ds, name, ap, ndcg, r, (p50, low, high), sig_bm25, sig_rm3, error in rows:
        record = {"dataset": ds, "name": name, "AP": ap, "nDCG@10": ndcg, "R@1000": r, "mrt_ms": p50,
                  "latency_p50_ms": p50, "latency_p50_ms_min": low, "latency_p50_ms_max": high,
                  "latency_p95_ms": p50 * 2, "latency_p99_ms": p50 * 3,
                  "qps": 1000 / p50, "qps_min": 1000 / high, "qps_max": 1000 / low,
                  "usd_per_1m_queries": p50 * 0.0267, "usd_per_1m_queries_min": low * 0.0267,
                  "usd_per_1m_queries_max": high * 0.0267, "peak_rss_mb": 900.0}
        for base, sig in zip(BASELINES, (sig_bm25, sig_rm3)):
            for m in METRICS:
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

def parse_cell(cell: str, fmt: str) -> tuple[float, bool, set[tuple[int, int]]]:
    """(value, bold, {(baseline index, +1/-1)}) of one table cell."""
    if fmt == "latex":
        sup = re.search(r"\$\{\}\^\{(.*)\}\$$", cell)
        marks = {(LETTERS.index(letter), 1 if tri == "blacktriangle" else -1)
                 for tri, letter in re.findall(r"\\(blacktriangle|blacktriangledown)\\mathrm\{(\w)\}", sup.group(1))
                 } if sup else set()
        rest = cell[:sup.start()] if sup else cell
        bold = re.fullmatch(r"\\textbf\{(.*)\}", rest)
    else:
        marks = {(LETTERS.index(letter), 1 if tri == "▲" else -1) for tri, letter in re.findall("([▲▼])(\\w)", cell)}
        rest = re.sub("[▲▼]\\w", "", cell).strip()
        bold = re.fullmatch(r"\*\*(.*)\*\*", rest)
    text = bold.group(1) if bold else rest
    return (math.nan if text in ("--", "–") else float(text)), bool(bold), marks


def parse_latex(text: str) -> tuple[list[str], list[str], list[list[str]]]:
    """(dataset group headers, name cells, other cells per row) of a rendered LaTeX table."""
    head = text.split(r"\toprule")[1].split(r"\midrule")[0]
    groups = re.findall(r"\\multicolumn\{\d+\}\{c\}\{([^}]*)\}", head)
    body = text.split(r"\midrule")[1].split(r"\bottomrule")[0]
    rows = [[c.strip() for c in re.split(r"(?<!\\)&", line.strip().removesuffix(r"\\"))]
            for line in body.strip().splitlines()]
    return groups, [r[0] for r in rows], [r[1:] for r in rows]


def parse_markdown(text: str) -> tuple[list[str], list[str], list[list[str]]]:
    lines = [line for line in text.splitlines() if line.startswith("|")]
    split = lambda line: [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
    rows = [split(line) for line in lines[2:]]
    return split(lines[0]), [r[0] for r in rows], [r[1:] for r in rows]


def expected_marks(row: pd.Series, metric: str, frame: pd.DataFrame) -> set[tuple[int, int]]:
    marks = set()
    for i, base in enumerate(BASELINES):
        if row[f"{metric} significant vs {base}"] is True:
            base_value = frame[(frame["dataset"] == row["dataset"]) & (frame["name"] == base)][metric].iloc[0]
            if row[metric] != base_value:  # equal means and no wins/losses counted: no direction to show
                marks.add((i, 1 if row[metric] > base_value else -1))
    return marks


@pytest.mark.parametrize("fmt", ["latex", "markdown"])
def test_one_table_marks_exactly_the_best_and_significant_cells(out, fmt):
    text = render_table(out, fmt)
    frame = pd.read_csv(out / "results.csv")
    ok = frame[frame["error"].isna()]
    if fmt == "latex":
        groups, names, cells = parse_latex(text)
        assert groups == ["vaswani", "scifact"] and text.count(r"\begin{table") == 1
        escape = latex_escape
    else:
        header, names, cells = parse_markdown(text)
        assert header[1:4] == ["vaswani: AP", "vaswani: nDCG@10", "vaswani: R@1000"]
        escape = markdown_escape
    display = {**MANIFEST["display_names"]}
    assert names == [escape(display.get(n, n)) for n in dict.fromkeys(ok["name"])]  # failed one left out
    columns = METRICS + FIGURES
    for d, (dataset, group) in enumerate(ok.groupby("dataset", sort=False)):
        for (_, row), row_cells in zip(group.iterrows(), cells):
            for c, column in enumerate(columns):
                value, bold, marks = parse_cell(row_cells[d * len(columns) + c], fmt)
                if column in METRICS:
                    printed = group[column].round(4)
                    assert bold == (round(row[column], 4) == printed.max()), (dataset, row["name"], column)
                    assert value == pytest.approx(row[column], abs=5e-5)
                    assert marks == expected_marks(row, column, ok), (dataset, row["name"], column)
                else:
                    shown = group[group[column].notna()]
                    best = shown[column].idxmax() if SPREAD[column] else shown[column].idxmin()
                    overlaps = (row[f"{column}_min"] <= shown.loc[best, f"{column}_max"]
                                and row[f"{column}_max"] >= shown.loc[best, f"{column}_min"])
                    assert bold == bool(overlaps), (dataset, row["name"], column)
                    assert marks == set()
                    if pd.isna(row[column]):
                        assert math.isnan(value)
                    else:
                        assert value == pytest.approx(row[column], rel=0.006)


def test_fixture_exercises_ties_spreads_and_both_directions(out):
    """Guards the test above against a fixture too easy to catch a wrong mark."""
    md = render_table(out, "markdown")
    rows = {r[0]: r[1:] for r in (line.split("|")[1:-1] for line in md.splitlines() if line.startswith("| "))}
    cells = {name.strip(): [c.strip() for c in r] for name, r in rows.items()}
    assert cells["BM25"][:3] == ["0.3000▼b", "0.4500▼b", "0.8000▼b"]  # worse than RM3 on every metric
    assert cells["grid (k1=0.6, b=0.4)"][0] == "0.3000▼b"  # AP 0.29999 prints as 0.3000: tied with BM25's
    assert cells[markdown_escape(ODD)][0] == "**0.3600**"  # AP is never significant vs BM25; not vs RM3 here
    assert cells["BM25 \\>\\> RM3"][2] == cells[markdown_escape(ODD)][2] == "**0.8500**▲a"  # a tie, both better than a
    assert cells["grid (k1=0.6, b=0.4)"][1] == "0.4000▼a▼b"  # worse than both baselines
    assert cells[markdown_escape(ODD)][7] == "**0.7100**▲a▲b"  # nDCG@10 on scifact: better than both
    assert cells["BM25"][3] == "**2.00**" and cells["grid (k1=0.6, b=0.4)"][3] == "**2.05**"  # spreads overlap
    assert cells["BM25 \\>\\> RM3"][3] == "6.00"  # outside the best's spread: not bold
    assert cells["precomputed"][3:6] == ["–", "–", "–"]


def test_significance_legend_names_baselines_test_correction_alpha_and_hardware(out):
    latex = render_table(out, "latex")
    caption = re.search(r"\\caption\{(.*)\}", latex).group(1)
    assert caption.startswith("Results on vaswani and scifact.")
    assert "AMD EPYC 7B13, 2 cores, 1 torch thread, BLAS OpenBLAS 0.3, no GPU" in caption
    legend = latex.split(r"\footnotesize")[1]
    for part in (r"a: BM25, b: BM25 \textgreater{}\textgreater{} RM3", "paired t-test", "Holm correction",
                 r"$\alpha$ = 0.05", r"$\blacktriangle$ / $\blacktriangledown$", "median of 3 runs after 1 warm-up",
                 "over 20 sampled queries", r"cost at \$0.096 per hour (c5.large\_spot \& co)",
                 "Failed, not shown: broken (vaswani)"):
        assert part in legend, part
    assert latex.index(r"\caption") < latex.index(r"\begin{tabular}") and r"\label{tab:fixture}" in latex
    single = write_fixture(out.parent / "single", [r for r in ROWS if r[0] == "vaswani"],
                           {**MANIFEST, "baselines": ["BM25"]})
    text = render_table(single, "text")
    assert "▲ / ▼: significantly better / worse than BM25 (paired t-test, Holm correction, α = 0.05)." in text
    assert "0.7000▼" in text  # one baseline: no letters


def test_terminal_table_has_no_escapes_and_aligned_digits(out):
    text = render_table(out, "text")
    assert "\\" not in text and "**" not in text and "\x1b" not in text
    lines = text.splitlines()
    assert lines[2].split() == ["vaswani", "scifact"]  # the group row above the headers
    body = [line for line in lines if line.startswith(("BM25", "grid", "precomputed"))]
    ends = {len(line.split("0.3000")[0]) for line in body if "0.3000" in line}
    assert len(ends) == 1  # AP digits line up whether or not a marker follows
    assert ODD in text
    assert "\x1b[1m0.3600\x1b[0m" in render_table(out, "text", ansi=True)


def test_table_options_choose_columns_digits_rows_names_and_width(out):
    latex = render_table(out, "latex", columns=["nDCG@10", "latency_p50_ms"], digits={"nDCG@10": 2},
                         pipelines=["grid[k1=0.6,b=0.4]", "BM25"], names={"BM25": "Okapi BM25"}, width="page",
                         caption="Two systems.", label="tab:two")
    groups, names, cells = parse_latex(latex)
    assert names == ["grid (k1=0.6, b=0.4)", "Okapi BM25"]
    assert r"Pipeline & nDCG@10 & p50 (ms) & nDCG@10 & p50 (ms) \\" in latex
    assert cells[1][0] == r"\textbf{0.45}" and cells[1][2] == r"\textbf{0.66}"
    assert r"\begin{table*}" in latex and r"\caption{Two systems." in latex and r"\label{tab:two}" in latex
    assert "QPS" not in latex and r"\$/1M" not in latex
    with pytest.raises(TableOptionError, match=r"table.columns.1: unknown column 'MAP'"):
        table_options({"columns": ["AP", "MAP"]}, METRICS)
    with pytest.raises(TableOptionError, match=r"table.width"):
        table_options({"width": "wide"}, METRICS)
    with pytest.raises(TableOptionError, match=r"table.digits.AP"):
        table_options({"digits": {"AP": -1}}, METRICS)
    with pytest.raises(ValueError, match="format"):
        render_table(out, "html")


def test_manifest_table_section_is_the_default(tmp_path):
    out = write_fixture(tmp_path / "o", manifest={**MANIFEST, "table": {"columns": ["AP"], "width": "column"}})
    latex = render_table(out, "latex")
    assert r"\begin{table}[t]" in latex and r"Pipeline & AP & AP \\" in latex
    assert r"Pipeline & AP & QPS & AP & QPS \\" in render_table(out, "latex", columns=["AP", "qps"])


def test_units_and_number_formats():
    assert [significant(v) for v in (0.0000206, 0.0205, 1.92, 25.04, 151.2, 2075.4, 9.996, 0)] == [
        "0.0000206", "0.0205", "1.92", "25.0", "151", "2075", "10.0", "0"]
    assert pvalue(0.000032) == "3.2e-05" and pvalue(0.5) == "5.0e-01" and pvalue(math.nan) == ""


def test_write_tables(out):
    tex, md = write_tables(out)
    assert tex.read_text() == render_table(out, "latex") and md.read_text() == render_table(out, "markdown")
    assert tex.read_text().startswith("% transformers-ir table; needs \\usepackage{booktabs,amssymb,graphicx}")
    assert md.read_text().startswith("Table: Results on vaswani and scifact.")
    assert not list(out.glob(".*.tmp"))


def test_table_without_baselines_or_efficiency(tmp_path):
    out = write_fixture(tmp_path / "out", manifest={"metrics": METRICS})
    latex = render_table(out, "latex")
    assert "significantly" not in latex and "per hour" not in latex and "blacktriangle" not in latex
    assert r"\textbf{0.3600}" in latex  # best AP on vaswani still bold


# --- plots -----------------------------------------------------------------------------------------------

def test_pareto_frontier_on_hand_made_points():
    points = [(1, 0.3), (2, 0.5), (2, 0.4), (3, 0.45), (4, 0.6), (0.5, 0.1), (math.nan, 0.9), (4, 0.6), (5, 0.6)]
    # (2, .4) and (3, .45) are beaten by (2, .5); (5, .6) by (4, .6); NaN is left out; ties on both axes stay
    assert pareto_frontier(points) == [5, 0, 1, 4, 7]
    assert pareto_frontier([(1.0, 0.5)]) == [0]
    assert pareto_frontier([]) == []
    assert pareto_frontier([(1, 0.5), (1, 0.7)]) == [1]  # same cost: the better one only


def test_pareto_frontier_treats_overlapping_spreads_as_equal_cost():
    # (cost, quality, low, high): b is cheaper than c by median, but their spreads overlap, so c (better) beats b;
    # a is cheaper beyond any overlap and stays; d costs more than c beyond its spread and scores no more.
    points = [(1.0, 0.30, 0.9, 1.1), (2.0, 0.40, 1.8, 2.4), (2.2, 0.45, 2.1, 2.5), (4.0, 0.45, 3.9, 4.1)]
    assert pareto_frontier(points) == [0, 2]
    assert pareto_frontier([(p[0], p[1]) for p in points]) == [0, 1, 2]  # on medians alone b would stay


def svg_panel(group: pd.DataFrame, labels=None) -> ET.Element:
    """One panel of nDCG@10 against latency, as a parsed SVG element."""
    labels = labels or [str(i + 1) for i in range(len(group))]
    body = "".join(panel(60, 30, group, "latency_p50_ms", "Latency p50 (ms)", "nDCG@10", labels, "t"))
    return ET.fromstring(f'<svg xmlns="http://www.w3.org/2000/svg">{body}</svg>')


def texts(svg: ET.Element, cls: str | None = None) -> list[ET.Element]:
    return [t for t in svg.iter(f"{SVG}text") if cls is None or t.get("class") == cls]


def label_box(t: ET.Element) -> tuple[float, float, float, float]:
    x, y, size = float(t.get("x")), float(t.get("y")), float(t.get("font-size"))
    w = text_px(t.text, size)
    x = x - w / 2 if t.get("text-anchor") == "middle" else x - w if t.get("text-anchor") == "end" else x
    return x, y - size, x + w, y


def overlap(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def test_panel_steps_through_the_frontier_with_spreads_and_labels():
    group = pd.DataFrame({"name": ["a", "b", "c", "d", "e"], "nDCG@10": [.3, .5, .4, .6, .7],
                          "latency_p50_ms": [1.0, 2.0, 3.0, 8.0, math.nan],
                          "latency_p50_ms_min": [0.9, 1.9, 2.0, 7.0, math.nan],
                          "latency_p50_ms_max": [1.1, 2.1, 4.0, 9.0, math.nan]})
    svg = svg_panel(group)
    frontier = [c for c in svg.iter(f"{SVG}circle") if c.get("fill") == FRONTIER]
    step = next(p for p in svg.iter(f"{SVG}path") if p.get("stroke") == FRONTIER).get("d")
    corners = re.findall(r"[MV]([\d.]+)", step)
    assert len(frontier) == 3 and len(corners) == 3  # a, b and d; c is beaten by b, e has no latency
    xs = sorted(float(c.get("cx")) for c in frontier)
    assert [float(x) for x in re.findall(r"[MH]([\d.]+)", step)] == pytest.approx(xs, abs=0.1)
    assert sorted(t.text for t in texts(svg, "label")) == ["1", "2", "3", "4"]
    assert [t.text for t in svg.iter(f"{SVG}title")] == ["not shown, no Latency p50 (ms): e"]
    ticks = [t.text for t in texts(svg) if t.get("y") == f"{30 + PANEL_H + 14:.1f}"]
    assert ticks == ["2", "4", "6", "8"]  # 0.9 to 9 ms: one decade, linear
    wide = group.assign(latency_p50_ms=[1.0, 20.0, 300.0, 800.0, math.nan], latency_p50_ms_min=math.nan,
                        latency_p50_ms_max=math.nan)
    svg = svg_panel(wide)
    ticks = [t.text for t in texts(svg) if t.get("y") == f"{30 + PANEL_H + 14:.1f}"]
    assert ticks == ["1", "10", "100", "1000"]  # 1 to 800 ms: more than two decades, log


def test_close_points_share_one_label_and_labels_do_not_overlap():
    group = pd.DataFrame({"name": [f"p{i}" for i in range(9)],
                          "nDCG@10": [.680, .6801, .6802, .681, .60, .62, .64, .70, .6805],
                          "latency_p50_ms": [2.0, 2.01, 2.02, 2.0, 5.0, 5.5, 6.0, 9.0, 3.0]})
    svg = svg_panel(group)
    labels = texts(svg, "label")
    assert "1,2,3,4" in [t.text for t in labels]  # four points on top of each other: one label
    boxes = [label_box(t) for t in labels]
    assert not any(overlap(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
    ticks = [label_box(t) for t in texts(svg) if t.get("text-anchor") == "middle" and t.get("font-size") == "10"]
    assert len(ticks) >= 3 and not any(overlap(a, b) for i, a in enumerate(ticks) for b in ticks[i + 1:])


def test_write_pareto(out):
    [svg] = write_pareto(out)
    root = ET.parse(svg).getroot()
    words = [t.text for t in texts(root)]
    for name in ("BM25", "BM25 >> RM3", ODD, "grid (k1=0.6, b=0.4)"):  # the key names every pipeline
        assert name in words, name
    notes = [t.text for t in root.iter(f"{SVG}title")]
    assert notes == ["not shown, no Latency p50 (ms), batch size 1: precomputed",  # no efficiency figures
                     "not shown, no $ per 1M queries: precomputed"]
    assert "vaswani: nDCG@10" in words and "scifact: nDCG@10" in words  # the manifest's pareto_metric
    assert "Failed, not shown: broken (vaswani)" in words
    write_pareto(out, metric="AP")
    assert "scifact: AP" in svg.read_text()
    with pytest.raises(ValueError, match="MRR"):
        write_pareto(out, metric="MRR")


def test_compare(tmp_path):
    a = write_fixture(tmp_path / "a")
    changed = [(ds, name, ap + 0.01, ndcg - 0.02, r, tuple(v / 2 for v in p50), s1, s2, err)
               for ds, name, ap, ndcg, r, p50, s1, s2, err in ROWS if name != "precomputed"]
    changed[2] = changed[2][:-1] + ("CUDA error",)  # ODD on vaswani fails in B
    changed.append(("vaswani", "new one", .5, .5, .5, (1.0, 1.0, 1.0), None, None, None))
    b = write_fixture(tmp_path / "b", changed, {**MANIFEST, "metrics": ["nDCG@10", "AP"]})
    text = compare(a, b)
    lines = text.splitlines()
    assert lines[0] == f"A = `{a}`, B = `{b}`"
    header = [c.strip() for c in lines[2].strip("|").split("|")]
    assert header == ["dataset", "name", "AP (A)", "AP (B)", "Δ AP", "nDCG@10 (A)", "nDCG@10 (B)", "Δ nDCG@10",
                      "p50 (ms) (A)", "p50 (ms) (B)", r"\$/1M q. (A)", r"\$/1M q. (B)"]
    rows = {(r[0], r[1]): r for r in ([c.strip() for c in line.strip("|").split("|")] for line in lines[4:]
                                      if line.startswith("|"))}
    assert ("vaswani", "BM25 \\>\\> RM3") in rows and ("scifact", markdown_escape(ODD)) in rows
    assert rows["vaswani", "BM25"][2:] == ["0.3000", "0.3100", "+0.0100", "0.4500", "0.4300", "-0.0200",
                                           "2.00", "1.00", "0.0534", "0.0267"]
    assert "Only in A: " + markdown_escape(ODD) + " (vaswani), precomputed (vaswani)" in text
    assert "Only in B: new one (vaswani)" in text
    assert "Failed in A: broken (vaswani)" in text
    assert "Failed in B: " + markdown_escape(ODD) + " (vaswani), broken (vaswani)" in text


# --- LaTeX in a real paper -------------------------------------------------------------------------------

ALLOWED_PACKAGES = {"booktabs", "multirow", "amssymb", "graphicx", "xcolor"}
FILLER = " ".join(["Retrieval effectiveness and efficiency are reported together in one table."] * 12)


def compile_in_article(table: str, folder, options: str = "twocolumn") -> str:
    """pdflatex a two-column article holding ``table`` (loading only what its first line names): the log.
    Fails on a LaTeX error or an overfull box; a table that had to be scaled down logs TIR-SCALED."""
    import subprocess
    packages = re.match(r"% transformers-ir table; needs \\usepackage\{([\w,]+)\}\n", table).group(1).split(",")
    assert set(packages) <= ALLOWED_PACKAGES
    (folder / "table.tex").write_text(table)
    (folder / "paper.tex").write_text("\n".join([
        rf"\documentclass[{options}]{{article}}", rf"\usepackage{{{','.join(packages)}}}",
        r"\let\tirresize\resizebox\renewcommand{\resizebox}[3]{\typeout{TIR-SCALED}\tirresize{#1}{#2}{#3}}",
        r"\begin{document}", FILLER, r"\input{table.tex}", *[FILLER] * 6, r"Table~\ref{" +
        re.search(r"\\label\{([^}]*)\}", table).group(1) + "}.", r"\end{document}"]))
    done = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "paper.tex"], cwd=folder,
                          capture_output=True, text=True, timeout=120)
    log = (folder / "paper.log").read_text(errors="replace")
    assert done.returncode == 0, log[-3000:]
    assert "Overfull" not in log and "\n!" not in log, log[-3000:]
    return log


needs_pdflatex = pytest.mark.skipif(not IN_CI and shutil.which("pdflatex") is None,  # under CI: fail, never skip
                                    reason="pdflatex not installed (.ci/run installs texlive-latex-recommended)")


@needs_pdflatex
def test_latex_compiles_unchanged_in_a_two_column_article(out, tmp_path):
    # one dataset, a few columns: a one-column `table` at its natural size
    single = write_fixture(tmp_path / "single", [r for r in ROWS if r[0] == "vaswani"])
    small = render_table(single, "latex", columns=["AP", "nDCG@10", "latency_p50_ms"], pipelines=BASELINES)
    assert r"\begin{table}[t]" in small
    assert "TIR-SCALED" not in compile_in_article(small, tmp_path)
    # both datasets, every default column, two baselines: `table*` across the page
    full = render_table(out, "latex")
    assert r"\begin{table*}[t]" in full
    compile_in_article(full, tmp_path)
    # forced into one column although too wide: scaled to the column, never overfull
    forced = render_table(out, "latex", width="column")
    assert r"\begin{table}[t]" in forced and "TIR-SCALED" in compile_in_article(forced, tmp_path)
    # a template with larger type than estimated for: still no overfull box
    compile_in_article(small, tmp_path, "twocolumn,12pt")


@needs_pdflatex
def test_width_estimate_matches_latex(out, tmp_path):
    """The estimate that picks table / table* is within a few percent of the width LaTeX typesets."""
    from transformers_ir.experiment.report import build_grid, latex_layout, load_results
    frame, manifest = load_results(out)
    for columns in (["nDCG@10"], ["AP", "nDCG@10", "R@1000", "latency_p50_ms", "qps", "usd_per_1m_queries"]):
        options = table_options(None, METRICS, columns=columns)
        _, estimate = latex_layout(build_grid(frame, manifest, options), options)
        table = render_table(out, "latex", columns=columns).replace(r"\ifdim\wd0",
                                                                    r"\typeout{TIR-WIDTH \the\wd0}\ifdim\wd0")
        measured = float(re.search(r"TIR-WIDTH ([\d.]+)pt", compile_in_article(table, tmp_path)).group(1))
        assert measured <= estimate <= 1.06 * measured, (columns, measured, estimate)
