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
