"""BM25 on PISA: published effectiveness, fused cutoffs, index manifests, analyzers, awkward queries."""

import pandas as pd
import pytest

import transformers_ir as tir
from transformers_ir.core import MissingColumnError
from transformers_ir.sparse import Analyzer

from .conftest import needs_data

pytestmark = needs_data("vaswani")


@pytest.fixture(scope="module")
def vaswani():
    return tir.load_dataset("vaswani")


@pytest.fixture(scope="module")
def bm25(vaswani):
    return tir.BM25(vaswani, k1=0.9, b=0.4).prepare()


def test_vaswani_map_matches_pyterrier(vaswani, bm25):
    result = tir.Experiment([bm25], vaswani.topics(), vaswani.qrels(), ["AP", "nDCG@10"])
    assert result["AP"][0] == pytest.approx(0.2965, abs=0.015)  # published (PyTerrier BM25, Terrier's tokeniser)
    assert result["AP"][0] == pytest.approx(0.30535, abs=1e-4)  # ours, pinned: a change that moves it is seen
    assert result["nDCG@10"][0] == pytest.approx(0.46671, abs=1e-4)


@needs_data("scifact")
def test_scifact_ndcg10_matches_anserini():
    ds = tir.load_dataset("scifact")
    result = tir.Experiment([tir.BM25(ds, k1=0.9, b=0.4)], ds.topics("test"), ds.qrels("test"),
                            ["nDCG@10", "AP", "R@100"])
    assert result["nDCG@10"][0] == pytest.approx(0.6789, abs=0.015)  # published (Anserini BM25 flat)
    assert result["nDCG@10"][0] == pytest.approx(0.67761, abs=1e-4)  # ours, pinned
    assert result["AP"][0] == pytest.approx(0.63793, abs=1e-4) and result["R@100"][0] == pytest.approx(0.91867, abs=1e-4)


def test_rank_cutoff_is_fused_into_pisa(vaswani, bm25):
    compiled = (bm25 % 10).compile()
    assert isinstance(compiled, tir.BM25) and compiled.num_results == 10
    topics = vaswani.topics().head(10)
    top10 = compiled.transform(topics)
    cut = bm25.transform(topics)
    cut = cut[cut["rank"] < 10]
    assert top10.groupby("qid").size().max() == 10
    pd.testing.assert_frame_equal(top10[["qid", "docno", "rank"]].reset_index(drop=True),
                                  cut[["qid", "docno", "rank"]].reset_index(drop=True))


def test_results_follow_the_data_model(vaswani, bm25):
    res = bm25.transform(vaswani.topics().head(3))
    assert list(res.columns) == ["qid", "query", "docno", "score", "rank"]
    for _, group in res.groupby("qid"):
        assert group["rank"].tolist() == list(range(len(group)))
        assert group["score"].is_monotonic_decreasing


def test_manifest_and_rebuild_is_a_noop(vaswani, bm25):
    manifest = bm25.index.manifest
    assert manifest["doc_count"] == 11429
    assert manifest["corpus_fingerprint"] == vaswani.fingerprint()
    assert manifest["analyzer"] == {"stemmer": "porter2", "stopwords": True}
    assert manifest["size_bytes"] > 0 and manifest["build_seconds"] >= 0
    stamp = (bm25.index.path / "manifest.json").stat().st_mtime_ns
    bm25.index.build(vaswani)
    assert (bm25.index.path / "manifest.json").stat().st_mtime_ns == stamp
    other = tir.PisaTextIndex.for_dataset(vaswani, Analyzer("none", stopwords=False))
    assert other.path != bm25.index.path


def test_queries_without_indexable_terms_get_no_results(bm25):
    topics = pd.DataFrame({"qid": ["stop", "punct", "ok"], "query": ["the of and", "?! ...", "microwave"]})
    res = bm25.transform(topics)
    assert set(res["qid"]) == {"ok"}
    assert len(res) > 0


def test_index_from_an_iterable_and_porter_stemmer(tmp_path):
    docs = [{"docno": "d1", "text": "generalization of running"}, {"docno": "d2", "text": "unrelated words"}]
    index = tir.PisaTextIndex(tmp_path / "idx", Analyzer("porter")).build(iter(docs))
    assert index.manifest["doc_count"] == 2 and index.manifest["source"] == "iterable"
    res = tir.BM25(index=index, stemmer="porter").transform(pd.DataFrame({"qid": ["1"], "query": ["generalizations"]}))
    assert res["docno"].tolist() == ["d1"]
    stamp = (index.path / "manifest.json").stat().st_mtime_ns
    tir.PisaTextIndex(tmp_path / "idx", Analyzer("porter")).build(iter(docs))
    assert (index.path / "manifest.json").stat().st_mtime_ns == stamp


def test_porter_and_no_stemming_on_vaswani(vaswani):
    topics, qrels = vaswani.topics(), vaswani.qrels()
    res = tir.Experiment([tir.BM25(vaswani, stemmer="porter"), tir.BM25(vaswani, stemmer="none", stopwords=False)],
                         topics, qrels, ["AP"], names=["porter", "none"]).results.set_index("name")["AP"]
    assert res["porter"] == pytest.approx(0.2965, abs=0.02)  # published
    assert res["porter"] == pytest.approx(0.30095, abs=1e-4)  # ours, pinned
    assert res["none"] < res["porter"] - 0.03


def test_missing_query_column_names_stage_and_column(bm25):
    with pytest.raises(MissingColumnError, match=r"BM25\('vaswani'.*needs input column\(s\) \['query'\]"):
        bm25.transform(pd.DataFrame({"qid": ["1"]}))


def test_unknown_stemmer_is_rejected(vaswani):
    with pytest.raises(ValueError, match="BM25: parameter 'stemmer' should be 'porter2', 'porter', 'krovetz' or 'none' \\(got 'snowball'\\)"):
        tir.BM25(vaswani, stemmer="snowball")
