"""Parameters reach the engine: each one changes the output the way it should, checked against an independent
computation (an exact BM25 written here, scipy/statsmodels, hand-computed interpolation) — not just "it runs"."""
import collections
import math

import numpy as np
import pandas as pd
import pyterrier as pt
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests

import transformers_ir as tir
from transformers_ir.core.fingerprint import stage_fingerprint
from transformers_ir.experiment import add_significance
from transformers_ir.sparse.impact_index import ImpactIndex

from .conftest import needs_data

pytestmark = needs_data("vaswani")


@pytest.fixture(scope="module")
def vaswani():
    return tir.load_dataset("vaswani")


class ExactBM25:
    """BM25 as PISA defines it, computed by brute force over every document: PISA's tokeniser and Porter2 stemmer,
    query terms whose stem is a stemmed Terrier stopword removed (queries only), each query term once, idf =
    max(1e-6, ln((N - df + 0.5) / (df + 0.5))) * (k1 + 1), tf part f / (f + k1 * (1 - b + b * len / avg_len))."""

    def __init__(self, dataset):
        import pyterrier_pisa
        from pyterrier_pisa.stopwords import _STOPWORDS
        self.tokenize = pyterrier_pisa.tokenize
        self.stops = {s for word in _STOPWORDS["terrier"] for s in self.tokenize(word, "porter2")}  # stemmed, as PISA
        docs = list(dataset.corpus_iter())
        self.docnos = [d["docno"] for d in docs]
        tokens = [self.tokenize(tir.data.document_text(d), "porter2") for d in docs]
        self.lengths = np.array([len(t) for t in tokens], dtype=float)
        self.tfs = [collections.Counter(t) for t in tokens]
        self.df = collections.Counter(t for ts in tokens for t in set(ts))

    def scores(self, query: str, k1: float, b: float) -> np.ndarray:
        terms = {t for t in self.tokenize(query, "porter2") if t not in self.stops}
        n, avg = len(self.docnos), self.lengths.mean()
        out = np.zeros(n)
        for term in terms:
            if term not in self.df:
                continue
            idf = max(1e-6, math.log((n - self.df[term] + 0.5) / (self.df[term] + 0.5))) * (k1 + 1)
            for i, tf in enumerate(self.tfs):
                if f := tf.get(term, 0):
                    out[i] += idf * f / (f + k1 * (1 - b + b * self.lengths[i] / avg))
        return out


@pytest.mark.parametrize("k1, b", [(0.9, 0.4), (1.6, 0.9)])
def test_bm25_scores_equal_an_exact_bm25_for_each_k1_and_b(vaswani, k1, b):
    exact = ExactBM25(vaswani)
    topics = vaswani.topics().head(8)
    results = tir.BM25(vaswani, k1=k1, b=b, num_results=20).transform(topics)
    for qid, query in zip(topics["qid"], topics["query"]):
        expected = exact.scores(query, k1, b)
        got = results[results["qid"] == qid]
        row = {d: i for i, d in enumerate(exact.docnos)}
        np.testing.assert_allclose(got["score"], expected[[row[d] for d in got["docno"]]], rtol=1e-5)
        top = np.sort(expected)[::-1][:20]
        np.testing.assert_allclose(np.sort(got["score"].to_numpy())[::-1], top, rtol=1e-5)  # the top 20, not others


def test_num_results_and_the_fused_cutoff_bound_each_query(vaswani):
    topics = vaswani.topics().head(5)
    for stage in (tir.BM25(vaswani, num_results=7), (tir.BM25(vaswani) % 7).compile()):
        assert stage.transform(topics).groupby("qid").size().tolist() == [7] * 5
    deeper = tir.BM25(vaswani, num_results=30).transform(topics)
    shallow = tir.BM25(vaswani, num_results=7).transform(topics)
    pd.testing.assert_frame_equal(shallow.reset_index(drop=True),
                                  deeper[deeper["rank"] < 7].reset_index(drop=True))


def test_each_bm25_parameter_changes_the_ranking(vaswani):
    topics = vaswani.topics().head(20)
    base = tir.BM25(vaswani).transform(topics)
    key = ["qid", "docno", "score"]
    for change in ({"k1": 2.0}, {"b": 0.9}, {"stemmer": "none"}, {"stopwords": False}, {"qtf": True}):
        other = tir.BM25(vaswani, **change).transform(topics)
        assert not base[key].reset_index(drop=True).equals(other[key].reset_index(drop=True)), change


# --- significance ---------------------------------------------------------------------------------------------

def _perquery(rng, names, n=40):
    base = rng.uniform(0.1, 0.9, n)
    shifts = {"base": 0.0, "a": 0.03, "b": 0.08, "c": -0.05}
    rows = [(name, str(q), "AP", float(np.clip(base[q] + shifts[name] + rng.normal(0, 0.1), 0, 1)))
            for name in names for q in range(n)]
    return pd.DataFrame(rows, columns=["name", "qid", "measure", "value"])


@pytest.mark.parametrize("test, reference", [("t", stats.ttest_rel), ("wilcoxon", stats.wilcoxon)])
@pytest.mark.parametrize("correction", [None, "holm", "bonferroni", "fdr_bh"])
@pytest.mark.parametrize("alpha", [0.01, 0.05, 0.3])
def test_significance_follows_test_correction_and_alpha(test, reference, correction, alpha):
    names = ["base", "a", "b", "c"]
    long = _perquery(np.random.default_rng(7), names)
    table = add_significance(pd.DataFrame({"name": names}), long, ["base"], ["AP"], test, correction, alpha)
    wide = long.pivot(index="qid", columns="name", values="value")
    pvalues = [float(reference(wide[n], wide["base"])[1]) for n in names[1:]]
    if correction:
        reject, corrected, _, _ = multipletests(pvalues, alpha=alpha, method=correction)
    else:
        corrected, reject = np.asarray(pvalues), np.asarray(pvalues) < alpha
    got = table.set_index("name").loc[names[1:]]
    np.testing.assert_allclose(got["AP p_value vs base"], pvalues, rtol=1e-12)
    np.testing.assert_allclose(got["AP p_corrected vs base"], corrected, rtol=1e-12)
    assert got["AP significant vs base"].astype(bool).tolist() == list(reject)


def test_alpha_decides_what_is_significant():
    names = ["base", "a", "b", "c"]
    long = _perquery(np.random.default_rng(7), names)
    strict = add_significance(pd.DataFrame({"name": names}), long, ["base"], ["AP"], "t", "holm", 1e-9)
    loose = add_significance(pd.DataFrame({"name": names}), long, ["base"], ["AP"], "t", "holm", 0.999)
    assert not strict["AP significant vs base"].fillna(False).any()
    assert loose["AP significant vs base"].fillna(False).sum() == 3


def test_tir_experiment_correction_alpha_is_pts(vaswani):
    topics, qrels = vaswani.topics(), vaswani.qrels()
    systems = [tir.BM25(vaswani) % 100, tir.BM25(vaswani, k1=2.0, b=0.9) % 100, tir.BM25(vaswani, b=0.1) % 100]
    for alpha in (0.0001, 0.5):
        ours = tir.Experiment(systems, topics, qrels, ["map"], baseline=0, correction="holm", correction_alpha=alpha,
                              names=["a", "b", "c"])
        theirs = pt.Experiment(systems, topics, qrels, ["map"], baseline=0, correction="holm",
                               correction_alpha=alpha, names=["a", "b", "c"])
        assert ours["map reject"].tolist() == theirs["map reject"].tolist()
        np.testing.assert_allclose(ours["map p-value corrected"].astype(float).fillna(-1),
                                   theirs["map p-value corrected"].astype(float).fillna(-1))


# --- Fast-Forward weights, operators ----------------------------------------------------------------------------

def test_linear_combination_weights_are_applied_and_keyed(vaswani):
    topics = vaswani.topics().head(10)
    a, b = tir.BM25(vaswani) % 50, tir.BM25(vaswani, k1=2.0, b=0.9) % 50
    ra, rb = a.transform(topics), b.transform(topics)
    for wa, wb in ((0.1, 0.9), (0.9, 0.1)):
        got = (wa * a + wb * b).transform(topics).set_index(["qid", "docno"])["score"]
        merged = ra.set_index(["qid", "docno"])["score"].mul(wa).add(
            rb.set_index(["qid", "docno"])["score"].mul(wb), fill_value=0.0)
        pd.testing.assert_series_equal(got.sort_index(), merged.sort_index(), check_names=False, rtol=1e-12)
    assert stage_fingerprint(0.1 * a + 0.9 * b) != stage_fingerprint(0.9 * a + 0.1 * b)
    assert stage_fingerprint(a % 10) != stage_fingerprint(a % 11)
    result = tir.Experiment({"x": 0.1 * a + 0.9 * b, "y": 0.9 * a + 0.1 * b}, vaswani.topics(), vaswani.qrels(),
                            ["AP"], cache=False)
    assert result["AP"][0] != result["AP"][1]


# --- quantisation ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("scale", [10.0, 100.0])
def test_impact_scores_are_quantised_dot_products_at_each_scale(tmp_path, scale):
    rng = np.random.default_rng(3)
    vocabulary = [f"t{i}" for i in range(30)]
    docs = [(f"d{i}", {t: float(w) for t, w in zip(vocabulary, rng.uniform(0, 2, 30)) if w > 1.2}) for i in range(40)]
    index = ImpactIndex(tmp_path / f"idx{scale}").build(docs, scale=scale, description={"source": "random"})
    query = {"t1": 3, "t5": 1, "t9": 2}
    got = index.retriever(10).transform(pd.DataFrame({"qid": ["q"], "query": ["x"], "query_toks": [query]}))
    expected = {d: sum(w * round(v.get(t, 0) * scale) for t, w in query.items()) for d, v in docs}
    top = sorted(expected.items(), key=lambda x: -x[1])[:10]
    assert sorted(got["score"].tolist(), reverse=True) == [float(s) for _, s in top]
    assert all(got.set_index("docno")["score"][d] == expected[d] for d in got["docno"])
