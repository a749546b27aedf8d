"""ColBERT late interaction: token forward index vs on the fly, pooling, the colbertv2 layout, bad input, fit."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

import transformers_ir as tir
from transformers_ir.core import MissingColumnError
from transformers_ir.encoders import BUNDLED_MINILM_NAME, ModelNotAvailableError, bundled_minilm
from transformers_ir.rerank.colbert import ColBERT
from transformers_ir.rerank.colbert_model import is_colbert_checkpoint, load_colbert

from .conftest import needs_data


def ndcg10(run: pd.DataFrame, qrels: pd.DataFrame) -> float:
    import ir_measures
    measure = ir_measures.nDCG @ 10
    return ir_measures.calc_aggregate([measure], qrels.rename(columns={"qid": "query_id", "docno": "doc_id",
                                                                        "label": "relevance"}),
                                      run.rename(columns={"qid": "query_id", "docno": "doc_id"}))[measure]


def assert_same_scores(a: pd.DataFrame, b: pd.DataFrame) -> None:
    merged = a.merge(b, on=["qid", "docno"], suffixes=("_index", "_fly"))
    assert len(merged) == len(a) == len(b)
    np.testing.assert_allclose(merged["score_index"], merged["score_fly"], rtol=0, atol=1e-3)


def assert_ranked(results: pd.DataFrame) -> None:
    assert not results["score"].isna().any()
    for _, group in results.groupby("qid"):
        assert group["rank"].tolist() == list(range(len(group)))
        assert group["score"].is_monotonic_decreasing


@pytest.fixture(scope="module")
def adi():
    return tir.load_dataset("adi")


@needs_data("adi")
def test_index_scores_equal_on_the_fly(adi):
    topics = adi.topics().head(3)
    candidates = (tir.BM25(adi) % 10).transform(topics)
    from_index = ColBERT(adi).transform(candidates)
    texts = adi.text_loader(("title", "text")).transform(candidates)
    on_the_fly = ColBERT(mode="on_the_fly").transform(texts)
    assert_same_scores(from_index, on_the_fly)
    assert_ranked(from_index)
    assert list(from_index.columns[-2:]) == ["score", "rank"]


@needs_data("adi")
def test_adi_effectiveness_is_pinned(adi):
    """BM25 % 100 >> ColBERT (MiniLM + seeded projection, untrained) on ADI: pinned, so a change to MaxSim, the
    projection or pooling is seen (summing instead of taking the max over document tokens gives 0.32)."""
    bm25 = tir.BM25(adi) % 100
    result = tir.Experiment({"index": bm25 >> ColBERT(adi), "pooled": bm25 >> ColBERT(adi, pool_factor=2),
                             "on the fly": bm25 >> adi.text_loader(("title", "text")) >> ColBERT(mode="on_the_fly")},
                            adi.topics(), adi.qrels(), ["nDCG@10"], cache=False).set_index("name")["nDCG@10"]
    assert result["index"] == pytest.approx(0.39384, abs=5e-4) and result["on the fly"] == result["index"]
    assert result["pooled"] == pytest.approx(0.39951, abs=5e-4)


@needs_data("adi")
def test_index_manifest_and_rebuild_is_noop(adi):
    stage = ColBERT(adi).prepare()
    manifest = stage.index.manifest
    assert manifest["doc_count"] == 82 and manifest["corpus_fingerprint"] == adi.fingerprint()
    assert manifest["model"]["weights_sha256"] and manifest["pool_factor"] is None
    assert manifest["vectors_bytes"] == manifest["vectors_count"] * 128 * 2 + 128  # float16 + .npy header
    stamp = (stage.index.path / "manifest.json").stat().st_mtime_ns
    ColBERT(adi).prepare()
    assert (stage.index.path / "manifest.json").stat().st_mtime_ns == stamp
    assert ColBERT(adi, pool_factor=2).index.path != stage.index.path


@needs_data("adi")
def test_pooling_keeps_about_half_the_vectors(adi):
    full = ColBERT(adi).prepare().index.manifest
    pooled = ColBERT(adi, pool_factor=2).prepare().index.manifest
    assert 0.4 <= pooled["vectors_count"] / full["vectors_count"] <= 0.6
    assert pooled["pooling"] and pooled["doc_count"] == full["doc_count"]


@needs_data("adi")
def test_unknown_docno_is_a_clear_error(adi):
    frame = pd.DataFrame({"qid": ["1"], "query": ["computers"], "docno": ["no-such-doc"]})
    with pytest.raises(KeyError, match="no-such-doc"):
        ColBERT(adi).transform(frame)


def test_missing_text_column_is_raised_before_any_work():
    stage = ColBERT(mode="on_the_fly", model="/no/such/model/folder")  # loading it would fail differently
    frame = pd.DataFrame({"qid": ["1"], "query": ["q"], "docno": ["d1"], "score": [1.0], "rank": [0]})
    with pytest.raises(MissingColumnError) as error:
        stage.transform(frame)
    assert "ColBERT(" in str(error.value) and "'text'" in str(error.value)
    assert error.value.missing == ["text"]


def test_model_path_that_does_not_exist():
    with pytest.raises(ModelNotAvailableError, match="does not exist"):
        ColBERT(mode="on_the_fly", model="/no/such/model/folder").prepare()


def test_bad_arguments():
    with pytest.raises(ValueError, match="needs the dataset"):
        ColBERT(mode="index")
    with pytest.raises(ValueError, match="ColBERT: parameter 'mode' should be 'index' or 'on_the_fly' \\(got 'late'\\)"):
        ColBERT(mode="late")


def test_empty_input():
    out = ColBERT(mode="on_the_fly").transform(pd.DataFrame(columns=["qid", "query", "docno", "text"]))
    assert list(out.columns) == ["qid", "query", "docno", "text", "score", "rank"] and not len(out)


def write_colbertv2_layout(folder, linear_weight) -> None:
    """A Stanford-NLP ``colbert-ir/colbertv2.0`` folder: an ``HF_ColBERT`` config, BERT weights under ``bert.`` and
    the projection as ``linear.weight`` in one weights file, ``artifact.metadata`` — from MiniLM's weights."""
    from safetensors.torch import save_file
    from transformers import AutoModel
    minilm = bundled_minilm()
    weights = {f"bert.{k}": v.contiguous() for k, v in AutoModel.from_pretrained(str(minilm)).state_dict().items()}
    save_file({**weights, "linear.weight": linear_weight.contiguous()}, str(folder / "model.safetensors"))
    config = json.loads((minilm / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "architectures": ["HF_ColBERT"]}))
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        shutil.copy(minilm / name, folder)
    (folder / "artifact.metadata").write_text(json.dumps({
        "query_token_id": "[unused0]", "doc_token_id": "[unused1]", "query_maxlen": 32, "doc_maxlen": 180,
        "attend_to_mask_tokens": False, "mask_punctuation": True}))


def test_colbertv2_layout_loader(tmp_path):
    import torch
    fresh = load_colbert(BUNDLED_MINILM_NAME)
    linear = fresh[1].linear.weight.detach().clone()
    assert tuple(linear.shape) == (128, 384)  # colbertv2.0: (128, 768) over BERT-base
    write_colbertv2_layout(tmp_path, linear)
    assert is_colbert_checkpoint(tmp_path) and not is_colbert_checkpoint(bundled_minilm())
    loaded = load_colbert(tmp_path)
    assert torch.equal(loaded[1].linear.weight.detach(), linear)
    assert loaded[0].query_expansion["length"] == 32 and loaded[0].document_length == 180
    assert loaded.tokenizer.tokenize("[unused0] what") == ["[unused0]", "what"]
    frame = pd.DataFrame({"qid": ["1", "1"], "query": ["what causes fever"] * 2, "docno": ["a", "b"],
                          "text": ["Infections cause fever.", "The stock market fell."]})
    ours = ColBERT(mode="on_the_fly").transform(frame)
    theirs = ColBERT(mode="on_the_fly", model=tmp_path).transform(frame)
    np.testing.assert_allclose(ours["score"], theirs["score"], atol=1e-4)
    assert ColBERT(mode="on_the_fly", model=tmp_path).fingerprint()["projection"] == \
        ColBERT(mode="on_the_fly").fingerprint()["projection"]


@needs_data("adi")
def test_fingerprint_and_config(adi):
    stage = ColBERT(adi, pool_factor=2)
    config = stage.to_config()
    assert config == {"dataset": "adi", "model": BUNDLED_MINILM_NAME, "mode": "index", "pool_factor": 2,
                      "dim": 128, "bf16": False, "seed": 42}
    again = ColBERT(**config)
    assert again.fingerprint() == stage.fingerprint()
    assert ColBERT(adi).fingerprint() != stage.fingerprint()
    assert ColBERT(mode="on_the_fly").fingerprint()["dataset"] is None
    assert ColBERT(adi, seed=7).fingerprint()["projection"] != stage.fingerprint()["projection"]


@pytest.fixture(scope="module")
def scifact():
    return tir.load_dataset("scifact")


@pytest.mark.slow
@needs_data("scifact")
@pytest.mark.parametrize("pool_factor", [None, 2])
def test_scifact_index_equals_on_the_fly(scifact, pool_factor):
    candidates = (tir.BM25(scifact) % 20).transform(scifact.topics("test").head(5))
    from_index = ColBERT(scifact, pool_factor=pool_factor).transform(candidates)
    texts = scifact.text_loader(("title", "text")).transform(candidates)
    assert_same_scores(from_index, ColBERT(mode="on_the_fly", pool_factor=pool_factor).transform(texts))
    assert_ranked(from_index)


@pytest.mark.slow
@needs_data("scifact")
def test_scifact_pooled_index_has_about_half_the_vectors(scifact):
    full = ColBERT(scifact).prepare().index.manifest
    pooled = ColBERT(scifact, pool_factor=2).prepare().index.manifest
    print(f"\nSciFact token index: {full['vectors_count']} vectors, {full['bytes_per_doc']} B/doc; pooled: "
          f"{pooled['vectors_count']} vectors, {pooled['bytes_per_doc']} B/doc")
    assert 0.4 <= pooled["vectors_count"] / full["vectors_count"] <= 0.6


@pytest.mark.slow
@needs_data("scifact")
def test_scifact_effectiveness(scifact):
    topics, qrels = scifact.topics("test"), scifact.qrels("test")
    candidates = (tir.BM25(scifact) % 100).transform(topics)
    bm25 = ndcg10(candidates, qrels)
    full = ndcg10(ColBERT(scifact).transform(candidates), qrels)
    pooled = ndcg10(ColBERT(scifact, pool_factor=2).transform(candidates), qrels)
    print(f"\nSciFact test nDCG@10: BM25 % 100 {bm25:.4f}; >> ColBERT (MiniLM + random projection, untrained) "
          f"{full:.4f}; pooled x2 {pooled:.4f}")
    assert 0.2 < full and 0.2 < pooled  # weak but far above random ordering
    assert abs(full - pooled) < 0.05


@pytest.mark.slow
@needs_data("scifact")
def test_fit_saves_a_checkpoint_the_stage_loads(scifact, tmp_path):
    topics = scifact.topics("train").head(64)
    untrained = ColBERT(mode="on_the_fly", max_length=128)
    before = untrained.fingerprint()
    stage = untrained.fit(topics, scifact.qrels("train"), negatives=tir.BM25(scifact) % 20, dataset=scifact,
                          output_dir=tmp_path / "ckpt", batch_size=8, max_steps=8, seed=1)
    log = json.loads((tmp_path / "ckpt" / "training.json").read_text())
    assert log["loss"] and log["seed"] == 1 and log["triples"] > 0
    assert is_colbert_checkpoint(tmp_path / "ckpt")
    assert stage.model == str((tmp_path / "ckpt").resolve()) and stage.fingerprint() != before
    reloaded = ColBERT(mode="on_the_fly", model=tmp_path / "ckpt", max_length=128)
    test = scifact.topics("test").head(3)
    texts = scifact.text_loader(("title", "text")).transform((tir.BM25(scifact) % 10).transform(test))
    np.testing.assert_allclose(stage.transform(texts)["score"], reloaded.transform(texts)["score"], atol=1e-4)
