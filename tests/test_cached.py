"""tir.cached: a user's transformer with an explicit key is cached like our stages; an uncached one turns caching
off only below itself, in its own chain."""
from __future__ import annotations

import pyterrier as pt
import pytest

import transformers_ir as tir
from transformers_ir.experiment import StageCache

from .conftest import needs_data

pytestmark = needs_data("adi")


@pytest.fixture(scope="module")
def adi():
    return tir.load_dataset("adi")


def cached_flags(result) -> dict[str, list[bool]]:
    return result.stages.groupby("name", sort=False)["cached"].apply(list).to_dict()


def test_cached_user_function_is_not_recomputed_and_keeps_later_stages_cached(adi, tmp_path):
    calls = []

    def prior(row):
        calls.append(row["docno"])
        return row["score"] + 0.01 * len(row["docno"])

    bm25 = tir.BM25(adi) % 20
    user = tir.cached(pt.apply.doc_score(prior), key="docno-length-prior-v1")
    pipelines = {"cached": bm25 >> user >> pt.RankCutoff(5), "plain": bm25 >> pt.RankCutoff(5)}
    topics, qrels, cache = adi.topics(), adi.qrels(), StageCache(tmp_path)
    once = {"timing": {"repeats": 1, "warmup": 0}, "latency_queries": 0}  # each stage run once, no latency sample
    first = tir.Experiment(pipelines, topics, qrels, ["nDCG@10"], cache=cache, **once)
    computed = len(calls)
    assert computed == len(bm25.compile().transform(topics))  # once per candidate
    second = tir.Experiment(pipelines, topics, qrels, ["nDCG@10"], cache=cache, **once)
    assert len(calls) == computed  # read from the cache, not called again
    assert cached_flags(second) == {"cached": [True, True, True], "plain": [True]}  # plain: the cutoffs fuse into BM25
    assert second["nDCG@10"].tolist() == first["nDCG@10"].tolist()
    renamed = tir.cached(pt.apply.doc_score(prior), key="docno-length-prior-v2")
    tir.Experiment({"v2": bm25 >> renamed}, topics, qrels, ["nDCG@10"], cache=cache, **once)
    assert len(calls) > computed  # a new key is a new function: computed afresh
    assert repr(user).startswith("cached(") and "docno-length-prior-v1" in repr(user)


def test_uncached_stage_disables_caching_only_below_itself_in_its_chain(adi, tmp_path):
    bm25 = tir.BM25(adi) % 20
    user = pt.apply.doc_score(lambda row: -row["rank"])
    pipelines = {"with-user": bm25 >> user >> pt.RankCutoff(5), "without": bm25 >> pt.RankCutoff(5)}
    topics, qrels, cache = adi.topics(), adi.qrels(), StageCache(tmp_path)
    tir.Experiment(pipelines, topics, qrels, ["nDCG@10"], cache=cache)
    again = tir.Experiment(pipelines, topics, qrels, ["nDCG@10"], cache=cache)
    assert cached_flags(again) == {"with-user": [True, False, False], "without": [True]}


def test_cached_needs_a_key_and_a_transformer():
    with pytest.raises(ValueError, match="non-empty key"):
        tir.cached(pt.apply.doc_score(lambda r: 0.0), key=" ")
    with pytest.raises(TypeError, match="PyTerrier transformer"):
        tir.cached(lambda df: df, key="k")
