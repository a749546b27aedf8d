"""RM3 on PISA: Anserini's RM3 computed independently, weighted BM25 queries, pt's rewrite convention, caching and
YAML; and (slow) against Pyserini's set_rm3 on Vaswani, SciFact and CISI."""
from __future__ import annotations

import re
from collections import Counter

import pandas as pd
import pytest

import transformers_ir as tir
from transformers_ir.core import MissingColumnError
from transformers_ir.experiment import StageCache
from transformers_ir.registry import stage_registry
from transformers_ir.data import document_text

from .conftest import needs_data, requires

pytestmark = needs_data("vaswani")


@pytest.fixture(scope="module")
def vaswani():
    return tir.load_dataset("vaswani")


def anserini_rm3(query: str, feedback: list[tuple[str, float]], docs: dict[str, str], analyzer, df: Counter,
                 n_docs: int, fb_terms: int, fb_lambda: float) -> dict[str, float]:
    """Anserini's Rm3Reranker written out plainly (independent of tir.RM3), over ``analyzer``'s terms."""
    def vector(text):
        counts = Counter(t for t in analyzer.terms(text)
                         if re.fullmatch(r"[a-z0-9]+", t) and 2 <= len(t) <= 20 and df[t] / n_docs <= 0.1)
        return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:fb_terms])

    rm = Counter()
    for docno, score in feedback:
        v = vector(docs[docno])
        for term, count in v.items():
            rm[term] += count / sum(v.values()) * score
    rm = dict(sorted(rm.items(), key=lambda kv: (-kv[1], kv[0]))[:fb_terms])
    q = Counter(analyzer.terms(query))
    terms = set(q) | set(rm)
    return {t: fb_lambda * q[t] / sum(q.values()) + (1 - fb_lambda) * rm.get(t, 0) / sum(rm.values()) for t in terms}


def test_expansion_equals_anserinis_rm3_computed_independently(vaswani):
    bm25 = tir.BM25(vaswani)
    rm3 = tir.RM3(vaswani, fb_docs=7, fb_terms=12, fb_lambda=0.6)
    topics = vaswani.topics().head(5)
    first = (bm25 % 7).transform(topics)
    expanded = rm3.transform(first)
    docs = {d["docno"]: document_text(d) for d in vaswani.corpus_iter()}
    analyzer = bm25.index.analyzer
    df = Counter(t for text in docs.values() for t in set(analyzer.terms(text)))  # from the corpus, not the index
    for row in expanded.itertuples():
        feedback = first[first["qid"] == row.qid][["docno", "score"]].itertuples(index=False)
        expected = anserini_rm3(row.query_0, list(feedback), docs, analyzer, df, len(docs), 12, 0.6)
        assert row.query_toks.keys() == expected.keys()
        for term, weight in expected.items():
            assert row.query_toks[term] == pytest.approx(weight, rel=1e-9)
        assert sum(row.query_toks.values()) == pytest.approx(1.0)
    # pt's rewrite convention: query_0 keeps the query, query shows the expansion
    assert expanded["query_0"].tolist() == topics["query"].tolist()
    assert expanded["query"][0].startswith(max(expanded["query_toks"][0], key=expanded["query_toks"][0].get) + "^")
    assert list(expanded.columns) == ["qid", "query_0", "query", "query_toks"]


def test_weighted_bm25_query_scores_are_weighted_sums(vaswani):
    bm25 = tir.BM25(vaswani) % 20
    plain = bm25.transform(pd.DataFrame({"qid": ["a", "b"], "query": ["dielectric", "liquids"]}))
    weighted = bm25.transform(pd.DataFrame({"qid": ["q"], "query": ["unused"],
                                            "query_toks": [{"dielectr": 0.3, "liquid": 0.7}]}))
    single = bm25.transform(pd.DataFrame({"qid": ["a"], "query": ["x"], "query_toks": [{"dielectr": 1.0}]}))
    assert single["docno"].tolist() == plain[plain["qid"] == "a"]["docno"].tolist()  # already stemmed: not again
    pd.testing.assert_series_equal(single["score"], plain[plain["qid"] == "a"]["score"].reset_index(drop=True),
                                   rtol=1e-6)
    scores = {q: dict(zip(g["docno"], g["score"])) for q, g in tir.BM25(vaswani).transform(
        pd.DataFrame({"qid": ["a", "b"], "query": ["dielectric", "liquids"]})).groupby("qid")}
    for docno, score in zip(weighted["docno"], weighted["score"]):
        expected = 0.3 * scores["a"].get(docno, 0.0) + 0.7 * scores["b"].get(docno, 0.0)
        assert score == pytest.approx(expected, rel=3e-3)  # weights become repeat counts within 0.25%


def test_qtf_weights_repeated_query_terms(vaswani):
    query = pd.DataFrame({"qid": ["1"], "query": ["microwave microwave microwave dielectric"]})
    counted = (tir.BM25(vaswani, qtf=True) % 10).transform(query)
    by_hand = (tir.BM25(vaswani) % 10).transform(query.assign(query_toks=[{"microwav": 3, "dielectr": 1}]))
    pd.testing.assert_frame_equal(counted[["docno", "score"]], by_hand[["docno", "score"]])
    once = (tir.BM25(vaswani) % 10).transform(query)
    assert once["docno"].tolist() != counted["docno"].tolist()
    assert "qtf=True" in repr(tir.BM25(vaswani, qtf=True))
    assert tir.BM25(vaswani, qtf=True).fingerprint() != tir.BM25(vaswani).fingerprint()


def test_rm3_composes_caches_and_round_trips_through_yaml(vaswani, tmp_path):
    bm25 = tir.BM25(vaswani)
    pipeline = bm25 % 10 >> tir.RM3(vaswani) >> bm25 % 1000
    topics, qrels = vaswani.topics(), vaswani.qrels()
    cache = StageCache(tmp_path / "stages")
    first = tir.Experiment({"bm25": bm25 % 1000, "rm3": pipeline}, topics, qrels, ["AP"], cache=cache)
    again = tir.Experiment({"rm3": pipeline}, topics, qrels, ["AP"], cache=cache)
    assert first.set_index("name").loc["rm3", "cached_stages"] == 0
    assert again["cached_stages"][0] == 3 and again["AP"][0] == first.set_index("name").loc["rm3", "AP"]
    assert first.set_index("name").loc["rm3", "AP"] > first.set_index("name").loc["bm25", "AP"]
    # the expanded queries read back from the cache are the ones computed (a dict column survives parquet)
    other = bm25 % 10 >> tir.RM3(vaswani) >> tir.BM25(vaswani, k1=1.2) % 1000
    from_cache = tir.Experiment([other], topics, qrels, ["AP"], cache=cache)
    assert from_cache["cached_stages"][0] == 2
    pd.testing.assert_frame_equal(from_cache.runs[str(other)], tir.Experiment([other], topics, qrels, ["AP"],
                                                                             cache=False).runs[str(other)])
    assert "RM3" in stage_registry()
    rebuilt = tir.from_yaml(tir.to_yaml(pipeline))["pipeline"]
    assert "class: RM3" in tir.to_yaml(pipeline)
    from transformers_ir.core.fingerprint import stage_fingerprint
    assert stage_fingerprint(rebuilt) == stage_fingerprint(pipeline)
    twice = (bm25 % 10 >> tir.RM3(vaswani) >> bm25 % 10 >> tir.RM3(vaswani)).transform(topics.head(2))
    assert list(twice.columns) == ["qid", "query_1", "query_0", "query_toks", "query"]
    assert twice["query_1"].tolist() == topics["query"].head(2).tolist()


def test_rm3_needs_results_and_sane_parameters(vaswani):
    with pytest.raises(MissingColumnError, match="RM3"):
        tir.RM3(vaswani).transform(vaswani.topics().head(2))
    with pytest.raises(ValueError, match="fb_lambda"):
        tir.RM3(vaswani, fb_lambda=1.5)
    empty = tir.RM3(vaswani).transform(pd.DataFrame(columns=["qid", "query", "docno", "score", "rank"]))
    assert list(empty.columns) == ["qid", "query_0", "query", "query_toks"] and not len(empty)


PYSERINI = {"vaswani": None, "scifact": "test", "cisi": None}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(PYSERINI))
def test_rm3_within_002_of_pyserini(name):
    """BM25(qtf) % 10 >> RM3 >> BM25 on PISA vs Pyserini's BM25 + set_rm3(10, 10, 0.5) on Lucene (the numbers and
    their differences are in experiments/bench_rm3.md)."""
    requires("pyserini")
    ds = tir.load_dataset(name)
    split = PYSERINI[name]
    topics, qrels = ds.topics(split), ds.qrels(split)
    feedback = {"fb_docs": 10, "fb_terms": 10, "fb_lambda": 0.5}
    bm25 = tir.BM25(ds)
    systems = {"pisa": bm25 % 1000,
               "pisa+rm3": tir.BM25(ds, qtf=True) % 10 >> tir.RM3(ds, **feedback) >> bm25 % 1000,
               "lucene+rm3": tir.LuceneBM25(ds, rm3=True, **feedback) % 1000}
    res = tir.Experiment(systems, topics, qrels, ["AP", "nDCG@10"], cache=False).set_index("name")
    print(f"\n{name}:\n{res[['AP', 'nDCG@10', 'qps']]}")
    for metric in ("AP", "nDCG@10"):
        assert res.loc["pisa+rm3", metric] == pytest.approx(res.loc["lucene+rm3", metric], abs=0.02)
    if name == "vaswani":
        assert res.loc["pisa+rm3", "AP"] > res.loc["pisa", "AP"]


def test_rm3_in_a_yaml_config(tmp_path):
    from transformers_ir.runner import run_config
    config = tmp_path / "rm3.yaml"
    config.write_text("name: rm3\ndataset: vaswani\nmetrics: [AP]\n"
                      "stages:\n  bm25: {class: BM25}\n  rm3: {class: RM3, fb_docs: 10, fb_terms: 10, fb_lambda: 0.5}\n"
                      "pipelines:\n  BM25: bm25 % 1000\n  BM25+RM3: bm25 % 10 >> rm3 >> bm25 % 1000\n"
                      "baseline: BM25\n")
    summary = run_config(config, tmp_path / "out", echo=lambda *a: None)
    ap = summary.results.set_index("name")["AP"]
    assert ap["BM25+RM3"] > ap["BM25"] == pytest.approx(0.3053, abs=1e-4)
