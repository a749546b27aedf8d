"""`tir run` grids: naming, --set/--only, resume after kill -9, failures recorded, the stage cache."""
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

from transformers_ir.cli import main
from transformers_ir.config import ConfigError
from transformers_ir.runner import run_config

from .conftest import needs_data, requires

pytestmark = needs_data("vaswani")

GRID = """\
name: g
dataset: vaswani
metrics: [AP, nDCG@10]
stages:
  bm25: {class: BM25}
  base: {class: BM25}
grid:
  bm25.k1: [0.6, 1.2]
  bm25.b: [0.4, 0.75]
pipelines:
  BM25: base % 100
  grid: bm25 % 100
baseline: BM25
significance: {test: t, correction: holm}
latency: {queries: 5}
"""


def write(tmp_path, text):
    (tmp_path / "c.yaml").write_text(textwrap.dedent(text))
    return tmp_path / "c.yaml"


def quiet(*_):
    pass


def test_grid_points_are_named_and_cover_the_product(tmp_path):
    summary = run_config(write(tmp_path, GRID), tmp_path / "out", echo=quiet)
    names = summary.results["name"].tolist()
    assert names == ["BM25", "grid[k1=0.6,b=0.4]", "grid[k1=0.6,b=0.75]", "grid[k1=1.2,b=0.4]", "grid[k1=1.2,b=0.75]"]
    results = summary.results.set_index("name")
    assert results.loc["BM25", "AP"] == pytest.approx(results.loc["grid[k1=0.6,b=0.4]", "AP"], abs=0.02)
    assert results.loc["grid[k1=1.2,b=0.75]", "AP"] != results.loc["grid[k1=0.6,b=0.4]", "AP"]
    for column in ["latency_p50_ms", "latency_p95_ms", "latency_p99_ms", "qps", "usd_per_1m_queries", "peak_rss_mb",
                   "AP p_value vs BM25", "AP p_corrected vs BM25", "AP significant vs BM25"]:
        assert column in results.columns
    assert (results["latency_p50_ms"] <= results["latency_p99_ms"]).all()
    stages = pd.read_csv(tmp_path / "out" / "stages.csv")
    assert set(stages["name"]) == set(names)
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["baselines"] == ["BM25"] and manifest["datasets"][0]["topics"] == 93
    assert len(manifest["config_sha256"]) == 64 and "pyterrier" in manifest["packages"]
    assert (tmp_path / "out" / "runs" / "grid[k1=0.6,b=0.4].trec").exists()


def test_set_and_only(tmp_path):
    summary = run_config(write(tmp_path, GRID), tmp_path / "out", overrides={"bm25.k1": 1.5}, only=["grid"],
                         echo=quiet)
    assert summary.results["name"].tolist() == ["grid[b=0.4]", "grid[b=0.75]"]
    assert "1.5" in pd.read_csv(tmp_path / "out" / "stages.csv")["stage"].iloc[0]


def test_rerun_executes_no_stage_and_cache_serves_a_new_output_folder(tmp_path):
    config = write(tmp_path, GRID)
    first = run_config(config, tmp_path / "out", echo=quiet)
    again = run_config(config, tmp_path / "out", echo=quiet)
    assert again.resumed == 5 and again.cache == {"hits": 0, "misses": 0, "corrupt": 0}
    elsewhere = run_config(config, tmp_path / "out2", echo=quiet)
    assert elsewhere.resumed == 0 and elsewhere.cache["misses"] == 0 and elsewhere.cache["hits"] > 0
    pd.testing.assert_frame_equal(first.results[["name", "AP"]], elsewhere.results[["name", "AP"]])


def test_corrupted_cache_entry_is_detected_and_recomputed(tmp_path, monkeypatch):
    monkeypatch.setenv("TIR_CACHE_DIR", str(tmp_path / "cache"))  # only this grid's entries
    config = write(tmp_path, GRID)
    first = run_config(config, tmp_path / "out", echo=quiet)
    entries = sorted(Path(os.environ["TIR_CACHE_DIR"], "stages").rglob("*.parquet"))
    victim = entries[0]
    victim.write_bytes(victim.read_bytes()[:-20] + b"\0" * 20)
    with pytest.warns(UserWarning, match="corrupted"):
        second = run_config(config, tmp_path / "out2", echo=quiet)
    assert second.cache["corrupt"] == 1
    pd.testing.assert_frame_equal(first.results[["name", "AP"]], second.results[["name", "AP"]])


def test_failing_pipeline_is_recorded_and_the_others_complete(tmp_path, capsys):
    config = write(tmp_path, GRID.replace("  base: {class: BM25}", "  base: {class: BM25}\n  bad: {class: tests.stages.Failing}")
                   .replace("  grid: bm25 % 100", "  grid: bm25 % 100\n  broken: base % 10 >> bad"))
    assert main(["run", str(config), "-o", str(tmp_path / "out")]) == 1
    assert "1 pipeline(s) failed: broken" in capsys.readouterr().err
    results = pd.read_csv(tmp_path / "out" / "results.csv").set_index("name")
    assert "RuntimeError: boom" in results.loc["broken", "error"]
    assert results.drop(index="broken")["AP"].notna().all() and pd.isna(results.loc["broken", "AP"])
    summary = run_config(config, tmp_path / "out", echo=quiet)  # a re-run retries only the failed point
    assert summary.resumed == 5 and list(summary.failed) == ["broken"]


def test_axis_naming_a_missing_parameter_fails_before_any_work(tmp_path):
    with pytest.raises(ConfigError, match=r"c.yaml:9: key 'grid.bm25.k3': BM25 \(stage 'bm25'\) has no parameter 'k3'"):
        run_config(write(tmp_path, GRID.replace("bm25.b:", "bm25.k3:")), tmp_path / "out", echo=quiet)
    with pytest.raises(ConfigError, match="baseline 'grid' is swept by the grid into 4 points"):
        run_config(write(tmp_path, GRID.replace("baseline: BM25", "baseline: grid")), tmp_path / "out", echo=quiet)
    assert not (tmp_path / "out").exists()


CHILD = """\
import sys
from transformers_ir.runner import run_config
run_config(sys.argv[1], sys.argv[2], use_cache=sys.argv[3] == "cache")
"""
REPO = str(Path(__file__).resolve().parents[1])  # so that the children import tests.stages


@pytest.mark.slow
def test_killed_run_resumes_to_the_same_results(tmp_path):
    config = write(tmp_path, GRID.replace("  base: {class: BM25}", "  base: {class: BM25}\n  nap: {class: tests.stages.Sleepy, seconds: 1.5}")
                   .replace("grid: bm25 % 100", "grid: bm25 % 100 >> nap").replace("queries: 5", "queries: 0"))
    (tmp_path / "child.py").write_text(CHILD)
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": REPO}
    child = subprocess.Popen([sys.executable, str(tmp_path / "child.py"), str(config), str(out), "cache"], env=env)
    points = out / "points" / "vaswani"
    deadline = time.time() + 120
    while time.time() < deadline and len(list(points.glob("grid*.json"))) < 1:
        time.sleep(0.05)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    done_before = {p.name for p in points.glob("*.json")}
    assert 1 <= len([p for p in done_before if p.startswith("grid")]) < 4, done_before
    subprocess.run([sys.executable, str(tmp_path / "child.py"), str(config), str(out), "cache"], check=True, env=env)
    subprocess.run([sys.executable, str(tmp_path / "child.py"), str(config), str(tmp_path / "ref"), "nocache"],
                   check=True, env=env)
    resumed = json.loads((out / "manifest.json").read_text())["resumed_points"]
    assert resumed == len(done_before)
    cols = ["name", "AP", "nDCG@10", "AP p_value vs BM25"]
    pd.testing.assert_frame_equal(pd.read_csv(out / "results.csv")[cols], pd.read_csv(tmp_path / "ref" / "results.csv")[cols])


@pytest.mark.slow
def test_ray_executor_gives_the_same_results_as_local(tmp_path):
    requires("ray")
    import ray
    config = GRID.replace("latency: {queries: 5}", "latency: {queries: 0}")
    local = run_config(write(tmp_path, config), tmp_path / "local", use_cache=False, echo=quiet)
    try:
        remote = run_config(write(tmp_path, config + "executor: ray\n"), tmp_path / "ray", use_cache=False, echo=quiet)
    finally:
        ray.shutdown()
    cols = ["name", "AP", "nDCG@10", "AP p_value vs BM25"]
    pd.testing.assert_frame_equal(local.results[cols], remote.results[cols])
    assert json.loads((tmp_path / "ray" / "manifest.json").read_text())["config"]["executor"] == "ray"


def test_table_and_compare_rerender_an_output_folder(tmp_path, capsys):
    config = write(tmp_path, GRID)
    run_config(config, tmp_path / "a", echo=quiet)
    run_config(config, tmp_path / "b", overrides={"base.k1": 1.1}, echo=quiet)
    capsys.readouterr()
    assert main(["table", str(tmp_path / "a"), "--format", "latex"]) == 0
    latex = capsys.readouterr().out
    assert latex == (tmp_path / "a" / "table.tex").read_text()  # re-rendered from disk: what the run wrote
    assert r"\toprule" in latex and "grid (k1=0.6, b=0.4)" in latex and "Holm" in latex
    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "b")]) == 0
    table = capsys.readouterr().out
    assert r"| grid\[k1=1.2,b=0.75\]" in table and "Δ AP" in table
    assert main(["table", str(tmp_path / "missing")]) == 2
