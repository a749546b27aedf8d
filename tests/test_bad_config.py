"""Bad configs, expressions, parameters and names fail before any work with file:line:key; resuming never reuses a
point computed under other settings; outputs are safe to share. Each case asserts the exact outcome."""
import json
import os
import stat
import textwrap
import time
from pathlib import Path

import pytest

import transformers_ir as tir
from transformers_ir.config import ConfigError, ExpressionError, parse_expression
from transformers_ir.core.build_options import RAY_ENV
from transformers_ir.core.stage import ParameterError
from transformers_ir.experiment.ray_executor import forwarded_env
from transformers_ir.runner import run_config

from .conftest import needs_data

pytestmark = needs_data("adi")

GOOD = """\
name: t
dataset: adi
metrics: [AP, nDCG@10]
stages:
  bm25: {class: BM25, k1: 0.9, b: 0.4}
pipelines:
  BM25: bm25 % 100
"""


def quiet(_):
    pass


def write(tmp_path, text: str, name: str = "c.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def fails_before_work(tmp_path, text: str, message: str, output: str | None = "out", **kwargs):
    """Assert the config fails with ``message`` (a regex) and left nothing in its output folder."""
    with pytest.raises(ConfigError, match=message):
        run_config(write(tmp_path, text), tmp_path / output if output else None, echo=quiet, **kwargs)
    if output:
        assert not (tmp_path / output).exists()


# --- YAML -----------------------------------------------------------------------------------------------------

def test_a_key_written_twice_names_both_lines(tmp_path):
    fails_before_work(tmp_path, GOOD + "metrics: [AP]\n",
                      r"c.yaml:8: key 'metrics': written twice in one mapping \(first on line 3\)")


def test_a_stage_parameter_written_twice_names_both_lines(tmp_path):
    text = GOOD.replace("{class: BM25, k1: 0.9, b: 0.4}", "\n    class: BM25\n    k1: 0.9\n    k1: 1.2")
    fails_before_work(tmp_path, text, r"c.yaml:8: key 'stages.bm25.k1': written twice in one mapping \(first on line 7\)")


def test_an_alias_bomb_is_refused_quickly(tmp_path):
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
        f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n" for i in range(8))
    assert len(bomb) < 600
    start = time.perf_counter()
    fails_before_work(tmp_path, GOOD + bomb, r"expands to more than 100,000 values")
    assert time.perf_counter() - start < 30  # generous: the bound, not the speed, is what is tested


def test_deeply_nested_yaml_is_refused(tmp_path):
    fails_before_work(tmp_path, GOOD + "x: " + "[" * 5000 + "]" * 5000 + "\n", r"(nested too deeply|invalid YAML)")


def test_a_config_with_a_bom_loads(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + GOOD.encode())
    assert run_config(path, tmp_path / "out", echo=quiet).results["name"].tolist() == ["BM25"]


def test_a_config_that_is_not_utf8_is_named(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_bytes(GOOD.encode().replace(b"name: t", b"name: caf\xe9"))
    with pytest.raises(ConfigError, match=r"c.yaml: invalid UTF-8 at byte 9"):
        run_config(path, tmp_path / "out", echo=quiet)


# --- expressions ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("expression, message", [
    ("2 ** 2 ** 2 ** 2 ** 2 ** 2", r"'\*\*' combines stages, not numbers"),
    ("2 * 3", r"'\*' between two numbers is not a pipeline"),
    ("bm25 % 0", r"'%' takes a whole number of results >= 1"),
    ("bm25 % 2.5", r"'%' takes a whole number of results >= 1"),
    ("bm25 % bm25", r"'%' takes a whole number of results >= 1"),
    ("bm25 >> 5", r"'>>' combines stages, not numbers"),
    ("1e400 * bm25", r"number 1e400 is out of range"),
    ("(" * 100 + "bm25" + ")" * 100, r"parentheses nested more than 64 deep"),
    ("bm25" + " >> bm25" * 300, r"more than 200 operators"),
    ("bm25 " * 3000, r"at most 10,000 characters"),
])
def test_expressions_that_would_explode_are_refused_in_milliseconds(expression, message):
    start = time.perf_counter()
    with pytest.raises(ExpressionError, match=message):
        parse_expression(expression)
    assert time.perf_counter() - start < 5


def test_an_expression_error_in_a_config_names_its_key(tmp_path):
    fails_before_work(tmp_path, GOOD + "  P: 2 ** 2 ** 2 ** 2 ** 2 ** 2\n",
                      r"c.yaml:8: key 'pipelines.P': '\*\*' combines stages, not numbers at column 3")


# --- parameters -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("edit, message", [
    (("k1: 0.9", "k1: -1"), r"c.yaml:5: key 'stages.bm25.k1': BM25: parameter 'k1' should be greater than or equal to 0 \(got -1\)"),
    (("b: 0.4", "b: 2"), r"c.yaml:5: key 'stages.bm25.b': BM25: parameter 'b' should be less than or equal to 1 \(got 2\)"),
    (("b: 0.4", "b: .nan"), r"key 'stages.bm25.b': BM25: parameter 'b' should be a finite number"),
    (("b: 0.4", "b: 0.4, num_results: 0"), r"key 'stages.bm25.num_results': BM25: parameter 'num_results' should be greater than or equal to 1"),
    (("b: 0.4", "b: 0.4, num_results: 2.5"), r"key 'stages.bm25.num_results': .*should be a valid integer"),
    (("b: 0.4", "b: 0.4, stemmer: snowball"), r"key 'stages.bm25.stemmer': .*should be 'porter2', 'porter', 'krovetz' or 'none'"),
    (("b: 0.4", "b: 0.4, stopwords: maybe"), r"key 'stages.bm25.stopwords': .*should be a valid boolean"),
    (("b: 0.4", "b: 0.4, k_1: 1"), r"key 'stages.bm25.k_1': BM25 has no parameter 'k_1'"),
])
def test_stage_parameters_are_checked_with_file_line_and_key(tmp_path, edit, message):
    fails_before_work(tmp_path, GOOD.replace(*edit), message)


def test_grid_values_are_checked_before_any_work(tmp_path):
    fails_before_work(tmp_path, GOOD + "grid:\n  bm25.b: [0.4, 2]\n",
                      r"c.yaml:9: key 'grid.bm25.b.1': BM25: parameter 'b' should be less than or equal to 1")


@pytest.mark.parametrize("kwargs, message", [
    ({"k1": -1}, r"BM25: parameter 'k1' should be greater than or equal to 0 \(got -1\)"),
    ({"b": 2}, r"BM25: parameter 'b' should be less than or equal to 1 \(got 2\)"),
    ({"num_results": 0}, r"BM25: parameter 'num_results' should be greater than or equal to 1"),
    ({"backend": "solr"}, r"BM25: parameter 'backend' should be 'pisa' or 'lucene'"),
])
def test_python_calls_get_the_same_checks(kwargs, message):
    with pytest.raises(ParameterError, match=message):
        tir.BM25("adi", **kwargs)


# --- the rest of the config -----------------------------------------------------------------------------------

@pytest.mark.parametrize("edit, message", [
    (("[AP, nDCG@10]", "[AP, nDCG@1O]"), r"c.yaml:3: key 'metrics.1': unknown metric 'nDCG@1O'"),
    (("name: t", "name: t\nsignificance: {correction: holmes}"),
     r"key 'significance.correction': unknown correction 'holmes'; choose from"),
    (("name: t", "name: t\nsignificance: {test: z}"), r"key 'significance.test'"),
    (("name: t", "name: t\nsignificance: {alpha: 1.5}"), r"key 'significance.alpha'"),
    (("name: t", "name: t\ncost: laptop"), r"key 'cost': unknown cost profile 'laptop'; choose from \['2-core CPU VM'"),
    (("name: t", "name: t\ncost: {hardware: x, usd_per_hour: -1}"), r"key 'cost.usd_per_hour'"),
    (("name: t", "name: t\npareto_metric: P@5"), r"key 'pareto_metric': 'P@5' is not one of the metrics"),
    (("name: t", "name: t\nlatency: {queries: -5}"), r"key 'latency.queries'"),
    (("name: t", "name: t\nbaseline: BM26"), r"key 'baseline': baseline 'BM26' is not a pipeline"),
    (("name: t", "name: ''"), r"key 'name'"),
])
def test_every_setting_is_checked_before_any_work(tmp_path, edit, message):
    fails_before_work(tmp_path, GOOD.replace(*edit), message)


def test_an_output_path_that_is_a_file_fails_before_work(tmp_path):
    (tmp_path / "taken").write_text("a file")
    with pytest.raises(ConfigError, match=r"output folder .*taken/out cannot be written"):
        run_config(write(tmp_path, GOOD), tmp_path / "taken" / "out", echo=quiet)


@needs_data("scifact")
def test_a_missing_split_and_an_unknown_dataset_are_named(tmp_path):
    fails_before_work(tmp_path, GOOD.replace("dataset: adi", "dataset: adj"), r"c.yaml:2: key 'dataset': unknown dataset 'adj'")
    fails_before_work(tmp_path, GOOD.replace("dataset: adi", "dataset: scifact") + "split: dev\n",
                      r"key 'split': dataset 'scifact' .*has no topics for split 'dev'; splits: \['test', 'train'\]")


def test_strict_config_refuses_topics_without_qrels_before_work(tmp_path):
    folder = tmp_path / "partial"
    folder.mkdir()
    adi = Path(tir.load_dataset("adi").path)
    for f in ("corpus.jsonl", "topics.tsv"):
        (folder / f).write_bytes((adi / f).read_bytes())
    (folder / "qrels.txt").write_text("\n".join(l for l in (adi / "qrels.txt").read_text().splitlines()
                                                 if l.split()[0] != "1") + "\n")
    text = GOOD.replace("dataset: adi", f"dataset: {folder}")
    fails_before_work(tmp_path, text + "strict: true\n", r"key 'strict': partial: strict: .*1 topic\(s\) without qrels, not evaluated: 1$")
    lines = []
    summary = run_config(write(tmp_path, text), tmp_path / "out", echo=lines.append)
    assert any("1 topic(s) without qrels, not evaluated: 1" in line for line in lines)
    assert any("35 topics, 34 with qrels" in line for line in lines)
    manifest = json.loads((summary.out_dir / "manifest.json").read_text())
    assert manifest["datasets"][0]["coverage"]["without_qrels"] == ["1"]


# --- names and files ------------------------------------------------------------------------------------------

def test_name_is_a_label_not_a_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    summary = run_config(write(tmp_path, GOOD.replace("name: t", "name: ../../../escape")), echo=quiet)
    assert summary.out_dir == Path("results") / "escape" and (tmp_path / "results" / "escape" / "results.csv").exists()
    assert not (tmp_path.parent.parent / "escape").exists()


def test_names_that_map_to_one_file_get_distinct_files(tmp_path):
    text = GOOD.replace("  BM25: bm25 % 100\n", "  'BM25 top': bm25 % 10\n  BM25_top: bm25 % 20\n  检索: bm25 % 30\n  搜索: bm25 % 40\n")
    summary = run_config(write(tmp_path, text), tmp_path / "out", echo=quiet)
    files = json.loads((summary.out_dir / "manifest.json").read_text())["files"]
    assert len(set(files.values())) == 4
    for name, stem in files.items():
        run = tir.data.read_run(summary.out_dir / "runs" / f"{stem}.trec")
        assert run.groupby("qid").size().max() == {"BM25 top": 10, "BM25_top": 20, "检索": 30, "搜索": 40}[name]


def test_a_pipeline_named_like_a_grid_point_is_refused(tmp_path):
    text = (GOOD.replace("stages:\n", "stages:\n  base: {class: BM25}\n") + "  'BM25[b=0.75]': base % 5\n"
            "grid:\n  bm25.b: [0.4, 0.75]\n")
    fails_before_work(tmp_path, text, r"key 'pipelines.BM25\[b=0.75\]': pipeline 'BM25\[b=0.75\]' has the name of a grid point")


def test_outputs_get_the_users_umask(tmp_path):
    previous = os.umask(0o022)
    try:
        summary = run_config(write(tmp_path, GOOD), tmp_path / "out", echo=quiet)
    finally:
        os.umask(previous)
    for path in [summary.out_dir / "results.csv", summary.out_dir / "manifest.json", summary.out_dir / "table.tex"]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path


# --- resume ---------------------------------------------------------------------------------------------------

def test_a_changed_price_or_latency_setting_recomputes_the_points(tmp_path):
    first = run_config(write(tmp_path, GOOD + "cost: {hardware: a, usd_per_hour: 1.0}\n"), tmp_path / "out", echo=quiet)
    again = run_config(write(tmp_path, GOOD + "cost: {hardware: a, usd_per_hour: 1.0}\n"), tmp_path / "out", echo=quiet)
    assert again.resumed == 1
    pricier = run_config(write(tmp_path, GOOD + "cost: {hardware: a, usd_per_hour: 10.0}\n"), tmp_path / "out",
                         echo=quiet)
    assert pricier.resumed == 0
    ratio = pricier.results["usd_per_1m_queries"].iloc[0] / first.results["usd_per_1m_queries"].iloc[0]
    assert ratio > 3  # 10x the price; timings differ run to run, so not exactly 10
    sampled = run_config(write(tmp_path, GOOD + "cost: {hardware: a, usd_per_hour: 10.0}\nlatency: {queries: 3}\n"),
                         tmp_path / "out", echo=quiet)
    assert sampled.resumed == 0


def test_points_of_another_config_are_not_reused(tmp_path):
    run_config(write(tmp_path, GOOD, "a.yaml"), tmp_path / "out", echo=quiet)
    assert run_config(write(tmp_path, GOOD, "b.yaml"), tmp_path / "out", echo=quiet).resumed == 0


def test_points_removed_from_the_config_leave_no_files(tmp_path):
    run_config(write(tmp_path, GOOD + "  BM25-10: bm25 % 10\n"), tmp_path / "out", echo=quiet)
    assert (tmp_path / "out" / "runs" / "BM25-10.trec").exists()
    run_config(write(tmp_path, GOOD), tmp_path / "out", echo=quiet)
    assert not (tmp_path / "out" / "runs" / "BM25-10.trec").exists()
    assert sorted(p.name for p in (tmp_path / "out" / "points" / "adi").iterdir()) == ["BM25.json"]


# --- Ray ------------------------------------------------------------------------------------------------------

def test_only_named_environment_variables_reach_ray_workers(monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "secret")
    monkeypatch.setenv("TIR_DATA_PATH", "/data")
    assert forwarded_env(["TIR_DATA_PATH", "NOT_SET"]) == {"TIR_DATA_PATH": "/data"}
    assert "HF_TOKEN" not in forwarded_env(RAY_ENV)  # the default list names no secret


def test_the_ray_section_is_checked_before_any_work(tmp_path):
    fails_before_work(tmp_path, GOOD + "executor: ray\nray: {shard_size: 0}\n",
                      r"c.yaml:9: key 'ray.shard_size': Input should be greater than or equal to 1")
    fails_before_work(tmp_path, GOOD + "executor: ray\nray:\n  num_cpus: 1\n  workers: 2\n",
                      r"c.yaml:11: key 'ray.workers': unknown key")
