"""Datasets: resolution, folder format, TREC IO and their error messages, document text."""
import subprocess
import sys

import pandas as pd
import pytest

import transformers_ir as tir
from transformers_ir.core import DatasetNotFoundError, InputFormatError, TirError
from transformers_ir.data import read_qrels, read_run, read_topics, write_folder, write_run

from .conftest import needs_data

pytestmark = needs_data("vaswani")


def test_name_on_data_path_and_folder_path_resolve_to_the_same_collection():
    by_name = tir.load_dataset("vaswani")
    by_path = tir.load_dataset(str(by_name.path))
    assert by_name.path == by_path.path
    assert len(by_name.topics()) == 93
    assert len(by_name.qrels()) == 2083
    assert by_name.splits == []


def test_unknown_dataset_says_what_was_tried(monkeypatch, tmp_path):
    monkeypatch.setenv("TIR_DATA_PATH", str(tmp_path))
    with pytest.raises(DatasetNotFoundError) as e:
        tir.load_dataset("no-such-collection")
    message = str(e.value)
    assert "no-such-collection" in message
    assert str(tmp_path / "no-such-collection") in message
    assert "irds:no-such-collection" in message


def test_unknown_irds_id_is_a_clear_error():
    with pytest.raises(TirError, match="ir_datasets does not know 'no-such/dataset'"):
        tir.load_dataset("irds:no-such/dataset")


@needs_data("scifact")
def test_splits_of_scifact():
    ds = tir.load_dataset("scifact")
    assert ds.splits == ["test", "train"]
    assert len(ds.topics("test")) == 300 and len(ds.qrels("test")) == 339
    assert len(ds.topics("train")) == 809
    with pytest.raises(ValueError, match="pass split="):
        ds.topics()
    docs = list(ds.corpus_iter())
    assert len(docs) == 5183 and {"docno", "title", "text"} <= set(docs[0])


def test_malformed_qrels_line_names_file_and_line(tmp_path):
    path = tmp_path / "qrels.txt"
    path.write_text("1 0 d1 1\n1 0 d2\n")
    with pytest.raises(InputFormatError, match=r"qrels.txt:2: expected 4 fields"):
        read_qrels(path)
    path.write_text("1 0 d1 1\n\n2 0 d2 high\n")
    with pytest.raises(InputFormatError, match=r"qrels.txt:3:8: relevance label 'high' is not an integer"):
        read_qrels(path)


def test_malformed_and_duplicate_topics_name_file_and_line(tmp_path):
    path = tmp_path / "topics.tsv"
    path.write_text("1\tfirst query\n2 no tab here\n")
    with pytest.raises(InputFormatError, match=r"topics.tsv:2:1: expected 'qid<TAB>query'"):
        read_topics(path)
    path.write_text("1\tfirst\n2\tsecond\n1\tagain\n")
    with pytest.raises(InputFormatError, match=r"topics.tsv:3: duplicate qid '1' \(first seen on line 1\)"):
        read_topics(path)


def test_malformed_corpus_line_names_file_and_line(tmp_path):
    (tmp_path / "corpus.jsonl").write_text('{"docno": "a", "text": "x"}\n{"docno": "b", "text": \n')
    ds = tir.load_dataset(str(tmp_path))
    with pytest.raises(InputFormatError, match=r"corpus.jsonl:2:.*invalid JSON"):
        list(ds.corpus_iter())


def test_run_round_trip(tmp_path):
    run = pd.DataFrame({"qid": ["1", "1", "2"], "docno": ["a", "b", "c"], "score": [1.5, 2.5, 0.25]})
    write_run(run, tmp_path / "r.trec", name="x")
    lines = (tmp_path / "r.trec").read_text().splitlines()
    assert lines[0] == "1 Q0 b 1 2.5 x"
    back = read_run(tmp_path / "r.trec")
    assert back[["qid", "docno", "rank"]].values.tolist() == [["1", "b", 0], ["1", "a", 1], ["2", "c", 0]]


def test_write_folder_makes_a_slice_an_ordinary_dataset(tmp_path):
    vaswani = tir.load_dataset("vaswani")
    docs = [d for _, d in zip(range(5), vaswani.corpus_iter())]
    topics = vaswani.topics().head(3)
    qrels = vaswani.qrels()[vaswani.qrels()["qid"].isin(topics["qid"])]
    write_folder(tmp_path / "slice", docs, topics, qrels, split="test")
    sliced = tir.load_dataset(str(tmp_path / "slice"))
    assert sliced.splits == ["test"] and [d["docno"] for d in sliced.corpus_iter()] == [d["docno"] for d in docs]
    assert sliced.topics("test")[["qid", "query"]].values.tolist() == topics[["qid", "query"]].values.tolist()
    assert sliced.qrels("test")[["qid", "docno", "label"]].values.tolist() == qrels[["qid", "docno", "label"]].values.tolist()


def test_text_loader_attaches_text_and_title():
    ds = tir.load_dataset("vaswani")
    out = ds.text_loader().transform(pd.DataFrame({"qid": ["q", "q"], "docno": ["2", "1"]}))
    assert out["text"].iloc[1].startswith("compact memories have flexible capacities")
    with pytest.raises(KeyError, match="not in the corpus"):
        ds.text_loader().transform(pd.DataFrame({"qid": ["q"], "docno": ["nope"]}))


@needs_data("msmarco-dl19-subset")
def test_run_file_stage_gives_the_runs_results_for_its_topics():
    ds = tir.load_dataset("msmarco-dl19-subset")
    stage = tir.RunFile(ds, "run.bm25.top100.txt")  # found in the dataset's folder
    topics = pd.concat([ds.topics().head(2), pd.DataFrame({"qid": ["not-in-run"], "query": ["x"]})])
    results = stage.transform(topics)
    assert list(results.columns) == ["qid", "query", "docno", "score", "rank"]
    run = read_run(ds.path / "run.bm25.top100.txt")
    expected = run[run["qid"].isin(topics["qid"])]
    assert len(results) == len(expected) == 200 and set(results["qid"]) == set(topics["qid"].head(2))
    merged = results.merge(expected, on=["qid", "docno"], suffixes=("", "_run"))
    assert len(merged) == 200 and (merged["score"] == merged["score_run"]).all()
    assert (merged["rank"] == merged["rank_run"]).all()
    assert stage.fingerprint() != tir.RunFile(ds, "run.contriever.top100.txt").fingerprint()
    with pytest.raises(FileNotFoundError, match="no run file"):
        tir.RunFile(ds, "run.missing.txt")


@needs_data("msmarco-dl19-subset")
@pytest.mark.parametrize("run, expected", [
    ("bm25", {"nDCG@10": "0.5058", "R(rel=2)@100": "0.4910", "AP": "0.2993"}),  # Anserini: 0.5058 / 0.4910
    ("contriever", {"nDCG@10": "0.6202", "R(rel=2)@100": "0.5986", "AP": "0.3800"}),
])
def test_dl19_runs_reproduce_exactly_via_tir_eval(run, expected):
    ds = tir.load_dataset("msmarco-dl19-subset")
    out = subprocess.run([sys.executable, "-m", "transformers_ir.cli", "eval", str(ds.path / f"run.{run}.top100.txt"),
                          str(ds.path / "qrels.txt"), "-m", *expected], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    assert dict(line.split("\t") for line in out) == expected  # exact, as printed
