"""`tir reproduce`: the fast reproduction configs pass, each figure gets OK / OKish / FAIL, a FAIL exits 1, and a
malformed `reproduce:` section is an error naming file, line and key before anything runs."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from transformers_ir.cli import main
from transformers_ir.config import ConfigError
from transformers_ir.reproduce import DEFAULT_DIR, expected_figures, reproduce_configs

from .conftest import needs_data

VASWANI = """name: vaswani-check
dataset: vaswani
metrics: [AP, nDCG@10]
stages:
  bm25: {class: BM25, k1: 0.9, b: 0.4}
pipelines:
  BM25: bm25 % 1000
latency: {queries: 0}
reproduce:
  tolerance: 0.005
"""


@pytest.mark.slow
@needs_data("vaswani")
@needs_data("scifact")
@needs_data("msmarco-dl19-subset")
def test_fast_reproduction_passes(tmp_path):
    """What CI checks: every figure of the configs marked fast (Vaswani and SciFact BM25 on PISA and Lucene, the
    DL19 run files) is reproduced within +-0.0005."""
    fast = [p for p in reproduce_configs() if "fast: true" in p.read_text()]
    assert {p.stem for p in fast} >= {"vaswani-bm25", "scifact-bm25", "dl19-runs"}
    out = subprocess.run([sys.executable, "-m", "transformers_ir.cli", "reproduce", "--fast", "--output",
                          str(tmp_path)], capture_output=True, text=True, env=os.environ.copy(),
                         cwd=Path(__file__).resolve().parents[1])
    assert out.returncode == 0, out.stdout + out.stderr
    lines = [line for line in out.stdout.splitlines() if line.split()[:1] in (["OK"], ["OKish"], ["FAIL"])]
    assert len(lines) == sum(len(expected_figures(p)) for p in fast)
    assert all(line.startswith("OK ") for line in lines), "\n".join(lines)
    assert "BM25-PISA" in out.stdout and "0.3053" in out.stdout and "0.5058" in out.stdout
    assert (tmp_path / "vaswani-bm25" / "results.csv").exists()


@needs_data("vaswani")
def test_statuses_and_exit_code(tmp_path, capsys):
    config = tmp_path / "vaswani-check.yaml"
    config.write_text(VASWANI + "  expected:\n    BM25: {AP: 0.3053, nDCG@10: 0.4687}\n")  # measured 0.4667: OKish
    assert main(["reproduce", str(config), "--output", str(tmp_path / "out")]) == 0
    lines = [line.split() for line in capsys.readouterr().out.splitlines()]
    assert lines[0][:4] == ["OK", "vaswani-check", "BM25", "AP"] and abs(float(lines[0][4]) - 0.3053) <= 0.0005
    assert lines[1][:4] == ["OKish", "vaswani-check", "BM25", "nDCG@10"] and float(lines[1][4]) < 0.4687 - 0.0005
    assert " ".join(lines[2]) == "2 figure(s) from 1 config(s): 1 OK, 1 OKish, 0 FAIL"
    config.write_text(VASWANI + "  expected:\n    BM25: {AP: 0.2965}\n")  # PyTerrier's figure: 0.0088 away
    assert main(["reproduce", str(config), "--output", str(tmp_path / "out")]) == 1
    assert capsys.readouterr().out.startswith("FAIL   vaswani-check")


@pytest.mark.parametrize("section, line, message", [
    ("  expected:\n    BM25-Lucene: {AP: 0.3}\n", 12, "no pipeline 'BM25-Lucene'"),
    ("  expected:\n    BM25: {P@10: 0.3}\n", 12, "metric 'P@10' is not in 'metrics'"),
    ("  expected: {}\n", 11, "expected"),
    ("  expected:\n    BM25: {AP: high}\n", 12, "number"),
])
def test_malformed_sections_name_the_place(tmp_path, section, line, message):
    config = tmp_path / "bad.yaml"
    config.write_text(VASWANI + section)
    with pytest.raises(ConfigError, match=message) as error:
        expected_figures(config)
    assert error.value.path == str(config) and error.value.line == line


def test_a_config_without_a_reproduce_section_is_refused(tmp_path, capsys):
    config = tmp_path / "plain.yaml"
    config.write_text(VASWANI.split("reproduce:")[0])
    assert main(["reproduce", str(config), "--output", str(tmp_path / "out")]) == 2
    assert "needs a 'reproduce:' section" in capsys.readouterr().err


def test_every_shipped_config_is_well_formed():
    paths = reproduce_configs()
    assert paths and all(p.parent == DEFAULT_DIR for p in paths)
    for path in paths:
        assert expected_figures(path)
