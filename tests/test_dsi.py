"""DSI generative retrieval: docid schemes, the docid trie, training on ADI, constrained decoding, DSI++."""
from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
import torch

import transformers_ir as tir
from transformers_ir.data import write_folder
from transformers_ir.encoders import bundled_minilm
from transformers_ir.generative import (DSI, DocidMapping, DocidModel, DocidTrie, MissingDocidsError,
                                        UnknownDocnoError, atomic_docids, extend_docids, naive_docids,
                                        semantic_docids)
from transformers_ir.generative.index import DOCIDS, MODEL

from .conftest import needs_data

HELD_OUT = ["78", "79", "80", "81", "82"]  # ADI documents left out of the first indexing, added by DSI++
SMALL_BUDGET = {"max_length": 32, "spans_per_doc": 1, "pseudo_queries_per_doc": 1, "epochs": 25,
                "target_accuracy": 0.97}


# --- docid schemes and the trie (no training) ----------------------------------------------------------------

def test_naive_docids_are_padded_positions_and_grow_by_next_numbers():
    mapping = naive_docids([f"d{i}" for i in range(12)])
    assert mapping.docid("d0") == (0, 0) and mapping.docid("d11") == (1, 1) and mapping.num_symbols == 10
    assert naive_docids([f"x{i}" for i in range(11)], pad=False).docid("x10") == (1, 0)
    grown = extend_docids(mapping, ["new1", "new2"])
    assert grown.docid("new1") == (1, 2) and grown.docid("d3") == mapping.docid("d3") and len(grown) == 14
    assert mapping.docno((0, 5)) == "d5" and mapping.docno((9, 9)) is None


def test_semantic_docids_have_small_leaves_and_are_a_bijection():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(4, 16)) * 5
    vectors = (centres[rng.integers(0, 4, 230)] + rng.normal(size=(230, 16))).astype(np.float32)
    docnos = [f"d{i}" for i in range(230)]
    mapping = semantic_docids(docnos, vectors, branches=10, leaf_size=12, seed=1)
    docids = [mapping.docid(d) for d in docnos]
    assert len(set(docids)) == len(docnos) and all(mapping.docno(mapping.docid(d)) == d for d in docnos)
    assert all(0 <= s < 10 for docid in docids for s in docid) and mapping.leaf_digits == 2
    leaves = pd.Series([docid[:-2] for docid in docids]).value_counts()
    assert leaves.max() <= 12 and len(leaves) > 230 // 12
    assert semantic_docids(docnos, vectors, leaf_size=12, seed=1) == mapping  # seeded: repeatable
    # a new document lands in the leaf of the document it is closest to, at the next free position
    grown = extend_docids(mapping, ["new"], vectors[:1], vectors)
    new = grown.docid("new")
    assert new[:-2] == mapping.docid("d0")[:-2] and new not in docids
    same_leaf = [d for d in docids if d[:-2] == new[:-2]]
    assert int("".join(map(str, new[-2:]))) == max(int("".join(map(str, d[-2:]))) for d in same_leaf) + 1


def test_semantic_docids_split_identical_vectors_by_position():
    mapping = semantic_docids([f"d{i}" for i in range(25)], np.ones((25, 4), dtype=np.float32), leaf_size=5)
    assert len(set(mapping.docids.values())) == 25


def test_atomic_docids_get_one_new_symbol_per_document():
    mapping = atomic_docids(["a", "b", "c"])
    assert mapping.docid("c") == (2,) and mapping.num_symbols == 3
    grown = extend_docids(mapping, ["d"])
    assert grown.docid("d") == (3,) and grown.num_symbols == 4


def test_a_docno_without_docid_is_named(tmp_path):
    mapping = naive_docids(["a", "b"])
    with pytest.raises(UnknownDocnoError, match="'zzz'"):
        mapping.docid("zzz")
    with pytest.raises(ValueError, match="already have docids"):
        mapping.with_docids({"a": (5,)})
    mapping.save(tmp_path / "docids.json")
    assert DocidMapping.load(tmp_path / "docids.json") == mapping
    assert mapping.sha256() != extend_docids(mapping, ["c"]).sha256()


def test_trie_allows_only_continuations_of_docids():
    trie = DocidTrie([[3, 4], [3, 5], [6]], eos=2)
    assert sorted(trie.allowed([])) == [3, 6] and sorted(trie.allowed([3])) == [4, 5]
    assert trie.allowed([3, 4]) == [2] and trie.allowed([6]) == [2] and trie.depth == 3
    assert trie.allowed([9]) == [2] and trie.allowed([3, 4, 2]) == [2]  # invalid / finished: only eos
    allowed = trie.prefix_allowed_tokens_fn()
    assert sorted(allowed(0, torch.tensor([1, 3]))) == [4, 5]  # the decoder start token is skipped


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
    """Tiny random checkpoints with MiniLM's tokenizer: an encoder-only BERT and a seq2seq BART."""
    from transformers import AutoTokenizer, BartConfig, BartForConditionalGeneration, BertConfig, BertModel
    root = tmp_path_factory.mktemp("tiny-models")
    tokenizer = AutoTokenizer.from_pretrained(str(bundled_minilm()))
    torch.manual_seed(0)
    bert = BertModel(BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                                intermediate_size=64))
    bart = BartForConditionalGeneration(BartConfig(
        vocab_size=len(tokenizer), d_model=32, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
        decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=128,
        pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.cls_token_id, eos_token_id=tokenizer.sep_token_id,
        decoder_start_token_id=tokenizer.cls_token_id, forced_eos_token_id=None))
    for name, model in (("bert", bert), ("bart", bart)):
        model.save_pretrained(root / name)
        tokenizer.save_pretrained(root / name)
    return {"bert": root / "bert", "bart": root / "bart"}


@pytest.mark.parametrize("kind", ["bert", "bart"])
def test_constrained_decoding_returns_only_valid_docids(tiny_models, kind):
    mapping = naive_docids([f"d{i}" for i in range(37)])
    model = DocidModel.create(tiny_models[kind], mapping.num_symbols, decoder_layers=1)
    assert model.vocab.in_tokenizer == (kind == "bart")
    trie = DocidTrie((model.vocab.tokens(d) for d in mapping.docids.values()), model.vocab.eos)
    for k in (1, 5):
        ranked = model.decode(["a query", "another, longer query about retrieval"], trie, k, max_length=16)
        assert [len(r) for r in ranked] == [k, k]
        for found in ranked:
            assert all(mapping.docno(docid) is not None for docid, _ in found)
            scores = [s for _, s in found]
            assert scores == sorted(scores, reverse=True) and all(s <= 0 for s in scores)


def test_seq2seq_checkpoint_gets_atomic_docid_tokens(tiny_models):
    model = DocidModel.create(tiny_models["bart"], 4)
    first = model.vocab.first_symbol
    assert model.tokenizer.convert_ids_to_tokens(first + 3) == "<docid_3>"
    model.add_symbols(2)
    assert model.vocab.num_symbols == 6 and model.tokenizer.convert_tokens_to_ids("<docid_5>") == first + 5
    assert model.model.get_output_embeddings().weight.shape[0] >= first + 6


@pytest.fixture(scope="module")
def tiny_collection(tmp_path_factory):
    """12 short documents and 3 queries, as a dataset folder."""
    topics = ["cats and dogs", "solar energy", "ancient rome"]
    docs = [{"docno": f"t{i}", "title": f"{topics[i % 3]} {i}", "text": f"document {i} is about {topics[i % 3]}. "
             f"It has number {i} in it, and a second sentence about {topics[i % 3]}."} for i in range(12)]
    return write_folder(tmp_path_factory.mktemp("tiny") / "tiny", docs,
                        pd.DataFrame({"qid": [f"q{i}" for i in range(3)], "query": topics}),
                        pd.DataFrame({"qid": [f"q{i % 3}" for i in range(12)], "docno": [f"t{i}" for i in range(12)],
                                      "label": 1}))


def test_tiny_dsi_end_to_end_with_atomic_docids(tiny_collection, tiny_models):
    dsi = DSI(tiny_collection, tiny_models["bert"], docids="atomic", decoder_layers=1, epochs=40,
              learning_rate=3e-3, batch_size=16)
    results = (dsi % 4).transform(tiny_collection.topics())
    assert set(results["docno"]) <= {f"t{i}" for i in range(12)}
    assert results.groupby("qid").size().max() <= 4
    manifest = dsi.index.manifest
    assert manifest["docids"]["scheme"] == "atomic" and manifest["doc_count"] == 12 and manifest["epochs"] >= 1
    assert (dsi.index.path / MODEL / "docid_vocabulary.json").exists()
    grown = dsi.add_documents([{"docno": "t12", "text": "a brand new document on volcanoes."}], epochs=5)
    assert grown.mapping().docid("t12") == (12,) and grown.index.path != dsi.index.path
    assert len(dsi.mapping()) == 12  # the original stage is unchanged
    assert set(grown.transform(tiny_collection.topics())["docno"]) <= {f"t{i}" for i in range(13)}


def test_fit_on_training_queries_gets_its_own_model_folder(tiny_collection, tiny_models):
    topics, qrels = tiny_collection.topics(), tiny_collection.qrels()
    settings = {"docids": "naive", "decoder_layers": 1, "epochs": 2, "batch_size": 16}
    dsi = DSI(tiny_collection, tiny_models["bert"], **settings)
    unknown = pd.concat([qrels, pd.DataFrame({"qid": ["q0"], "docno": ["nope"], "label": [1]})])
    with pytest.raises(UnknownDocnoError, match="'nope'"):
        dsi.fit(topics, unknown)
    fitted = dsi.fit(topics, qrels)
    assert fitted.index.manifest["train_queries"] == 3 and fitted.index.manifest["epochs"] <= 2
    assert fitted.index.path != DSI(tiny_collection, tiny_models["bert"], **settings).index.path
    assert fitted.to_config()["docids"] == "naive" and fitted.to_config()["dataset"] == "tiny"


def test_empty_queries_give_no_rows_and_no_training(tiny_collection, tiny_models):
    dsi = DSI(tiny_collection, tiny_models["bert"], docids="naive", epochs=1, seed=7)
    out = dsi.transform(pd.DataFrame({"qid": ["1", "2"], "query": ["", "   "]}))
    assert out.empty and list(out.columns) == ["qid", "query", "docno", "score", "rank"]
    assert not dsi.index.built()


def test_model_folder_without_docids_is_named(tiny_collection, tiny_models, tmp_path):
    dsi = DSI(tiny_collection, tiny_models["bert"], docids="atomic", decoder_layers=1, epochs=40,
              learning_rate=3e-3, batch_size=16).prepare()
    broken = tmp_path / "broken-dsi"
    shutil.copytree(dsi.index.path, broken)
    (broken / DOCIDS).unlink()
    with pytest.raises(MissingDocidsError, match="broken-dsi"):
        DSI(index=broken).transform(pd.DataFrame({"qid": ["1"], "query": ["cats"]}))
    with pytest.raises(ValueError, match="DSI: parameter 'docids' should be 'naive', 'semantic' or 'atomic'"):
        DSI(tiny_collection, docids="random")


# --- ADI: indexing by training, retrieval, DSI++ ---------------------------------------------------------------

@pytest.fixture(scope="module")
def adi():
    return tir.load_dataset("adi")


@pytest.fixture(scope="module")
def adi_indexed(adi, tmp_path_factory):
    """ADI without the HELD_OUT documents (added later by DSI++), with all of ADI's topics and qrels."""
    docs = [d for d in adi.corpus_iter() if d["docno"] not in HELD_OUT]
    return write_folder(tmp_path_factory.mktemp("adi-indexed") / "adi-indexed", docs, adi.topics(), adi.qrels())


@pytest.fixture(scope="module")
def naive(adi_indexed) -> DSI:
    return DSI(adi_indexed, docids="naive", **SMALL_BUDGET).prepare()


@pytest.fixture(scope="module")
def semantic(adi) -> DSI:
    return DSI(adi, docids="semantic", leaf_size=10, **SMALL_BUDGET).prepare()


@needs_data("adi")
@pytest.mark.slow
@pytest.mark.parametrize("name", ["naive", "semantic"])
def test_indexing_reaches_hits_at_1_on_document_texts(name, request):
    dsi = request.getfixturevalue(name)
    manifest = dsi.index.manifest
    assert manifest["indexing_accuracy"] >= 0.95 and dsi.indexing_accuracy() >= 0.95
    assert manifest["docids"]["scheme"] == name and manifest["build_seconds"] > 0 and manifest["size_bytes"] > 0
    assert manifest["docids_sha256"] == dsi.mapping().sha256()
    if name == "semantic":
        leaves = pd.Series([d[:-dsi.mapping().leaf_digits] for d in dsi.mapping().docids.values()]).value_counts()
        assert leaves.max() <= 10


@needs_data("adi")
@pytest.mark.slow
@pytest.mark.parametrize("name", ["naive", "semantic"])
def test_results_are_valid_ranked_documents_and_cutoff_is_fused(name, request, adi):
    dsi = request.getfixturevalue(name)
    topics = adi.topics()
    top10, top3 = dsi.transform(topics), (dsi % 3).transform(topics)
    assert list(top10.columns) == ["qid", "query", "docno", "score", "rank"]
    assert set(top10["docno"]) <= set(dsi.mapping().docids) and not top10.duplicated(["qid", "docno"]).any()
    assert top3.groupby("qid").size().max() <= 3 and top10.groupby("qid").size().max() <= 10
    for _, ranked in top3.groupby("qid"):
        assert list(ranked["rank"]) == list(range(len(ranked)))
        assert (np.diff(ranked["score"].to_numpy()) <= 1e-9).all()
    best10 = top10[top10["rank"] == 0].set_index("qid")["docno"]
    best3 = top3[top3["rank"] == 0].set_index("qid")["docno"]
    assert (best10 == best3).mean() >= 0.8  # beam search with fewer beams finds the same best docid, mostly
    assert (dsi % 3).compile().fingerprint() != dsi.fingerprint() and dsi.fingerprint() == dsi.fingerprint()


@needs_data("adi")
@pytest.mark.slow
def test_dsi_composes_and_is_evaluated(naive, adi):
    pipeline = naive % 5 >> adi.text_loader()
    out = pipeline.transform(adi.topics().head(3))
    assert "text" in out.columns and out.groupby("qid").size().max() <= 5
    result = tir.Experiment([naive, tir.BM25(adi)], adi.topics(), adi.qrels(), metrics=["nDCG@10"],
                            names=["DSI", "BM25"])
    value = result.results.set_index("name").loc["DSI", "nDCG@10"]
    run = naive.transform(adi.topics())
    import ir_measures
    expected = ir_measures.calc_aggregate([ir_measures.nDCG @ 10], adi.qrels().rename(columns={
        "qid": "query_id", "docno": "doc_id", "label": "relevance"}), run.rename(columns={
            "qid": "query_id", "docno": "doc_id"}))[ir_measures.nDCG @ 10]
    assert value == pytest.approx(expected, abs=1e-9) and value > 0.05
    assert "DSI" in tir.to_yaml(naive % 5)


@needs_data("adi")
@pytest.mark.slow
def test_dsi_plus_plus_makes_new_documents_retrievable(naive, adi):
    new = [d for d in adi.corpus_iter() if d["docno"] in HELD_OUT]
    before = naive.indexing_accuracy()
    with_replay = naive.add_documents(new, replay=True, epochs=15)
    without = naive.add_documents(new, replay=False, epochs=15)
    assert [with_replay.mapping().docid(d) for d in HELD_OUT] == [(7, 7), (7, 8), (7, 9), (8, 0), (8, 1)]
    assert set(HELD_OUT) <= set(with_replay.mapping().docids) and len(with_replay.mapping()) == 82
    for stage in (with_replay, without):
        assert stage.indexing_accuracy(new) >= 0.6  # the new documents are learned
    old_replay, old_without = with_replay.indexing_accuracy(), without.indexing_accuracy()
    print(f"DSI++ Hits@1 on old docs: before {before:.3f}, after with replay {old_replay:.3f}, "
          f"without replay {old_without:.3f}")
    assert old_replay >= old_without - 0.02
