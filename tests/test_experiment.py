"""tir.Experiment: equal to pt.Experiment, significance equal to scipy/statsmodels, checks before work."""
import ir_measures
import numpy as np
import pandas as pd
import pyterrier as pt
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests

import transformers_ir as tir
from transformers_ir.core import MissingColumnError, UnknownMetricError

from .conftest import needs_data

pytestmark = needs_data("vaswani")
METRICS = ["AP", "nDCG@10", "R@100"]


@pytest.fixture(scope="module")
def setup():
    ds = tir.load_dataset("vaswani")
    pipelines = [tir.BM25(ds, k1=0.9, b=0.4) % 100, tir.BM25(ds, k1=1.2, b=0.75) % 100,
                 tir.BM25(ds, stemmer="none") % 100]
    return ds, pipelines, ds.topics(), ds.qrels()


def test_equals_pt_experiment_on_fused_cutoffs(setup):
    _, pipelines, topics, qrels = setup
    # tir.Experiment compiles pipelines so `% k` is fused into PISA; pt.Experiment (linear plan) does not,
    # and a fused top-k and a cut top-1000 may break score ties at the cutoff differently. Same pipelines,
    # compiled for both:
    pipelines = [p.compile() for p in pipelines]
    names = ["a", "b", "c"]
    measures = [ir_measures.parse_measure(m) for m in METRICS]  # pt.Experiment reads strings as trec_eval names
    ours = tir.Experiment(pipelines, topics, qrels, METRICS, names=names, baseline=0, correction="holm")
    theirs = pt.Experiment(pipelines, topics, qrels, measures, names=names, baseline=0, correction="holm")
    pd.testing.assert_frame_equal(pd.DataFrame(ours[theirs.columns]), theirs, rtol=1e-12)


def test_significance_equals_scipy_and_statsmodels(setup):
    _, pipelines, topics, qrels = setup
    res = tir.Experiment(pipelines, topics, qrels, ["AP"], names=["a", "b", "c"], baseline="a",
                         test="wilcoxon", correction="bonferroni")
    pq = res.perquery.pivot(index="qid", columns="name", values="value")
    p = [stats.wilcoxon(pq[n], pq["a"]).pvalue for n in ["b", "c"]]
    np.testing.assert_allclose(res["AP p-value"][1:], p)
    np.testing.assert_allclose(res["AP p-value corrected"][1:], multipletests(p, method="bonferroni")[1])


def test_per_stage_times_follow_the_chain(setup):
    ds, pipelines, topics, qrels = setup
    res = tir.Experiment({"bm25": pipelines[0], "bm25+text": pipelines[0] >> ds.text_loader()},
                         topics, qrels, ["AP"])
    stages = res.stages.groupby("name")["stage"].apply(list).to_dict()
    assert len(stages["bm25"]) == 1 and stages["bm25"][0].startswith("BM25('vaswani'")
    assert "num_results=100" in stages["bm25"][0]  # the % 100 was fused into the retriever
    assert len(stages["bm25+text"]) == 2 and stages["bm25+text"][1].startswith("TextLoader")
    assert (res.results["mrt_ms"] > 0).all()
    assert res.results.loc[0, "AP"] == pytest.approx(res.results.loc[1, "AP"])


def test_unknown_metric_is_reported_before_running(setup):
    _, pipelines, topics, qrels = setup
    with pytest.raises(UnknownMetricError, match="unknown metric 'nDGC@10'"):
        tir.Experiment(pipelines, topics, qrels, ["nDGC@10"])


def test_missing_column_fails_before_any_stage_runs(setup):
    ds, pipelines, topics, qrels = setup
    calls = []

    def count(df):
        if len(df):
            calls.append(len(df))
        return df

    needs_text = pt.apply.generic(lambda df: df.assign(score=df["text"].str.len()), required_columns=["text"])
    first = pt.apply.generic(count)
    with pytest.raises(pt.validate.InputValidationError, match="text"):
        tir.Experiment([first >> pipelines[0], first >> pipelines[0] >> needs_text], topics, qrels, ["AP"],
                       names=["ok", "broken"])
    assert calls == []  # nothing ran: the broken second pipeline was caught before the first one started


def test_topics_without_query_column_are_rejected(setup):
    _, pipelines, topics, qrels = setup
    with pytest.raises(MissingColumnError, match="Experiment topics"):
        tir.Experiment(pipelines, topics[["qid"]], qrels, ["AP"])


def test_precomputed_run_frames_are_evaluated_like_pipelines(setup):
    _, pipelines, topics, qrels = setup
    run = pipelines[0].compile().transform(topics)  # tir.Experiment runs compiled (fused) pipelines
    res = tir.Experiment({"live": pipelines[0], "frame": run}, topics, qrels, ["AP"])
    assert res.results["AP"][0] == pytest.approx(res.results["AP"][1])
    assert np.isnan(res.results["mrt_ms"][1])


def test_markers_say_which_way_and_agree_in_every_output(setup):
    """BM25 % 100 finds significantly more relevant documents in its top 100 than BM25 % 10 (the baseline), and
    BM25 % 1 fewer: ▲ and ▼ on R@100, the same in table.tex, table.md, the terminal and the notebook."""
    ds, _, topics, qrels = setup
    bm25 = tir.BM25(ds, k1=0.9, b=0.4)
    res = tir.Experiment({"top10": bm25 % 10, "top100": bm25 % 100, "top1": bm25 % 1}, topics, qrels,
                         ["AP", "R@100"], baseline="top10", correction="holm", latency_queries=3)
    r100 = res.results.set_index("name")["R@100"]
    assert r100["top100"] > r100["top10"] > r100["top1"]
    assert res.results.set_index("name").loc[["top100", "top1"], "R@100 reject"].all()  # pt's column
    md = {line.split("|")[1].strip(): line.replace("**", "") for line in res.table("markdown").splitlines()
          if line.startswith("| top")}
    text = {line.split()[0]: line for line in res.table("text").splitlines() if line.startswith("top")}
    latex = {line.split("&")[0].strip(): line for line in res.table("latex").splitlines() if line.startswith("top")}
    html_rows = {row.split("</td>")[0].rsplit(">", 1)[1]: row
                 for row in res._repr_html_().split("<details>")[0].split("<tr>")[1:] if row.startswith("<td>top")}
    for name, mark, tex in (("top100", "▲", r"\blacktriangle}"), ("top1", "▼", r"\blacktriangledown}")):
        assert f"{r100[name]:.4f}{mark}" in md[name] and f"{r100[name]:.4f}{mark}" in text[name]
        assert f"{r100[name]:.4f}" + "${}^{" + tex + "$" in latex[name].replace(r"\textbf{", "").replace("}${}", "${}")
        assert f"{r100[name]:.4f}" in html_rows[name] and mark in html_rows[name]
    assert "▲" not in md["top10"] + text["top10"] + html_rows["top10"] and "triangle" not in latex["top10"]


def test_notebook_view_is_compact_with_bars_on_one_scale(setup):
    ds, pipelines, topics, qrels = setup
    res = tir.Experiment({"bm25": pipelines[0], "bm25 + text": pipelines[0] >> ds.text_loader(),
                          "k1=1.2": pipelines[1]}, topics, qrels, ["AP"], baseline="bm25", latency_queries=3)
    html = res._repr_html_()
    assert "0.0000" not in html and "nan" not in html.lower()
    assert "p50 (ms)" in html and "QPS" in html and "$/1M q." in html and "RSS (MB)" in html
    assert " ±" in html  # latency p50 with its spread over the repeats
    assert "e-" in html.split("paired tests")[1]  # p-values in scientific notation
    # stage names are text, not only tooltips; widths follow one scale for every pipeline
    assert ">BM25 " in html and ">TextLoader " in html
    import re
    widths = {name: [float(w) for w in re.findall(r"width:([\d.]+)px", row)]
              for name, row in re.findall(r"<tr><td>([^<]+)</td>(.*?)</tr>", html.split("<details>")[0])}
    seconds = res.stages.groupby("name")["seconds"].apply(list).to_dict()
    px_per_second = {n: sum(widths[n]) / sum(seconds[n]) for n in seconds}
    assert px_per_second["bm25"] == pytest.approx(px_per_second["bm25 + text"], rel=0.05)
    again = tir.Experiment({"bm25": pipelines[0]}, topics, qrels, ["AP"], latency_queries=0)
    assert "(cached)" in again._repr_html_() and again.results["cached_stages"][0] == 1
    assert res._tir.timing == {"repeats": 3, "warmup": 1} and res._tir.hardware["cores"] >= 1
