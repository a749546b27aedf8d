"""tir.Experiment is pt.Experiment: the same call, run through both on the same systems, gives pt's columns with
equal values (ours may add columns), for every argument pt.Experiment has."""
from __future__ import annotations

import os
import pickle
import re
import warnings

import ir_measures
import numpy as np
import pandas as pd
import pyterrier as pt
import pytest
from pandas.io.formats.style import Styler
from scipy import stats

import transformers_ir as tir
from transformers_ir.experiment import ExperimentFrame

from .conftest import needs_data

pytestmark = needs_data("vaswani")
METRICS = ["map", "ndcg_cut_10", "P_5"]
# pt's advice on its own execution plans; our engine always shares common prefixes, so it has none to give
PLAN_HINTS = ("shared pipeline components", "but no common pipeline prefix was found")


@pytest.fixture(scope="module")
def vaswani():
    ds = tir.load_dataset("vaswani")
    systems = {"bm25": tir.BM25(ds, k1=0.9, b=0.4, num_results=100),
               "bm25-k1.2": tir.BM25(ds, k1=1.2, b=0.75, num_results=100),
               "bm25-k0.6": tir.BM25(ds, k1=0.6, b=0.3, num_results=100)}
    return ds, systems, ds.topics(), ds.qrels()


def one_sided(a, b):
    return stats.ttest_rel(a, b, alternative="greater")


def _cases(systems, topics, qrels, tmp):
    """(id, positional args, keyword args): each a pt.Experiment call a PyTerrier user might write."""
    listed = list(systems.values())
    run = systems["bm25-k1.2"].transform(topics)  # a precomputed run, as pt users pass DataFrames
    part_topics, part_qrels = topics.iloc[:60], qrels[qrels["qid"].astype(int) > 30]
    measures = [ir_measures.AP @ 100, ir_measures.nDCG @ 10, ir_measures.R @ 50]
    return [
        ("defaults", (listed, topics, qrels, METRICS), {}),
        ("dict-baseline-name-holm", (systems, topics, qrels), {"eval_metrics": METRICS, "baseline": "bm25",
                                                               "correction": "holm"}),
        ("names-baseline-index-wilcoxon-bonferroni", (listed, topics, qrels, METRICS),
         {"names": ["a", "b", "c"], "baseline": 1, "test": "wilcoxon", "correction": "bonferroni",
          "correction_alpha": 0.1}),
        ("callable-test", (listed, topics, qrels, METRICS), {"baseline": 0, "test": one_sided, "correction": "hs"}),
        ("perquery", (listed, topics, qrels, METRICS), {"perquery": True}),
        ("perquery-both", (listed, topics, qrels, METRICS), {"perquery": "both"}),
        ("dict-output", (listed, topics, qrels, METRICS), {"dataframe": False}),
        ("dict-output-perquery", (listed, topics, qrels, METRICS), {"dataframe": False, "perquery": True}),
        ("round-int-baseline", (listed, topics, qrels, METRICS), {"round": 3, "baseline": 0}),
        ("round-dict", (listed, topics, qrels, METRICS), {"round": {"map": 2, "P_5": 1}}),
        ("highlight-bold", (listed, topics, qrels, METRICS), {"highlight": "bold", "baseline": 0}),
        ("highlight-colour", (systems, topics, qrels, METRICS), {"highlight": "colour"}),
        ("batch-size", (listed, topics, qrels, METRICS), {"batch_size": 10, "baseline": 2}),
        ("filter-by-qrels", (listed, part_topics, part_qrels, METRICS), {"filter_by_qrels": True}),
        ("no-filter-by-topics", (listed, part_topics, part_qrels, METRICS), {"filter_by_topics": False}),
        ("no-filter-by-topics-batches", (listed, part_topics, part_qrels, METRICS),
         {"filter_by_topics": False, "batch_size": 25}),
        ("perquery-backfill", (listed, part_topics, part_qrels, ["map"]), {"perquery": True}),
        ("measure-objects-and-mrt", (listed, topics, qrels, measures + ["mrt"]), {"baseline": 0}),
        ("trec-family", (listed[:2], topics, qrels, ["official"]), {}),
        ("dataframe-system", ([listed[0], run], topics, qrels, METRICS),
         {"names": ["live", "frame"], "baseline": 1}),
        ("tree-plan-quiet", (listed, topics, qrels, METRICS), {"plan": "tree", "verbose": False,
                                                               "validate": "ignore"}),
        ("validate-error-verbose", (listed, topics, qrels, METRICS), {"validate": "error", "verbose": True}),
        ("save-dir", (systems, topics, qrels, METRICS), {"save_dir": str(tmp), "save_mode": "overwrite"}),
        ("save-dir-pickle", (systems, topics, qrels, METRICS),
         {"save_dir": str(tmp), "save_mode": "overwrite", "save_format": pickle}),
        ("deprecated-precompute-prefix", (listed, topics, qrels, METRICS), {"precompute_prefix": True}),
    ]


def assert_same(ours, theirs, where: str = "") -> None:
    """pt's result ``theirs`` is contained in ``ours``: same type, pt's columns/keys present with equal values."""
    if isinstance(theirs, tuple):
        assert isinstance(ours, tuple) and len(ours) == len(theirs), where
        for i, (a, b) in enumerate(zip(ours, theirs)):
            assert_same(a, b, f"{where}[{i}]")
    elif isinstance(theirs, Styler):
        assert isinstance(ours, Styler) and isinstance(ours.data, ExperimentFrame), where
        assert_same(ours.data, theirs.data, where)
        ours_ctx, theirs_ctx = ours._compute().ctx, theirs._compute().ctx
        assert {k: v for k, v in ours_ctx.items() if k[1] < theirs.data.shape[1]} == dict(theirs_ctx), where
        assert any(v for v in theirs_ctx.values()), f"{where}: nothing was highlighted"
    elif isinstance(theirs, pd.DataFrame):
        assert isinstance(ours, ExperimentFrame), where
        assert len(ours) == len(theirs), where
        for column in theirs.columns:
            assert column in ours.columns, f"{where}: column {column!r} missing"
            if column == "mrt":  # a time: both measured, not equal
                assert (ours[column] >= 0).all()
                continue
            pd.testing.assert_series_equal(ours[column], theirs[column], check_exact=theirs[column].dtype == object,
                                           rtol=1e-12, obj=f"{where} column {column!r}")
    elif isinstance(theirs, dict):
        assert isinstance(ours, dict) and set(theirs) <= set(ours), where
        for key, value in theirs.items():
            if key != "mrt":
                assert_same(ours[key], value, f"{where}[{key!r}]")
    elif isinstance(theirs, float) and np.isnan(theirs):
        assert np.isnan(ours), where
    else:
        assert ours == pytest.approx(theirs, rel=1e-12), where


def test_matrix_of_pt_experiment_calls(vaswani, tmp_path):
    ds, systems, topics, qrels = vaswani
    cases = _cases(systems, topics, qrels, tmp_path)
    assert len(cases) >= 15
    for case, args, kwargs in cases:
        with warnings.catch_warnings(record=True) as theirs_warned:
            warnings.simplefilter("always")
            theirs = pt.Experiment(*args, **kwargs)
        with warnings.catch_warnings(record=True) as ours_warned:
            warnings.simplefilter("always")
            ours = tir.Experiment(*args, **kwargs)
        assert_same(ours, theirs, case)
        expected = {str(w.message).split(".")[0] for w in theirs_warned
                    if not any(hint in str(w.message) for hint in PLAN_HINTS)}
        assert expected <= {str(w.message).split(".")[0] for w in ours_warned}, case
        if "save_dir" in kwargs:
            _same_saved_files(tmp_path / case, systems, topics, qrels, kwargs)


def _same_saved_files(tmp_path, systems, topics, qrels, kwargs):
    """pt and tir write the same run files and summaries; with save_mode='reuse' both read them back."""
    ours_dir, pt_dir = tmp_path / "ours", tmp_path / "pt"
    for d, experiment in ((ours_dir, tir.Experiment), (pt_dir, pt.Experiment)):
        d.mkdir(parents=True)
        experiment(systems, topics, qrels, METRICS, **{**kwargs, "save_dir": str(d)})
    assert sorted(os.listdir(ours_dir)) == sorted(os.listdir(pt_dir))
    for name in systems:
        ext = "res.gz" if kwargs.get("save_format", "trec") == "trec" else "mod"
        read = pt.io.read_results if ext == "res.gz" else (lambda p: pickle.load(open(p, "rb")))
        a, b = read(str(ours_dir / f"{name}.{ext}")), read(str(pt_dir / f"{name}.{ext}"))
        pd.testing.assert_frame_equal(a[["qid", "docno", "rank"]].reset_index(drop=True),
                                      b[["qid", "docno", "rank"]].reset_index(drop=True))
    for summary in ("aggregated.csv", "perquery.csv"):
        pd.testing.assert_frame_equal(pd.read_csv(ours_dir / summary), pd.read_csv(pt_dir / summary))
    # reuse: a run file stands in for its system (here: a poisoned file must change the result, for both)
    poisoned = pt.io.read_results(str(ours_dir / "bm25.res.gz")) if kwargs.get("save_format", "trec") == "trec" \
        else None
    if poisoned is not None:
        poisoned = poisoned[poisoned["rank"] < 1]
        for d, experiment in ((ours_dir, tir.Experiment), (pt_dir, pt.Experiment)):
            pt.io.write_results(poisoned, str(d / "bm25.res.gz"))
            reused = experiment(systems, topics, qrels, METRICS, save_dir=str(d), save_mode="reuse")
            assert reused.set_index("name").loc["bm25", "P_5"] < 0.2 < reused.set_index("name").loc["bm25-k1.2", "P_5"]


def test_same_errors_as_pt_for_bad_arguments(vaswani, tmp_path):
    _, systems, topics, qrels = vaswani
    listed = list(systems.values())
    for kwargs, message in [({"correction": "holm"}, "no baseline"),
                            ({"names": ["only-one"]}, "same length"),
                            ({"round": -1}, "integer >= 0"),
                            ({"save_dir": str(tmp_path / "absent")}, "does not exist")]:
        for experiment in (pt.Experiment, tir.Experiment):
            with pytest.raises((ValueError, AssertionError), match=message):
                experiment(listed, topics, qrels, METRICS, **kwargs)
    (tmp_path / "bm25.res.gz").write_text("")
    with pytest.raises(ValueError, match="already exists"):
        tir.Experiment(systems, topics, qrels, METRICS, save_dir=str(tmp_path), save_mode="error")
    with pytest.raises(TypeError, match="not both"):
        tir.Experiment(listed, topics, qrels, METRICS, metrics=METRICS)


def test_frame_keeps_our_figures_through_pandas_operations(vaswani):
    ds, systems, topics, qrels = vaswani
    res = tir.Experiment(systems, topics, qrels, ["AP", "nDCG@10"], baseline="bm25", correction="holm",
                         latency_queries=5, cost="AWS c7i.large")
    assert {"mrt_ms", "qps", "usd_per_1m_queries", "latency_p50_ms", "peak_rss_mb"} <= set(res.columns)
    assert (res["qps"] > 0).all() and (res["latency_p50_ms"] > 0).all()
    best = res.sort_values("AP", ascending=False).head(2)
    assert isinstance(best, ExperimentFrame)
    assert set(best.stages["name"]) == set(best["name"]) and set(best.runs) == set(best["name"])
    assert list(best.perquery.columns) == ["name", "qid", "measure", "value"]
    ap = best.perquery[best.perquery["measure"] == "AP"].groupby("name")["value"].mean()
    for name, value in ap.items():
        assert res.set_index("name").loc[name, "AP"] == pytest.approx(value)
    latex = res.to_latex()
    assert r"\toprule" in latex and "AP" in latex and "Holm correction" in latex
    significant = res["AP reject"].sum() + res["nDCG@10 reject"].sum()
    assert latex.count("${}^{") == significant  # a ▲ or ▼ on each significant cell
    assert ("None differs significantly from bm25" in latex) == (significant == 0)
    assert "\\begin{tabular}" in res.to_latex(index=False)  # with arguments: pandas' own to_latex
    svg = res.pareto()._repr_svg_()
    assert "Latency p50 (ms), batch size 1" in svg and "$ per 1M queries" in svg and "Pareto frontier" in svg
    html = res._repr_html_()
    assert "paired tests" in html and "time per stage" in html
    selected = res[["name", "AP", "AP p-value"]]._repr_html_()  # a selection shows what was selected, and the bars
    assert "AP p-value" in selected and "time per stage" in selected and "nDCG@10" not in selected
    assert re.search(r"<td>\d\.\de[-+]\d\d</td>", selected)  # p-values in scientific notation
    assert res.results.equals(pd.DataFrame(res))


def test_quiet_under_pandas_3(vaswani):
    """No warning at all from a notebook's worth of pipelines (PyTerrier operators, RM3, pt.apply, text, resets),
    even with every warning shown: PyTerrier's own pandas-3.1 ``inplace=`` notices are silenced in our engine."""
    ds, systems, topics, qrels = vaswani
    bm25 = systems["bm25"]
    pipelines = {"bm25": bm25, "sum": bm25 % 50 + systems["bm25-k1.2"] % 50, "scaled": 0.5 * (bm25 % 20),
                 "rm3": bm25 % 10 >> tir.RM3(ds) >> bm25,
                 "reset": bm25 % 10 >> tir.RM3(ds) >> bm25 >> pt.rewrite.reset(),
                 "apply": bm25 % 20 >> pt.apply.doc_score(lambda r: r["score"] * 2),
                 "text": bm25 % 10 >> pt.text.get_text(ds, "text")}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = tir.Experiment(pipelines, topics, qrels, ["AP", "nDCG@10"], baseline="bm25", correction="holm",
                             perquery="both", latency_queries=3)
        res.averages.to_latex(), res.averages._repr_html_()
    assert [f"{w.category.__name__}: {w.message}" for w in caught] == []
