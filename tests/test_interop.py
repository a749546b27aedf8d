"""Datasets both ways: our datasets speak PyTerrier's dataset API, and our stages take PyTerrier datasets,
ir_datasets objects and ``irds:<id>`` (tested offline on a seeded ``IR_DATASETS_HOME``)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pyterrier as pt
import pytest

import transformers_ir as tir
from transformers_ir.core import TirError

from .conftest import needs_data

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def adi():
    return tir.load_dataset("adi")


@needs_data("adi")
def test_pt_text_get_text_on_our_dataset(adi):
    corpus = {d["docno"]: d for d in adi.corpus_iter()}
    results = (tir.BM25(adi) % 5).transform(adi.topics().head(3))
    loader = pt.text.get_text(adi, "text", verbose=True)
    assert isinstance(loader, tir.TextLoader) and loader.fields == ("text",)
    texts = loader.transform(results)
    assert texts["text"].tolist() == [corpus[d]["text"] for d in results["docno"]]
    everything = pt.text.get_text(adi).transform(results)  # pt's default: every field the corpus has
    assert everything["title"].tolist() == [corpus[d]["title"] for d in results["docno"]]
    assert pt.text.get_text(adi, ["title"]).fields == ("title",)


@needs_data("scifact")
def test_our_dataset_speaks_pyterriers_dataset_api():
    scifact = tir.load_dataset("scifact")
    assert isinstance(scifact, pt.datasets.Dataset)
    topics, qrels = scifact.get_topicsqrels("test")
    pd.testing.assert_frame_equal(topics, scifact.topics("test"))
    pd.testing.assert_frame_equal(scifact.get_qrels("train"), scifact.qrels("train"))
    docs = list(scifact.get_corpus_iter(verbose=False))
    assert len(docs) == 5183 and {"docno", "title", "text"} <= set(docs[0])
    assert scifact.info_url().startswith("file://") and scifact.info_url().endswith("scifact/SOURCE.md")
    # pt code as written for pt's own datasets
    res = pt.Experiment([tir.BM25(scifact) % 10], scifact.get_topics("test"), scifact.get_qrels("test"),
                        eval_metrics=["ndcg_cut_10"])
    assert res["ndcg_cut_10"][0] == pytest.approx(0.6789, abs=0.015)  # BEIR's published BM25 (SOURCE.md)


class FolderAsPtDataset(pt.datasets.Dataset):
    """A PyTerrier dataset as a user or a plugin writes one: PyTerrier's API over the ADI files."""

    def __init__(self, folder: Path):
        self.folder, self.name = folder, "my-adi"

    def get_topics(self, variant=None):
        return pd.read_csv(self.folder / "topics.tsv", sep="\t", names=["qid", "query"], dtype=str)

    def get_qrels(self, variant=None):
        return pt.io.read_qrels(str(self.folder / "qrels.txt"))

    def get_corpus_iter(self, verbose=True):
        with open(self.folder / "corpus.jsonl") as f:
            yield from map(json.loads, f)


@needs_data("adi")
def test_a_pt_dataset_object_works_in_our_stages(adi):
    mine = FolderAsPtDataset(adi.path)
    bm25 = tir.BM25(mine, k1=1.2, b=0.75)
    assert bm25.dataset.name == "pt:my-adi" and bm25.dataset.fingerprint() == tir.BM25(mine).dataset.fingerprint()
    topics = mine.get_topics()
    ours = (bm25 % 10).transform(topics)
    reference = (tir.BM25(adi, k1=1.2, b=0.75) % 10).transform(adi.topics())
    pd.testing.assert_frame_equal(ours[["qid", "docno", "rank"]], reference[["qid", "docno", "rank"]])
    texts = (bm25 % 3 >> tir.TextLoader(mine, fields="*")).transform(topics.head(2))
    assert {"title", "text"} <= set(texts.columns) and texts["text"].str.len().min() > 0
    res = tir.Experiment([bm25 % 10], mine.get_topics(), mine.get_qrels(), ["nDCG@10"])
    direct = tir.Experiment([tir.BM25(adi, k1=1.2, b=0.75) % 10], adi.topics(), adi.qrels(), ["nDCG@10"])
    assert res["nDCG@10"][0] == direct["nDCG@10"][0] and res["nDCG@10"][0] > 0.3


def test_not_a_dataset_is_a_clear_error():
    with pytest.raises(ValueError, match="BM25: parameter 'dataset' should be a dataset: a name, a folder"):
        tir.BM25(42)
    with pytest.raises(TypeError, match="a dataset is a name, a folder"):
        tir.load_dataset(42)

    class Broken(pt.datasets.Dataset):
        name = "broken"

    with pytest.raises(TirError, match="pt:broken: the PyTerrier dataset could not provide its topics"):
        tir.load_dataset(Broken()).topics()


def seed_irds_vaswani(home: Path, folder: Path) -> None:
    """Write Vaswani in the layout ir_datasets reads for ``vaswani`` (ir_datasets/datasets/vaswani.py): the three
    files it caches from the NPL tarball — ``docs.txt`` (id line, text, ``   /``), ``queries.txt`` (id line,
    text, ``/``) and ``qrels.txt`` (query id line, relevant doc ids, ``   /``) — under ``$IR_DATASETS_HOME/vaswani``;
    when they exist it never downloads."""
    out = home / "vaswani"
    out.mkdir(parents=True)
    with open(folder / "corpus.jsonl") as f, open(out / "docs.txt", "w") as docs:
        for doc in map(json.loads, f):
            docs.write(f"{doc['docno']}\n{doc['text']}\n   /\n")
    topics = pd.read_csv(folder / "topics.tsv", sep="\t", names=["qid", "query"], dtype=str)
    (out / "queries.txt").write_text("".join(f"{q}\n{text}\n/\n" for q, text in zip(topics["qid"], topics["query"])))
    qrels = pd.read_csv(folder / "qrels.txt", sep=" ", names=["qid", "it", "docno", "label"], dtype=str)
    (out / "qrels.txt").write_text("".join(f"{q}\n{' '.join(group['docno'])}\n   /\n"
                                           for q, group in qrels.groupby("qid", sort=False)))


@needs_data("vaswani")
def test_irds_dataset_loads_offline_from_a_seeded_home(tmp_path):
    folder = tir.load_dataset("vaswani").path
    home = tmp_path / "ir_datasets"
    seed_irds_vaswani(home, folder)
    script = textwrap.dedent("""
        import json, sys
        import ir_datasets, pandas as pd, pyterrier as pt
        import transformers_ir as tir
        ds = tir.load_dataset("irds:vaswani")
        topics, qrels = ds.topics(), ds.qrels()
        docs = list(ds.corpus_iter())
        folder = tir.load_dataset(sys.argv[1])
        ap = {}
        for name, source in [("irds", ds), ("pt", pt.get_dataset("irds:vaswani")),
                             ("object", ir_datasets.load("vaswani")), ("folder", folder)]:
            bm25 = tir.BM25(source) % 1000
            ap[name] = float(tir.Experiment([bm25], folder.topics(), folder.qrels(), ["AP"])["AP"][0])
        text = pt.text.get_text(ds, "text").transform(pd.DataFrame({"qid": ["1"], "docno": ["2"]}))["text"][0]
        print(json.dumps({"name": ds.name, "topics": len(topics), "topic_qids": topics["qid"].nunique(),
                          "qrels": len(qrels), "docs": len(docs), "doc2": docs[1]["text"].strip(),
                          "first_query": topics["query"][0].strip(), "ap": ap, "text": text.strip(),
                          "info": ds.info_url()}))
    """)
    env = {**os.environ, "IR_DATASETS_HOME": str(home), "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", script, str(folder)], env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    corpus = {d["docno"]: d["text"] for d in tir.load_dataset("vaswani").corpus_iter()}
    assert got["name"] == "irds:vaswani" and got["info"] == "https://ir-datasets.com/vaswani.html"
    assert (got["topics"], got["topic_qids"], got["qrels"], got["docs"]) == (93, 93, 2083, 11429)
    assert got["doc2"] == corpus["2"] == got["text"]
    assert got["first_query"] == "MEASUREMENT OF DIELECTRIC CONSTANT OF LIQUIDS BY THE USE OF MICROWAVE TECHNIQUES"
    assert got["ap"]["irds"] == pytest.approx(got["ap"]["folder"], abs=1e-12)
    assert got["ap"]["pt"] == got["ap"]["object"] == got["ap"]["irds"]
    assert not list(home.glob("**/*.tar.gz")), "ir_datasets downloaded something"
