"""Dense retrieval on FAISS, the forward index and Fast-Forward interpolation, on real collections."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sentence_transformers import SentenceTransformer

import transformers_ir as tir
from transformers_ir.core import MissingColumnError
from transformers_ir.core.retriever import first_depth
from transformers_ir.data import document_text
from transformers_ir.dense import Dense, DenseScorer
from transformers_ir.encoders import ModelNotAvailableError, TextEncoder, bundled_minilm

from .conftest import needs_data

pytestmark = needs_data("adi")


@pytest.fixture(scope="module")
def adi():
    return tir.load_dataset("adi")


@pytest.fixture(scope="module")
def dense(adi) -> Dense:
    return Dense(adi).prepare()


@pytest.fixture(scope="module")
def minilm() -> SentenceTransformer:
    return SentenceTransformer(str(bundled_minilm()), device="cpu")


class RecordingIndex:
    """Wraps a FAISS index and records the ``k`` of each search."""

    def __init__(self, index):
        self.index, self.ks = index, []
        self.ntotal = index.ntotal

    def search(self, vectors, k):
        self.ks.append(k)
        return self.index.search(vectors, k)


def test_index_manifest_describes_what_was_built(adi, dense):
    manifest = json.loads((dense.index.path / "manifest.json").read_text())
    assert manifest["corpus_fingerprint"] == adi.fingerprint()
    assert manifest["doc_count"] == 82 and manifest["dims"] == 384
    assert manifest["model"]["weights_sha256"] == TextEncoder(bundled_minilm()).identity()["weights_sha256"]
    assert manifest["indexes"]["flat"]["factory"] == "Flat"
    assert manifest["size_bytes"] > 82 * 384 * 2 and manifest["encode_seconds"] > 0
    assert str(dense.index.path).startswith(str(tir.core.cache_dir() / "indexes"))
    vectors = dense.index.vectors()
    assert isinstance(vectors, np.memmap) and vectors.dtype == np.float16 and vectors.shape == (82, 384)


def test_rebuilding_with_the_same_inputs_is_a_no_op(adi, dense):
    before = (dense.index.path / "manifest.json").read_text()
    stamp = (dense.index.path / "vectors.f16.npy").stat().st_mtime_ns
    Dense(adi, model=str(bundled_minilm())).prepare()  # same weights by path instead of by name
    assert (dense.index.path / "manifest.json").read_text() == before
    assert (dense.index.path / "vectors.f16.npy").stat().st_mtime_ns == stamp


def test_fingerprint_follows_weights_corpus_and_parameters(adi, dense):
    assert Dense(adi, model=str(bundled_minilm())).fingerprint() == dense.fingerprint()
    assert (dense % 10).compile().fingerprint() != dense.fingerprint()
    assert Dense(adi, index_type="hnsw").fingerprint() != dense.fingerprint()
    assert Dense(adi, bf16=True).fingerprint() != dense.fingerprint()
    assert DenseScorer(adi).fingerprint()["dataset"] == {"corpus": adi.fingerprint()}


def test_results_are_ranked_inner_products(adi, dense, minilm):
    topics = adi.topics().head(3)
    results = dense.transform(topics)
    assert list(results.columns) == ["qid", "query", "docno", "score", "rank"]
    docs = {d["docno"]: document_text(d) for d in adi.corpus_iter()}
    for qid, group in results.groupby("qid"):
        assert len(group) == 82
        assert group["rank"].tolist() == list(range(82))
        assert group["score"].is_monotonic_decreasing
        query = minilm.encode(topics.set_index("qid").loc[qid, "query"])
        expected = minilm.encode([docs[d] for d in group["docno"]]) @ query
        np.testing.assert_allclose(group["score"], expected, atol=2e-3)


def test_rank_cutoff_is_fused_into_the_faiss_search(dense, adi):
    topics = adi.topics().head(5)
    fused = (dense % 10).compile()
    assert isinstance(fused, Dense) and fused.num_results == 10 and dense.num_results == 1000
    recorder = RecordingIndex(dense.index.faiss("flat"))
    fused.index._faiss["flat"] = recorder
    try:
        top10 = fused.transform(topics)
    finally:
        fused.index._faiss["flat"] = recorder.index
    assert recorder.ks == [first_depth(10)]  # 10 and a margin to see ties at the cutoff, not 1000
    full = dense.transform(topics)
    expected = full[full["rank"] < 10].reset_index(drop=True)
    pd.testing.assert_frame_equal(top10.reset_index(drop=True), expected)


@pytest.mark.parametrize("index_type,min_overlap", [("hnsw", 0.95), ("ivfpq", 0.5)])
def test_approximate_indexes_reuse_the_vectors_and_find_the_flat_top10(adi, dense, index_type, min_overlap):
    encoded_at = dense.index.manifest["built_at"]
    approximate = Dense(adi, index_type=index_type, num_results=10).prepare()
    manifest = approximate.index.manifest
    assert approximate.index.path == dense.index.path and manifest["built_at"] == encoded_at
    assert index_type in manifest["indexes"] and "flat" in manifest["indexes"]
    topics = adi.topics()
    exact, approx = (dense % 10).compile().transform(topics), approximate.transform(topics)
    overlap = [len(set(exact[exact.qid == q].docno) & set(approx[approx.qid == q].docno)) / 10
               for q in topics["qid"]]
    assert np.mean(overlap) >= min_overlap
    assert (approx.groupby("qid")["rank"].min() == 0).all()


def test_unknown_index_type_and_missing_model_path_are_clear(adi, tmp_path):
    with pytest.raises(ValueError, match="Dense: parameter 'index_type' should be 'flat', 'hnsw' or 'ivfpq' \\(got 'ivf'\\)"):
        Dense(adi, index_type="ivf")
    with pytest.raises(ModelNotAvailableError, match="does not exist"):
        Dense(adi, model=str(tmp_path / "missing-model")).prepare()


def test_missing_query_column_fails_before_work(adi, dense):
    recorder = RecordingIndex(dense.index.faiss("flat"))
    dense.index._faiss["flat"] = recorder
    try:
        with pytest.raises(MissingColumnError) as e:
            dense.transform(adi.topics()[["qid"]])
    finally:
        dense.index._faiss["flat"] = recorder.index
    assert "Dense" in str(e.value) and "'query'" in str(e.value) and recorder.ks == []
    scorer = DenseScorer(adi)
    with pytest.raises(MissingColumnError) as e:
        scorer.transform(adi.topics())
    assert "DenseScorer" in str(e.value) and "docno" in str(e.value)


def test_dense_scorer_rejects_unknown_docnos(adi, dense):
    frame = pd.DataFrame({"qid": ["1"], "query": ["q"], "docno": ["not-a-docno"]})
    with pytest.raises(KeyError, match="not-a-docno"):
        DenseScorer(index=dense.index).transform(frame)


def test_fast_forward_interpolation_equals_a_hand_computation(adi, minilm):
    bm25 = tir.BM25(adi)
    pipeline = 0.3 * (bm25 % 1000) + 0.7 * (bm25 % 1000 >> DenseScorer(adi))
    topics = adi.topics().head(4)
    result = tir.Experiment([bm25 % 1000, pipeline], topics, adi.qrels(), ["nDCG@10"], names=["bm25", "ff"])
    run = result.runs["ff"]
    assert not run["score"].isna().any()
    docs = {d["docno"]: document_text(d) for d in adi.corpus_iter()}
    sparse = bm25.transform(topics)
    for qid, group in sparse.groupby("qid"):
        query = minilm.encode(topics.set_index("qid").loc[qid, "query"])
        dense_scores = minilm.encode([docs[d] for d in group["docno"]]) @ query
        expected = pd.Series(0.3 * group["score"].to_numpy() + 0.7 * dense_scores, index=group["docno"].to_numpy())
        got = run[run["qid"] == qid].set_index("docno")["score"]
        assert set(got.index) == set(expected.index)
        np.testing.assert_allclose(got[expected.index], expected, atol=2e-3)
        assert not np.allclose(got[expected.index], 0.3 * group["score"].to_numpy())  # the dense part counts


@pytest.mark.slow
@needs_data("scifact")
def test_minilm_on_scifact_reproduces_mteb():
    """all-MiniLM-L6-v2 on BEIR SciFact test: MTEB reports nDCG@10 0.6451."""
    scifact = tir.load_dataset("scifact")
    dense = Dense(scifact)
    topics, qrels = scifact.topics("test"), scifact.qrels("test")
    result = tir.Experiment([dense % 1000], topics, qrels, ["nDCG@10"])
    ndcg = result.results["nDCG@10"].iloc[0]
    print(f"SciFact test nDCG@10 all-MiniLM-L6-v2 dense flat: {ndcg:.4f} (MTEB 0.6451)")
    assert abs(ndcg - 0.6451) <= 0.005  # published (MTEB)
    assert ndcg == pytest.approx(0.64508, abs=1e-4)  # ours, pinned
    top10 = (dense % 10).compile().transform(topics.head(20))
    full = result.runs[result.results["name"].iloc[0]]  # runs keep qid, docno, score, rank
    expected = full[full["qid"].isin(topics.head(20)["qid"]) & (full["rank"] < 10)]
    pd.testing.assert_frame_equal(top10[list(full.columns)].reset_index(drop=True), expected.reset_index(drop=True))
