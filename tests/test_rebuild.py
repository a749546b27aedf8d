"""A changed corpus is a different index for every index kind (PISA, learned-sparse impacts, Lucene, dense, ColBERT
tokens, DSI): a new stage — or the same notebook Dataset object after the file changed — builds anew and finds the
new document; nothing stale is reused."""
import json
import os

import pandas as pd
import pytest

import transformers_ir as tir
from transformers_ir.data import write_folder
from transformers_ir.encoders import bundled_minilm

from .conftest import requires

TOPICS = ["cats and dogs", "solar energy", "ancient rome"]
NEW = {"docno": "new", "title": "zebrafish", "text": "zebrafish regenerate their fins and hearts"}


def _docs():
    return [{"docno": f"t{i}", "title": f"{TOPICS[i % 3]} {i}", "text": f"document {i} is about {TOPICS[i % 3]}."}
            for i in range(12)]


@pytest.fixture
def collection(tmp_path):
    return write_folder(tmp_path / "tiny", _docs(), pd.DataFrame({"qid": ["q0", "q1"], "query": ["cats", "zebrafish fins"]}),
                        pd.DataFrame({"qid": ["q0", "q1"], "docno": ["t0", "new"], "label": [1, 1]}))


def _grow(dataset):
    """Append NEW to the dataset's corpus file (the Dataset object is kept, as in a notebook)."""
    with open(dataset.corpus_path, "a", encoding="utf-8") as f:
        f.write(json.dumps(NEW) + "\n")
    stat = dataset.corpus_path.stat()
    os.utime(dataset.corpus_path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))


QUERY = pd.DataFrame({"qid": ["q1"], "query": ["zebrafish fins"]})


@pytest.mark.parametrize("kind", ["bm25", "bm25-porter", "unicoil", "dense", "colbert"])
def test_a_changed_corpus_rebuilds_each_index_kind(collection, kind):
    make = {
        "bm25": lambda ds: tir.BM25(ds),
        "bm25-porter": lambda ds: tir.BM25(ds, stemmer="porter"),
        "unicoil": lambda ds: tir.UniCOIL(ds, str(bundled_minilm())),
        "dense": lambda ds: tir.Dense(ds),
        "colbert": lambda ds: tir.ColBERT(ds),
    }[kind]
    before = make(collection).prepare()
    fingerprint, path = before.fingerprint(), before.index.path
    assert before.index.manifest["doc_count"] == 12
    _grow(collection)
    after = make(collection).prepare()
    assert after.index.path != path and after.fingerprint() != fingerprint
    assert after.index.manifest["doc_count"] == 13
    if kind == "colbert":
        candidates = pd.DataFrame({"qid": ["q1"] * 2, "query": ["zebrafish fins"] * 2, "docno": ["new", "t1"],
                                   "score": [0.0, 0.0], "rank": [0, 1]})
        assert after.transform(candidates)["docno"].iloc[0] == "new"
    else:
        assert after.transform(QUERY)["docno"].iloc[0] == "new"
    assert json.loads((path / "manifest.json").read_text())["doc_count"] == 12  # the old index is the old corpus's


@pytest.mark.slow
def test_a_changed_corpus_rebuilds_the_lucene_index(collection):
    requires("pyserini")
    before = tir.LuceneBM25(collection).prepare()
    _grow(collection)
    after = tir.LuceneBM25(collection).prepare()
    assert after.index.path != before.index.path and after.index.manifest["doc_count"] == 13
    assert after.transform(QUERY)["docno"].iloc[0] == "new"


def test_a_changed_corpus_retrains_dsi(collection, tmp_path):
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel
    tokenizer = AutoTokenizer.from_pretrained(str(bundled_minilm()))
    torch.manual_seed(0)
    BertModel(BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=64)).save_pretrained(tmp_path / "bert")
    tokenizer.save_pretrained(tmp_path / "bert")
    settings = {"decoder_layers": 1, "epochs": 1, "batch_size": 16}
    before = tir.DSI(collection, str(tmp_path / "bert"), **settings)
    fingerprint = before.fingerprint()
    before.prepare()
    assert len(before.index.mapping()) == 12
    _grow(collection)
    after = tir.DSI(collection, str(tmp_path / "bert"), **settings)
    assert after.fingerprint() != fingerprint and after.index.path != before.index.path
    assert not after.index.built()  # fingerprinting trained nothing
    after.prepare()
    assert len(after.index.mapping()) == 13 and "new" in after.index.mapping().docids


def test_the_text_store_follows_the_corpus(collection):
    loader = tir.TextLoader(collection)
    frame = pd.DataFrame({"qid": ["q"], "docno": ["t1"]})
    assert loader.transform(frame)["text"].iloc[0] == "document 1 is about solar energy."
    _grow(collection)
    assert tir.TextLoader(collection).transform(frame.assign(docno="new"))["text"].iloc[0] == NEW["text"]
