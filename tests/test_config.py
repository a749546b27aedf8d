"""Configs and `tir run` / `tir eval`: the expression grammar, errors with file/line/key, output files."""
import textwrap

import pandas as pd
import pytest

import transformers_ir as tir
from transformers_ir.cli import main
from transformers_ir.config import ConfigError, ExpressionError, StageFactory, evaluate, parse_expression
from transformers_ir.config.expression import BinOp, Name, Number
from transformers_ir.config.schema import load_config
from transformers_ir.registry import stage_registry
from transformers_ir.runner import run_config

from .conftest import needs_data


class Sym:
    """Records the operators applied, to check precedence without real stages."""

    def __init__(self, text):
        self.text = text

    def _op(symbol, swap=False):
        def f(self, other):
            a, b = (other, self) if swap else (self, other)
            return Sym(f"({getattr(a, 'text', a)} {symbol} {getattr(b, 'text', b)})")
        return f

    __rshift__, __mod__, __add__, __mul__ = _op(">>"), _op("%"), _op("+"), _op("*")
    __rmul__, __or__, __and__, __xor__, __pow__ = _op("*", True), _op("|"), _op("&"), _op("^"), _op("**")


ENV = {n: Sym(n) for n in ["bm25", "ce", "dense", "a", "b"]}


@pytest.mark.parametrize("expression, expected", [
    ("bm25 % 100 >> ce", "((bm25 % 100) >> ce)"),
    ("0.3 * (bm25 % 1000) + 0.7 * (bm25 % 1000 >> dense)", "((0.3 * (bm25 % 1000)) + (0.7 * ((bm25 % 1000) >> dense)))"),
    ("a | b & bm25 ^ ce", "(a | ((b & bm25) ^ ce))"),
    ("a ** b ** ce >> dense", "((a ** (b ** ce)) >> dense)"),
])
def test_precedence_is_pythons(expression, expected):
    assert evaluate(expression, ENV).text == expected


def test_syntax_tree_keeps_columns():
    tree = parse_expression("bm25 % 10")
    assert tree == BinOp("%", Name("bm25", 1), Number(10, 8), 6)


@pytest.mark.parametrize("expression, column, message", [
    ("bm25 %% 10", 7, "expected a stage name, a number or '\\(', found '%'"),
    ("(bm25 % 10", 11, "expected '\\)'"),
    ("bm25 >> ", 9, "found the end of the expression"),
    ("bm25 $ ce", 6, "unexpected character '\\$'"),
    ("bm25 >> rerank", 9, "unknown stage 'rerank'"),
    ("__import__('os')", 12, "unexpected character"),
])
def test_expression_errors_give_the_column(expression, column, message):
    with pytest.raises(ExpressionError, match=message) as e:
        evaluate(expression, ENV)
    assert e.value.column == column


def write(tmp_path, text, name="c.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


GOOD = """\
name: t
dataset: vaswani
metrics: [AP, nDCG@10, R@1000]
stages:
  bm25: {class: BM25, k1: 0.9, b: 0.4}
pipelines:
  BM25: bm25 % 1000
"""


@needs_data("vaswani")
@pytest.mark.parametrize("text, where", [
    (GOOD.replace("metrics: [AP", "metrics: [AP, {x"), r"c.yaml:\d+: invalid YAML"),
    (GOOD + "colour: red\n", r"c.yaml:8: key 'colour': unknown key"),
    (GOOD.replace("class: BM25", "class: BM52"), r"c.yaml:5: key 'stages.bm25.class': unknown stage class 'BM52'"),
    (GOOD.replace("k1: 0.9", "k_1: 0.9"), r"c.yaml:5: key 'stages.bm25.k_1': BM25 has no parameter 'k_1'"),
    (GOOD.replace("k1: 0.9", "k1: high"), r"c.yaml:5: key 'stages.bm25.k1': BM25: parameter 'k1' should be a valid number.* \(got 'high'\)"),
    (GOOD.replace("bm25 % 1000", "bm25 % 1000 >> rerank"),
     r"c.yaml:7: key 'pipelines.BM25': unknown stage 'rerank' \(known: bm25\) at column 16"),
    (GOOD.replace("dataset: vaswani\n", ""), r"c.yaml:1: give exactly one of 'dataset' or 'datasets'"),
    (GOOD.replace("name: t\n", ""), r"c.yaml:1: missing required key 'name'"),
    (GOOD.replace("metrics: [AP, nDCG@10, R@1000]", "metrics: AP"), r"c.yaml:3: key 'metrics'"),
    (GOOD + "baseline: BM26\n", r"c.yaml:8: key 'baseline': baseline 'BM26' is not a pipeline"),
])
def test_config_errors_name_file_line_and_key(tmp_path, text, where):
    with pytest.raises(ConfigError, match=where):
        run_config(write(tmp_path, text), tmp_path / "out")
    assert not (tmp_path / "out").exists()


@needs_data("vaswani")
def test_numbers_yaml_reads_as_text_reach_the_stage_as_numbers(tmp_path):
    text = GOOD.replace("  bm25:", "  dsi: {class: DSI, learning_rate: 5e-4, epochs: 3}\n  bm25:")  # PyYAML: '5e-4' is text
    config, doc = load_config(str(write(tmp_path, text)))
    factory = StageFactory(config, doc, stage_registry(), tir.load_dataset("vaswani"))
    factory.check()
    assert factory.get("dsi").training.learning_rate == 0.0005
    assert factory.get("dsi", {"learning_rate": "1e-3"}).training.learning_rate == 0.001
    with pytest.raises(ConfigError, match=r"c.yaml:5: key 'stages.dsi.epochs': DSI: parameter 'epochs' should be a valid integer.* \(got '3.5'\)"):
        factory.get("dsi", {"epochs": "3.5"})


@needs_data("vaswani")
def test_unknown_dataset_and_metric_fail_before_any_output(tmp_path):
    with pytest.raises(ConfigError, match=r"c.yaml:2: key 'dataset': unknown dataset 'vaswanii'"):
        run_config(write(tmp_path, GOOD.replace("vaswani", "vaswanii")), tmp_path / "out")
    with pytest.raises(Exception, match="unknown metric 'MAPP'"):
        run_config(write(tmp_path, GOOD.replace("[AP,", "[MAPP,")), tmp_path / "out")
    assert not (tmp_path / "out").exists()


@needs_data("vaswani")
def test_tir_run_writes_the_contracted_files(tmp_path, capsys):
    config = write(tmp_path, GOOD + "  BM25-10: bm25 % 10\n")
    assert main(["run", str(config), "--output", str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out
    assert "\nBM25-10 " in printed and "nDCG@10" in printed and "\\" not in printed  # plain text, no escapes
    out = tmp_path / "out"
    results = pd.read_csv(out / "results.csv")
    assert list(results.columns[:6]) == ["dataset", "name", "AP", "nDCG@10", "R@1000", "mrt_ms"]
    assert results["name"].tolist() == ["BM25", "BM25-10"]
    assert results["AP"][0] == pytest.approx(0.2965, abs=0.015)
    perquery = pd.read_csv(out / "perquery.csv", dtype={"qid": str})
    assert set(perquery.columns) == {"dataset", "name", "qid", "measure", "value"}
    assert len(perquery) == 2 * 3 * 93
    run = (out / "runs" / "BM25-10.trec").read_text().splitlines()
    assert len(run) == 93 * 10 and run[0].split()[1] == "Q0"
    assert "| BM25-10" in (out / "table.md").read_text() and (out / "table.tex").exists()


@needs_data("vaswani")
def test_tir_run_reports_config_errors_without_a_traceback(tmp_path, capsys):
    config = write(tmp_path, GOOD.replace("bm25 % 1000", "bm25 %% 1000"))
    assert main(["run", str(config)]) == 2
    err = capsys.readouterr().err
    assert "c.yaml:7" in err and "column 7" in err and "Traceback" not in err


def test_tir_eval_reports_bad_run_lines(tmp_path, capsys):
    (tmp_path / "run").write_text("1 Q0 d1 1 2.5 x\n1 Q0 d2 2 high x\n")
    (tmp_path / "qrels").write_text("1 0 d1 1\n")
    assert main(["eval", str(tmp_path / "run"), str(tmp_path / "qrels"), "-m", "AP"]) == 2
    assert "run:2:11: score 'high' is not a finite number" in capsys.readouterr().err


@needs_data("vaswani")
def test_to_yaml_round_trips_to_equal_fingerprints():
    import transformers_ir as tir
    from transformers_ir.core.fingerprint import stage_fingerprint
    ds = tir.load_dataset("vaswani")
    bm25, bm25_b = tir.BM25(ds), tir.BM25(ds, k1=1.2, stemmer="none")
    pipelines = {"ff": 0.3 * (bm25 % 100) + 0.7 * (bm25_b % 100), "rr": bm25 % 10 >> ds.text_loader(),
                 "sets": (bm25 % 5) | (bm25_b % 5) & (bm25 % 7) ^ bm25_b}
    text = tir.to_yaml(pipelines)
    assert "ff: (0.3 * (bm25 % 100)) + (0.7 * (bm25_2 % 100))" in text and "stemmer: none" in text
    loaded = tir.from_yaml(text)
    for name, pipeline in pipelines.items():
        assert stage_fingerprint(pipeline) is not None
        assert stage_fingerprint(loaded[name]) == stage_fingerprint(pipeline), name
    assert stage_fingerprint(tir.from_yaml(text.replace("k1: 1.2", "k1: 1.3"))["ff"]) != stage_fingerprint(pipelines["ff"])
    from transformers_ir.core.pipeline_text import pipeline_text  # how stages.csv names an operator stage
    assert pipeline_text(pipelines["ff"]) == f"(0.3 * ({bm25!r} % 100)) + (0.7 * ({bm25_b!r} % 100))"


def test_to_yaml_refuses_what_it_cannot_express():
    import pyterrier as pt
    import transformers_ir as tir
    with pytest.raises(TypeError, match="not a transformers_ir stage"):
        tir.to_yaml(pt.apply.generic(lambda df: df))
