"""Cross-encoder re-ranking and fine-tuning: tiny random BERT for unit tests, MiniLM fine-tuned on SciFact (slow)."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyterrier as pt
import pytest
import torch
from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

import transformers_ir as tir
from transformers_ir.core import MissingColumnError
from transformers_ir.encoders import ModelNotAvailableError, bundled_minilm, load_cross_encoder
from transformers_ir.data.training import mine_pairs, mine_triples
from transformers_ir.rerank import CrossEncoder

from .conftest import needs_data

RESULTS = pd.DataFrame({
    "qid": ["1", "1", "1", "2", "2"],
    "query": ["vitamin d and bones"] * 3 + ["smoking and lung cancer"] * 2,
    "docno": ["a", "b", "c", "a", "d"],
    "title": ["Vitamin D", "", "Bone density", "Vitamin D", "Tobacco"],
    "text": ["Vitamin D supplements in older adults " * 3, "an unrelated short text", "",
             "Vitamin D supplements in older adults " * 3, "Cigarette smoking causes most lung cancers."],
    "score": [3.0, 2.0, 1.0, 5.0, 4.0],
    "rank": [0, 1, 2, 0, 1],
})


class _Frame(pt.Transformer):
    """A stage that returns a fixed results frame."""

    def __init__(self, frame: pd.DataFrame):
        self.frame = frame

    def transform_outputs(self, input_columns):
        return list(self.frame.columns)

    def transform(self, topics):
        return self.frame


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory) -> str:
    """A randomly initialised 2-layer BERT with one output (a cross-encoder shape) and MiniLM's tokenizer."""
    folder = tmp_path_factory.mktemp("tiny-bert")
    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(str(bundled_minilm()))
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=512, num_labels=1)
    BertForSequenceClassification(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


def test_rerank_scores_every_pair_and_reranks_per_query(tiny_bert):
    ce = CrossEncoder(tiny_bert, batch_size=2)
    out = ce.transform(RESULTS)
    assert list(out.columns) == list(RESULTS.columns)
    assert sorted(zip(out.qid, out.docno)) == sorted(zip(RESULTS.qid, RESULTS.docno))
    for _, group in out.groupby("qid"):
        assert group["score"].is_monotonic_decreasing and group["rank"].tolist() == list(range(len(group)))
    # each pair's score is the model's logit for (query, title + " " + text), whatever the batching order
    model = load_cross_encoder(tiny_bert, max_length=512)
    passages = (RESULTS["title"] + " " + RESULTS["text"]).str.strip()
    logits = model.predict(list(zip(RESULTS["query"], passages)), activation_fn=torch.nn.Identity(), batch_size=1)
    expected = RESULTS.assign(expected=logits).merge(out, on=["qid", "docno"])
    np.testing.assert_allclose(expected["score_y"], expected["expected"], atol=1e-5)
    assert not np.allclose(expected["score_y"], expected["score_x"])


def test_title_is_used_only_when_present(tiny_bert):
    ce = CrossEncoder(tiny_bert)
    with_title = ce.transform(RESULTS).set_index(["qid", "docno"])["score"]
    without = ce.transform(RESULTS.drop(columns="title")).set_index(["qid", "docno"])["score"]
    assert with_title[("1", "b")] == pytest.approx(without[("1", "b")], abs=1e-5)  # empty title: same text
    assert with_title[("2", "d")] != pytest.approx(without[("2", "d")], abs=1e-5)


def test_empty_text_is_scored(tiny_bert):
    out = CrossEncoder(tiny_bert).transform(RESULTS.drop(columns="title"))
    assert np.isfinite(out.loc[out.docno == "c", "score"]).all()


def test_missing_text_column_names_stage_and_column_before_work(tiny_bert):
    ce = CrossEncoder(tiny_bert)
    topics = pd.DataFrame({"qid": ["1"], "query": ["vitamin d"]})
    qrels = pd.DataFrame({"qid": ["1"], "docno": ["a"], "label": [1]})
    upstream = pd.DataFrame(RESULTS.drop(columns=["text", "title"]))
    with pytest.raises(MissingColumnError) as e:
        tir.Experiment([_Frame(upstream) >> ce], topics, qrels, ["nDCG@10"])
    message = str(e.value)
    assert "CrossEncoder" in message and "'text'" in message
    assert ce.scorer._model is None  # the model was never loaded
    with pytest.raises(MissingColumnError):
        ce.transform(upstream)
    assert ce.scorer._model is None


def test_nan_scores_never_reach_the_output(tiny_bert, monkeypatch):
    ce = CrossEncoder(tiny_bert)
    monkeypatch.setattr(ce.scorer, "score", lambda q, p, desc="": np.array([1.0, np.nan, 0.5, np.nan, 2.0]))
    with pytest.warns(UserWarning, match="2 NaN score"):
        out = ce.transform(RESULTS)
    assert not out["score"].isna().any()
    assert out.set_index(["qid", "docno"]).loc[("1", "b"), "rank"] == 2  # NaN ranks last


def test_missing_model_path_is_clear(tmp_path):
    with pytest.raises(ModelNotAvailableError, match="does not exist"):
        CrossEncoder(str(tmp_path / "no-such-cross-encoder")).prepare()


def test_training_pairs_take_positives_and_unjudged_top_ranked_negatives():
    topics = pd.DataFrame({"qid": ["1", "2"], "query": ["q1", "q2"]})
    qrels = pd.DataFrame({"qid": ["1", "2"], "docno": ["b", "x"], "label": [1, 0]})
    run = pd.DataFrame({"qid": ["1"] * 4, "docno": ["a", "b", "c", "d"], "rank": [0, 1, 2, 3]})
    pairs = mine_pairs(topics, qrels, run, num_negatives=2)
    assert sorted(zip(pairs.docno, pairs.label)) == [("a", 0.0), ("b", 1.0), ("c", 0.0)]
    assert set(pairs.qid) == {"1"}  # topic 2 has no relevant document
    everything = mine_pairs(topics, qrels, run, num_negatives=None)
    assert everything[everything.label == 0].docno.tolist() == ["a", "c", "d"]  # in rank order


def test_triples_take_the_first_negatives_or_draw_them_with_a_seed():
    pairs = pd.DataFrame({"qid": ["1"] * 5, "query": ["q"] * 5, "docno": ["p2", "p1", "n1", "n2", "n3"],
                          "label": [1.0, 1.0, 0.0, 0.0, 0.0]})
    first = mine_triples(pairs, num_negatives=2)
    assert list(zip(first.positive, first.negative)) == [("p1", "n1"), ("p1", "n2"), ("p2", "n1"), ("p2", "n2")]
    drawn = mine_triples(pairs, num_negatives=1, seed=5)
    assert drawn.positive.tolist() == ["p1", "p2"] and set(drawn.negative) <= {"n1", "n2", "n3"}
    assert drawn.equals(mine_triples(pairs, num_negatives=1, seed=5))
    assert mine_triples(pairs[pairs.label > 0], num_negatives=1).empty  # no negative, no triple


@needs_data("scifact")
def test_fit_saves_a_checkpoint_that_the_stage_then_loads(tiny_bert, tmp_path):
    scifact = tir.load_dataset("scifact")
    topics = scifact.topics("train").head(6)
    bm25 = tir.BM25(scifact)
    weights = []
    for run in ("a", "b"):
        base = CrossEncoder(tiny_bert, max_length=64)
        ce = base.fit(topics, scifact.qrels("train"), negatives=bm25 % 5, dataset=scifact, output_dir=tmp_path / run,
                      batch_size=4, seed=3)
        assert ce is not base and ce.scorer.model_name == str(tmp_path / run)
        assert ce.fingerprint() != base.fingerprint() and ce.to_config()["max_length"] == 64
        assert (tmp_path / run / "config.json").is_file()
        weights.append(ce.scorer.model.model.classifier.weight.detach().clone())
        log = json.loads((tmp_path / run / "training.json").read_text())
        assert log["topics"] == 6 and log["positives"] >= 6 and log["seed"] == 3 and log["loss"]
    assert torch.equal(weights[0], weights[1])  # seeded: the same checkpoint twice
    base = load_cross_encoder(tiny_bert).model.classifier.weight
    assert not torch.equal(weights[0], base)  # it trained, on a private copy of the base model


@needs_data("scifact")
def test_refitting_into_the_same_folder_loads_the_new_weights(tiny_bert, tmp_path):
    scifact = tir.load_dataset("scifact")
    topics, bm25 = scifact.topics("train").head(4), tir.BM25(scifact)
    first = CrossEncoder(tiny_bert, max_length=64).fit(topics, scifact.qrels("train"), negatives=bm25 % 5,
                                                       dataset=scifact, output_dir=tmp_path, batch_size=4, seed=1)
    before, fingerprint = first.scorer.model.model.classifier.weight.detach().clone(), first.fingerprint()
    second = CrossEncoder(tiny_bert, max_length=64).fit(topics, scifact.qrels("train"), negatives=bm25 % 5,
                                                        dataset=scifact, output_dir=tmp_path, batch_size=4, seed=2)
    assert not torch.equal(second.scorer.model.model.classifier.weight, before)
    assert second.fingerprint() != fingerprint


@pytest.mark.slow
@needs_data("scifact")
def test_minilm_cross_encoder_fine_tuned_on_scifact_reranks_bm25(tmp_path):
    """Fine-tune MiniLM on a SciFact-train subset with BM25 hard negatives; re-rank BM25 on SciFact test."""
    scifact = tir.load_dataset("scifact")
    bm25 = tir.BM25(scifact)
    ce = CrossEncoder(bundled_minilm(), max_length=128, batch_size=32)
    ce = ce.fit(scifact.topics("train").head(64), scifact.qrels("train"), negatives=bm25 % 50, dataset=scifact,
                output_dir=tmp_path / "ce", epochs=1, batch_size=16, seed=42, num_negatives=3)
    log = json.loads((tmp_path / "ce" / "training.json").read_text())
    topics = scifact.topics("test").head(60)
    reranked = bm25 % 20 >> tir.TextLoader(scifact, fields=("title", "text")) >> ce
    result = tir.Experiment([bm25 % 20, reranked], topics, scifact.qrels("test"), ["nDCG@10"],
                            names=["BM25", "BM25>>CE"], baseline=0)
    table = result.results.set_index("name")
    p_value = "nDCG@10 p-value"
    losses = [e["loss"] for e in log["loss"] if "loss" in e]
    print(f"train: {log['pairs']} pairs from {log['topics']} topics in {log['seconds']}s, loss {losses}")
    print(table[["nDCG@10", p_value]])
    assert 0.0 < table.loc["BM25>>CE", "nDCG@10"] <= 1.0
    assert 0.0 <= table.loc["BM25>>CE", p_value] <= 1.0
    assert losses and all(np.isfinite(losses))
    run = result.runs["BM25>>CE"]
    assert not run["score"].isna().any() and run.groupby("qid").size().max() == 20
