"""Every first-stage retriever ranks each query once: given earlier results (a retriever after a retriever), it
ranks the distinct queries, keeps only their query columns, and returns what it returns on the bare topics."""
from __future__ import annotations

import pandas as pd
import pytest

import transformers_ir as tir
from transformers_ir.core.retriever import retriever_outputs, without_results

from . import tiny_models
from .conftest import needs_data, requires

pytestmark = needs_data("adi")
K = 5


@pytest.fixture(scope="module")
def adi():
    return tir.load_dataset("adi")


@pytest.fixture(scope="module")
def upstream(adi):
    """BM25 top 10 with document text attached: a results frame with a document column."""
    return tir.BM25(adi, k1=1.2, b=0.75) % 10 >> adi.text_loader()


def check_ranks_each_query_once(retriever, upstream, topics):
    direct = (retriever % K).transform(topics)
    after = (upstream >> retriever % K).transform(topics)
    assert len(after) and not after.duplicated(["qid", "docno"]).any()
    assert after.groupby("qid").size().max() <= K
    assert "text" not in after.columns  # a document column of the earlier results is not carried over
    assert list(after.columns) == ["qid", "query", "docno", "score", "rank"]
    key = ["qid", "docno", "rank"]
    pd.testing.assert_frame_equal(after[key].sort_values(key).reset_index(drop=True),
                                  direct[key].sort_values(key).reset_index(drop=True))


def test_helper_keeps_query_columns_of_results_in_order():
    results = pd.DataFrame({"qid": ["1", "1", "2"], "text": ["a", "b", "c"], "query_0": ["x y", "x y", "z"],
                            "query": ["x", "x", "z"], "docno": ["d1", "d2", "d1"], "score": [2.0, 1.0, 3.0],
                            "rank": [0, 1, 0], "query_toks": [{"x": 1.0}, {"x": 1.0}, {"z": 1.0}]})
    queries = without_results(results)
    assert list(queries.columns) == ["qid", "query_0", "query", "query_toks"]
    assert queries["qid"].tolist() == ["1", "2"]
    assert retriever_outputs("stage", list(results.columns)) == list(queries.columns) + ["docno", "score", "rank"]
    topics = pd.DataFrame({"qid": ["1", "1"], "query": ["x", "x"], "lang": ["en", "en"]})
    assert without_results(topics).to_dict("records") == [{"qid": "1", "query": "x", "lang": "en"}]


def test_bm25_after_bm25(adi, upstream):
    check_ranks_each_query_once(tir.BM25(adi), upstream, adi.topics())


def test_bm25_after_bm25_unfused_is_the_reported_case(adi):
    """The issue's case: `bm25 % 10 >> bm25b % 10` on one query gave 100 rows with 10 distinct docnos."""
    one = adi.topics().head(1)
    out = (tir.BM25(adi) % 10 >> tir.BM25(adi, k1=1.2) % 10).transform(one)
    assert len(out) == 10 and out["docno"].nunique() == 10


def test_dense_after_bm25(adi, upstream):
    check_ranks_each_query_once(tir.Dense(adi), upstream, adi.topics())


@pytest.mark.slow
def test_lucene_after_bm25(adi, upstream):
    requires("pyserini")
    check_ranks_each_query_once(tir.LuceneBM25(adi), upstream, adi.topics())


@pytest.fixture(scope="module")
def tiny_splade(tmp_path_factory, adi):
    """A tiny random SPLADE model (see :func:`tests.tiny_models.tiny_splade`)."""
    from transformers_ir.data import document_text
    return tiny_models.tiny_splade(tmp_path_factory.mktemp("tiny-splade"),
                                   (document_text(d) for d in adi.corpus_iter()))


@pytest.mark.slow
@pytest.mark.parametrize("cls", [tir.SPLADE, tir.UniCOIL])
def test_learned_sparse_after_bm25(adi, upstream, tiny_splade, cls):
    check_ranks_each_query_once(cls(adi, tiny_splade, max_length=64), upstream, adi.topics())


@pytest.mark.slow
def test_dsi_after_bm25(adi, upstream):
    dsi = tir.DSI(adi, docids="naive", epochs=1, decoder_layers=1, num_results=K, seed=0)
    check_ranks_each_query_once(dsi, upstream, adi.topics().head(8))


def test_fused_cutoffs_keep_the_same_documents_as_later_cutoffs_even_on_ties():
    """Engines break ties at their cutoff arbitrarily; our retrievers see past the cutoff, so `% k` fused into the
    engine and a cut after a deeper ranking keep the same documents (ties by docno, as trec_eval orders them)."""
    from transformers_ir.core.retriever import top_k
    scores = {"q": [(f"d{i:02d}", 1.0 if i < 30 else 2.0) for i in range(40)]}
    asked = []

    def search(queries, depth):
        asked.append(depth)
        rows = [(qid, d, s) for qid in queries["qid"] for d, s in sorted(scores[qid], key=lambda x: -x[1])[:depth]]
        return pd.DataFrame(rows, columns=["qid", "docno", "score"])
    queries = pd.DataFrame({"qid": ["q"], "query": ["x"]})
    for k in (12, 15):
        top = top_k(search, queries, k)
        assert top["docno"].tolist()[:10] == [f"d{i}" for i in range(39, 29, -1)]  # the ten 2.0s, docno descending
        assert top["docno"].tolist()[10:] == [f"d{i:02d}" for i in range(29, 29 - (k - 10), -1)]  # then the tied 1.0s
    assert asked[-1] > asked[-2] or len(asked) > 2  # a tie up to the last result returned asks deeper


@needs_data("vaswani")
def test_bm25_fused_and_cut_later_are_the_same_run():
    vaswani = tir.load_dataset("vaswani")
    topics = vaswani.topics()
    for k in (10, 100):
        fused = (tir.BM25(vaswani) % k).compile().transform(topics)
        later = tir.BM25(vaswani).transform(topics)
        pd.testing.assert_frame_equal(fused.reset_index(drop=True),
                                      later[later["rank"] < k].reset_index(drop=True))
