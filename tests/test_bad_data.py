"""Bad data gets a clear error naming where it is, or is read exactly like the clean input — never a silently
different number. Corpus, topics, qrels and runs as files; topics, qrels and runs as notebook frames; `tir eval`.

Each case corrupts a copy of ADI (82 documents, 35 topics) and asserts the outcome: the error (type, file, line,
column) or, for inputs that must be accepted (BOM, CRLF, gzip, blank lines), the clean collection's AP.
"""
import gzip
import shutil
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

import transformers_ir as tir
from transformers_ir.cli import main
from transformers_ir.core import IndexBuildError, InputFormatError
from transformers_ir.data import CorpusError, read_qrels, read_run, read_topics
from transformers_ir.data.frames import FrameError
from transformers_ir.experiment.coverage import CoverageError
from transformers_ir.sparse import PisaTextIndex
from transformers_ir.sparse import pisa_build

from .conftest import needs_data

pytestmark = needs_data("adi")
ADI = Path(__file__).resolve().parents[2] / "shared" / "data" / "adi"


def adi_dir() -> Path:
    return Path(tir.load_dataset("adi").path)


def lines(name: str) -> list[str]:
    return (adi_dir() / name).read_text(encoding="utf-8").splitlines()


def collection(tmp_path, corpus: bytes | None = None, topics: bytes | None = None, qrels: bytes | None = None,
               name: str = "c") -> Path:
    """A copy of ADI with some of its files replaced by the given bytes."""
    folder = tmp_path / name
    folder.mkdir()
    for file, data in (("corpus.jsonl", corpus), ("topics.tsv", topics), ("qrels.txt", qrels)):
        if data is None:
            shutil.copy(adi_dir() / file, folder / file)
        else:
            (folder / file).write_bytes(data)
    return folder


def joined(rows: list[str], end: str = "\n") -> bytes:
    return (end.join(rows) + end).encode("utf-8")


def ap(folder: Path) -> float:
    ds = tir.load_dataset(str(folder))
    return tir.Experiment([tir.BM25(ds) % 1000], ds.topics(), ds.qrels(), ["AP"], cache=False).results["AP"].iloc[0]


@pytest.fixture(scope="module")
def clean_ap():
    return ap(adi_dir())


def built_indexes(name: str) -> list[Path]:
    import os
    root = Path(os.environ["TIR_CACHE_DIR"]) / "indexes"
    return [p for p in root.glob(f"pisa-{name}-*") if p.is_dir() and (p / "manifest.json").exists()]


# --- corpus ---------------------------------------------------------------------------------------------------

CORPUS = [
    ("bad JSON", lambda c: c[:40] + ['{"docno": "x", "text": "a"'] + c[40:], InputFormatError,
     r"corpus.jsonl:41:27: invalid JSON"),
    ("missing docno", lambda c: c[:10] + ['{"text": "a"}'] + c[10:], CorpusError, r"corpus.jsonl:11: document has no 'docno'"),
    ("empty docno", lambda c: c[:3] + ['{"docno": "", "text": "a"}'] + c[3:], CorpusError, r"corpus.jsonl:4: 'docno' is empty"),
    ("integer docno", lambda c: ['{"docno": 5, "text": "a"}'] + c, CorpusError,
     r"corpus.jsonl:1: 'docno' must be a string, found int 5"),
    ("docno with a space", lambda c: c[:3] + ['{"docno": "15 b", "text": "a"}'] + c[3:], CorpusError,
     r"corpus.jsonl:4: docno '15 b' contains whitespace"),
    ("docno with a tab", lambda c: c + ['{"docno": "a\\tb", "text": "a"}'], CorpusError, r"corpus.jsonl:83: docno 'a\\tb' contains"),
    ("duplicate docno", lambda c: c + [c[7]], CorpusError, r"duplicate docno '8': .*corpus.jsonl:83 repeats .*corpus.jsonl:8$"),
    ("a list, not an object", lambda c: c[:2] + ["[1, 2]"] + c[2:], CorpusError,
     r"corpus.jsonl:3: a document must be a JSON object .* found list"),
    ("a string, not an object", lambda c: c[:2] + ['"doc"'] + c[2:], CorpusError, r"corpus.jsonl:3: .* found str"),
    ("text is a number", lambda c: c + ['{"docno": "n", "text": 5}'], CorpusError, r"corpus.jsonl:83: 'text' must be a string, found int"),
    ("title is a list", lambda c: c + ['{"docno": "n", "title": ["a"], "text": "b"}'], CorpusError,
     r"corpus.jsonl:83: 'title' must be a string, found list"),
    ("only blank lines", lambda c: ["", "  "], CorpusError, r"corpus.jsonl: the corpus has no documents"),
]


@pytest.mark.parametrize("case, edit, error, message", CORPUS, ids=[c[0] for c in CORPUS])
def test_bad_corpus_line_is_named_and_no_index_is_installed(tmp_path, case, edit, error, message):
    folder = collection(tmp_path, corpus=joined(edit(lines("corpus.jsonl"))), name=f"bad{abs(hash(case))}")
    with pytest.raises(error, match=message):
        tir.BM25(str(folder)).prepare()
    assert built_indexes(folder.name) == []


def test_invalid_utf8_is_named_with_line_and_column(tmp_path):
    corpus = joined(lines("corpus.jsonl")[:5]) + b'{"docno": "z", "text": "caf\xe9"}\n'
    folder = collection(tmp_path, corpus=corpus)
    with pytest.raises(InputFormatError, match=r"corpus.jsonl:6:28: invalid UTF-8 \(byte 0xe9\)"):
        tir.BM25(str(folder)).prepare()


def test_empty_corpus_file_is_an_error_not_a_native_abort(tmp_path):
    folder = collection(tmp_path, corpus=b"")
    with pytest.raises(CorpusError, match="the corpus has no documents"):
        tir.BM25(str(folder)).prepare()


@pytest.mark.parametrize("variant", ["bom", "crlf", "bom+crlf", "gzip", "blank lines"])
def test_accepted_corpus_variants_give_the_clean_result(tmp_path, clean_ap, variant):
    rows = lines("corpus.jsonl")
    if variant == "blank lines":
        rows = rows[:20] + ["", "   "] + rows[20:]
    data = joined(rows, "\r\n" if "crlf" in variant else "\n")
    if "bom" in variant:
        data = b"\xef\xbb\xbf" + data
    folder = collection(tmp_path, corpus=data)
    if variant == "gzip":
        (folder / "corpus.jsonl.gz").write_bytes(gzip.compress(data))
        (folder / "corpus.jsonl").unlink()
    assert ap(folder) == pytest.approx(clean_ap, abs=1e-12)


def test_null_text_reads_as_empty_text(tmp_path):
    rows = lines("corpus.jsonl")
    nulled = collection(tmp_path, corpus=joined(rows + ['{"docno": "extra", "text": null}']), name="nulled")
    empty = collection(tmp_path, corpus=joined(rows + ['{"docno": "extra", "text": ""}']), name="empty")
    assert ap(nulled) == pytest.approx(ap(empty), abs=1e-12)


def test_a_failed_build_keeps_the_earlier_index_and_a_fixed_corpus_builds(tmp_path, clean_ap):
    folder = collection(tmp_path)
    assert ap(folder) == pytest.approx(clean_ap, abs=1e-12)
    good = built_indexes(folder.name)
    (folder / "corpus.jsonl").write_bytes(joined(lines("corpus.jsonl") + ['{"docno": "1"}']))
    with pytest.raises(CorpusError, match="duplicate docno '1'"):
        tir.BM25(str(folder)).prepare()
    assert built_indexes(folder.name) == good
    (folder / "corpus.jsonl").write_bytes(joined(lines("corpus.jsonl")))
    assert ap(folder) == pytest.approx(clean_ap, abs=1e-12)


def test_documents_from_an_iterable_are_checked_too(tmp_path):
    docs = [{"docno": "a", "text": "x"}, {"docno": "b", "text": "y"}, {"docno": "a", "text": "z"}]
    with pytest.raises(CorpusError, match=r"document #3 repeats the docno of .*document #1"):
        PisaTextIndex(tmp_path / "idx").build(docs)
    with pytest.raises(CorpusError, match=r"document #1: 'docno' must be a string"):
        PisaTextIndex(tmp_path / "idx").build([{"docno": 1, "text": "x"}])
    assert not (tmp_path / "idx").exists()


def test_native_abort_becomes_an_error_with_the_log(tmp_path, monkeypatch):
    monkeypatch.setattr(pisa_build, "_CHILD", "import sys; print('PISA: something broke'); sys.stdout.flush(); "
                                              "import os; os.abort()")
    with pytest.raises(IndexBuildError, match=r"(?s)PISA's indexer .*PISA: something broke"):
        PisaTextIndex(tmp_path / "idx").build([{"docno": "a", "text": "x"}])
    assert not (tmp_path / "idx").exists()


def test_fewer_documents_indexed_than_read_is_refused(tmp_path, monkeypatch):
    native = pisa_build._native()
    fake = SimpleNamespace(__file__=native.__file__, num_docs=lambda path: native.num_docs(path) - 1)
    monkeypatch.setattr(pisa_build, "_native", lambda: fake)
    with pytest.raises(IndexBuildError, match="PISA indexed 1 documents of the 2 read; not installed"):
        PisaTextIndex(tmp_path / "idx").build([{"docno": "a", "text": "x"}, {"docno": "b", "text": "y"}])
    assert not (tmp_path / "idx").exists()


# --- topics ---------------------------------------------------------------------------------------------------

TOPICS = [
    ("no tab", lambda t: t[:2] + ["3 what is this"] + t[3:], r"topics.tsv:3:1: expected 'qid<TAB>query', found no tab"),
    ("empty qid", lambda t: t[:2] + ["\tquery"] + t[3:], r"topics.tsv:3:1: empty qid"),
    ("duplicate qid", lambda t: t + [t[4]], r"topics.tsv:36: duplicate qid '5' \(first seen on line 5\)"),
    ("empty query", lambda t: t[:2] + ["3\t   "] + t[3:], r"topics.tsv:3:3: qid '3': the query is empty"),
    ("NUL byte", lambda t: t[:2] + ["3\tinfo\0rmation"] + t[3:], r"topics.tsv:3:3: qid '3': the query holds a NUL byte"),
    ("qid with a space", lambda t: t[:2] + ["3 b\tquery"] + t[3:], r"topics.tsv:3:1: qid '3 b' contains whitespace"),
]


@pytest.mark.parametrize("case, edit, message", TOPICS, ids=[c[0] for c in TOPICS])
def test_bad_topics_line_is_named(tmp_path, case, edit, message):
    folder = collection(tmp_path, topics=joined(edit(lines("topics.tsv"))))
    with pytest.raises(InputFormatError, match=message):
        read_topics(folder / "topics.tsv")


@pytest.mark.parametrize("variant", ["bom", "crlf"])
def test_topics_with_bom_or_crlf_keep_every_query(tmp_path, clean_ap, variant):
    data = joined(lines("topics.tsv"), "\r\n" if variant == "crlf" else "\n")
    folder = collection(tmp_path, topics=(b"\xef\xbb\xbf" + data) if variant == "bom" else data)
    topics = read_topics(folder / "topics.tsv")
    assert topics["qid"].iloc[0] == "1" and len(topics) == 35 and not topics["query"].str.contains("\r").any()
    assert ap(folder) == pytest.approx(clean_ap, abs=1e-12)


def test_trec_topics_with_a_bom_keep_the_first_topic(tmp_path):
    text = "\ufeff<top>\n<num> 1\n<title> first topic\n</top>\n<top>\n<num> 2\n<title> second\n</top>\n"
    (tmp_path / "t.trec").write_text(text, encoding="utf-8")
    topics = read_topics(tmp_path / "t.trec")
    assert topics["qid"].tolist() == ["1", "2"] and topics["query"].iloc[0].strip() == "first topic"


def test_qids_that_do_not_match_the_qrels_are_reported_and_strict_refuses(tmp_path):
    topics = [f"0{line}" for line in lines("topics.tsv")]  # "01" is not "1"
    folder = collection(tmp_path, topics=joined(topics[:3] + lines("topics.tsv")[3:]))
    ds = tir.load_dataset(str(folder))
    with pytest.warns(UserWarning, match=r"3 topic\(s\) without qrels, not evaluated: 01, 02, 03"):
        result = tir.Experiment([tir.BM25(ds)], ds.topics(), ds.qrels(), ["AP"], cache=False)
    assert set(result.perquery["qid"]) == {str(q) for q in range(4, 36)}
    with pytest.raises(CoverageError, match=r"strict: .*3 topic\(s\) without qrels"):
        tir.Experiment([tir.BM25(ds)], ds.topics(), ds.qrels(), ["AP"], cache=False, strict=True)


def test_no_topic_with_qrels_is_an_error(tmp_path):
    folder = collection(tmp_path, topics=joined([f"0{line}" for line in lines("topics.tsv")]))
    ds = tir.load_dataset(str(folder))
    with pytest.raises(CoverageError, match=r"no topic has qrels.*'01' is not '1'"):
        tir.Experiment([tir.BM25(ds)], ds.topics(), ds.qrels(), ["AP"], cache=False)


# --- qrels ----------------------------------------------------------------------------------------------------

def test_conflicting_duplicate_qrels_name_both_lines(tmp_path):
    rows = lines("qrels.txt")
    qid, it, docno, label = rows[0].split()
    folder = collection(tmp_path, qrels=joined(rows + [f"{qid} 0 {docno} {1 - int(label)}"]))
    with pytest.raises(InputFormatError, match=rf"qrels.txt:{len(rows) + 1}: qid '{qid}', docno '{docno}' judged "
                                               rf"{1 - int(label)} here and {label} on line 1"):
        read_qrels(folder / "qrels.txt")


def test_identical_duplicate_qrels_warn_once_and_change_nothing(tmp_path, clean_ap):
    rows = lines("qrels.txt")
    folder = collection(tmp_path, qrels=joined(rows + rows[:3]))
    with pytest.warns(UserWarning, match=r"3 repeated judgement\(s\) with the same label dropped"):
        assert len(read_qrels(folder / "qrels.txt")) == len(rows)
    with pytest.warns(UserWarning):
        assert ap(folder) == pytest.approx(clean_ap, abs=1e-12)


@pytest.mark.parametrize("line, message", [
    ("1 0 5", r"qrels.txt:171: expected 4 fields 'qid iter docno label', found 3"),
    ("1 0 5 rel", r"qrels.txt:171:7: relevance label 'rel' is not an integer"),
    ("1 0 5 1.5", r"qrels.txt:171:7: relevance label '1.5' is not an integer"),
])
def test_bad_qrels_line_is_named(tmp_path, line, message):
    folder = collection(tmp_path, qrels=joined(lines("qrels.txt") + [line]))
    with pytest.raises(InputFormatError, match=message):
        read_qrels(folder / "qrels.txt")


def test_qrels_with_bom_keep_the_first_judgement(tmp_path):
    folder = collection(tmp_path, qrels=b"\xef\xbb\xbf" + joined(lines("qrels.txt"), "\r\n"))
    assert read_qrels(folder / "qrels.txt").equals(read_qrels(adi_dir() / "qrels.txt"))


def test_qrels_for_topics_that_were_not_run_are_reported(tmp_path):
    ds = tir.load_dataset("adi")
    with pytest.warns(UserWarning, match=r"qrels for 30 qid\(s\) not in the topics"):
        tir.Experiment([tir.BM25(ds)], ds.topics().head(5), ds.qrels(), ["AP"], cache=False)


# --- runs and `tir eval` --------------------------------------------------------------------------------------

def write_run_file(path: Path, rows: list[str], prefix: bytes = b"", end: str = "\n") -> Path:
    path.write_bytes(prefix + joined(rows, end))
    return path


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory):
    ds = tir.load_dataset("adi")
    path = tmp_path_factory.mktemp("run") / "bm25.trec"
    tir.data.write_run((tir.BM25(ds) % 20).transform(ds.topics()), path, name="bm25")
    return path


@pytest.mark.parametrize("edit, message", [
    (lambda r: r[:1] + ["1 Q0 7 2 nan bm25"] + r[1:], r":2:10: score 'nan' is not a finite number"),
    (lambda r: r[:1] + ["1 Q0 7 2 inf bm25"] + r[1:], r":2:10: score 'inf' is not a finite number"),
    (lambda r: r[:1] + ["1 Q0 7 2 high bm25"] + r[1:], r":2:10: score 'high' is not a finite number"),
    (lambda r: r[:1] + ["1 Q0 7 two 1.0 bm25"] + r[1:], r":2:8: rank 'two' is not an integer"),
    (lambda r: r[:1] + ["1 Q0 7 2 1.0"] + r[1:], r":2: expected 6 fields"),
    (lambda r: r + [r[0]], r"docno '\S+' appears twice for qid '1' \(first on line 1\)"),
], ids=["nan", "inf", "text", "rank", "fields", "duplicate docno"])
def test_bad_run_line_is_named(tmp_path, clean_run, edit, message):
    path = write_run_file(tmp_path / "run", edit(clean_run.read_text().splitlines()))
    with pytest.raises(InputFormatError, match=message):
        read_run(path)


def test_run_with_bom_and_crlf_reads_as_the_clean_run(tmp_path, clean_run):
    path = write_run_file(tmp_path / "run", clean_run.read_text().splitlines(), b"\xef\xbb\xbf", "\r\n")
    pd.testing.assert_frame_equal(read_run(path), read_run(clean_run))


def test_tir_eval_of_an_empty_run_says_so(tmp_path, capsys):
    (tmp_path / "run").write_text("")
    assert main(["eval", str(tmp_path / "run"), str(adi_dir() / "qrels.txt"), "-m", "AP"]) == 1
    assert "holds no results" in capsys.readouterr().err


def test_tir_eval_with_no_shared_qid_says_so(tmp_path, clean_run, capsys):
    rows = [f"0{line}" for line in clean_run.read_text().splitlines()]
    path = write_run_file(tmp_path / "run", rows)
    assert main(["eval", str(path), str(adi_dir() / "qrels.txt"), "-m", "AP"]) == 1
    assert "no qid of" in capsys.readouterr().err


def test_tir_eval_of_a_bad_line_exits_2_naming_it(tmp_path, clean_run, capsys):
    rows = clean_run.read_text().splitlines()
    path = write_run_file(tmp_path / "run", rows[:4] + ["1 Q0 7 2 nan bm25"])
    assert main(["eval", str(path), str(adi_dir() / "qrels.txt"), "-m", "AP"]) == 2
    assert "run:5:10: score 'nan' is not a finite number" in capsys.readouterr().err


def test_tir_eval_reads_what_tir_writes(clean_run, capsys):
    assert main(["eval", str(clean_run), str(adi_dir() / "qrels.txt"), "-m", "AP", "nDCG@10"]) == 0
    values = dict(line.split("\t") for line in capsys.readouterr().out.splitlines())
    ds = tir.load_dataset("adi")
    expected = tir.Experiment([tir.BM25(ds) % 20], ds.topics(), ds.qrels(), ["AP", "nDCG@10"], cache=False).results
    assert float(values["AP"]) == pytest.approx(expected["AP"].iloc[0], abs=5e-5)
    assert float(values["nDCG@10"]) == pytest.approx(expected["nDCG@10"].iloc[0], abs=5e-5)


# --- frames in a notebook -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def adi():
    return tir.load_dataset("adi")


def test_integer_qids_and_text_labels_are_normalised(adi, clean_ap):
    topics = adi.topics().assign(qid=lambda t: t["qid"].astype(int))
    qrels = adi.qrels().assign(qid=lambda q: q["qid"].astype(int), label=lambda q: q["label"].astype(str))
    result = tir.Experiment([tir.BM25(adi) % 1000], topics, qrels, ["AP"], cache=False)
    assert result.results["AP"].iloc[0] == pytest.approx(clean_ap, abs=1e-12)


@pytest.mark.parametrize("frame, message", [
    ("labels", r"Experiment qrels: column 'label' must hold integers; found 'rel'"),
    ("nan query", r"Experiment topics: qid '2': the query is missing \(NaN\)"),
    ("missing qid", r"Experiment topics: column 'qid' has a missing value \(row 1\)"),
    ("conflicting qrels", r"Experiment qrels: qid '1', docno '\S+' is judged with different labels \[0, 1\]"),
    ("duplicate topic", r"Experiment topics: qid '1' appears in more than one row"),
])
def test_bad_frames_name_the_frame_and_column(adi, frame, message):
    topics, qrels = adi.topics(), adi.qrels()
    if frame == "labels":
        qrels = qrels.assign(label=["rel"] + list(qrels["label"][1:]))
    elif frame == "nan query":
        topics.loc[1, "query"] = None
    elif frame == "missing qid":
        topics.loc[1, "qid"] = None
    elif frame == "conflicting qrels":
        qrels = pd.concat([qrels, qrels.head(1).assign(label=1 - qrels["label"].iloc[0])])
    elif frame == "duplicate topic":
        topics = pd.concat([topics, topics.head(1)])
    with pytest.raises(FrameError, match=message):
        tir.Experiment([tir.BM25(adi)], topics, qrels, ["AP"], cache=False)


@pytest.mark.parametrize("edit, message", [
    (lambda r: r.assign(score=[float("nan")] + list(r["score"][1:])), r"run 'given': qid '1', docno '\S+': score nan"),
    (lambda r: pd.concat([r, r.head(1)]), r"run 'given': docno '\S+' appears more than once for qid '1'"),
], ids=["nan score", "duplicate docno"])
def test_bad_run_frames_are_refused(adi, edit, message):
    run = (tir.BM25(adi) % 10).transform(adi.topics())
    with pytest.raises(FrameError, match=message):
        tir.Experiment({"given": edit(run)}, adi.topics(), adi.qrels(), ["AP"], cache=False)


def test_a_bad_corpus_fails_its_pipelines_and_keeps_the_others(tmp_path):
    folder = collection(tmp_path, corpus=joined(lines("corpus.jsonl") + ['{"docno": "1"}']), name="broken")
    config = tmp_path / "c.yaml"
    config.write_text(f"name: t\ndataset: adi\nmetrics: [AP]\nstages:\n  good: {{class: BM25}}\n"
                      f"  bad: {{class: BM25, dataset: {folder}}}\npipelines:\n  good: good % 100\n  bad: bad % 100\n")
    assert main(["run", str(config), "-o", str(tmp_path / "out")]) == 1
    results = pd.read_csv(tmp_path / "out" / "results.csv").set_index("name")
    assert results.loc["good", "AP"] > 0.3 and pd.isna(results.loc["bad", "AP"])
    assert "duplicate docno '1'" in results.loc["bad", "error"] and "broken/corpus.jsonl:83" in results.loc["bad", "error"]
    assert (tmp_path / "out" / "runs" / "good.trec").exists() and not (tmp_path / "out" / "runs" / "bad.trec").exists()
