"""Several processes sharing one cache: each index is built once (the others wait for it and reuse it), every
process finishes with the same results, and a fully built cache is read without taking any lock."""
import json
import os
import subprocess
import sys
import textwrap

import pandas as pd
import pytest

import transformers_ir as tir
from transformers_ir.core import index_folder

from .conftest import needs_data

pytestmark = needs_data("adi")

CONFIG = """\
name: shared-cache
dataset: adi
metrics: [AP, nDCG@10]
stages:
  bm25: {class: BM25}
  text: {class: TextLoader}
  dense: {class: Dense}
pipelines:
  BM25: bm25 % 100
  BM25-text: bm25 % 10 >> text
"""


def run_processes(tmp_path, config: str, count: int = 3) -> list[pd.DataFrame]:
    (tmp_path / "c.yaml").write_text(config)
    env = {**os.environ, "TIR_CACHE_DIR": str(tmp_path / "cold-cache"), "TIR_TORCH_THREADS": "1"}
    procs = [subprocess.Popen([sys.executable, "-m", "transformers_ir.cli", "run", str(tmp_path / "c.yaml"),
                               "-o", str(tmp_path / f"out{i}")], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True) for i in range(count)]
    outputs = [p.communicate(timeout=900)[0] for p in procs]
    for p, out in zip(procs, outputs):
        assert p.returncode == 0, out[-3000:]
    return [pd.read_csv(tmp_path / f"out{i}" / "results.csv").set_index("name") for i in range(count)]


def built(tmp_path, kind: str) -> list[str]:
    root = tmp_path / "cold-cache" / "indexes"
    return sorted(p.name for p in root.iterdir() if p.name.startswith(kind) and p.is_dir())


def test_three_runs_on_one_cold_cache_all_finish_alike(tmp_path):
    results = run_processes(tmp_path, CONFIG)
    for other in results[1:]:
        pd.testing.assert_frame_equal(results[0][["AP", "nDCG@10"]], other[["AP", "nDCG@10"]])
    assert len(built(tmp_path, "pisa-adi")) == 1
    manifests = [json.loads((tmp_path / "cold-cache" / "indexes" / name / "manifest.json").read_text())
                 for name in built(tmp_path, "pisa-adi")]
    assert manifests[0]["doc_count"] == 82
    leftovers = [p.name for p in (tmp_path / "cold-cache" / "indexes").iterdir() if "staging" in p.name]
    assert leftovers == []


@pytest.mark.slow
def test_three_runs_share_one_dense_index(tmp_path):
    config = CONFIG + "  Dense: dense % 100\n"
    results = run_processes(tmp_path, config)
    for other in results[1:]:
        pd.testing.assert_frame_equal(results[0][["AP", "nDCG@10"]], other[["AP", "nDCG@10"]])
    assert len(built(tmp_path, "dense-adi")) == 1


def test_a_built_index_is_used_without_the_lock(tmp_path, monkeypatch):
    monkeypatch.setenv("TIR_CACHE_DIR", str(tmp_path / "cache"))
    adi = tir.load_dataset("adi")
    tir.BM25(adi).prepare()

    def no_lock(self):
        raise AssertionError("a built index must not need the build lock (read-only caches)")

    monkeypatch.setattr(index_folder.IndexFolder, "lock", no_lock)
    results = (tir.BM25(adi) % 5).transform(adi.topics().head(2))
    assert results.groupby("qid").size().tolist() == [5, 5]


def test_a_waiting_builder_reuses_what_the_first_one_built(tmp_path, monkeypatch):
    """The lock, then a second look: the build runs once even when both saw the index missing."""
    monkeypatch.setenv("TIR_CACHE_DIR", str(tmp_path / "cache"))
    script = textwrap.dedent(f"""
        import os, sys, time
        os.environ["TIR_CACHE_DIR"] = {str(tmp_path / "cache")!r}
        import transformers_ir as tir
        from transformers_ir.sparse import pisa_index
        build = pisa_index.PisaTextIndex._build
        def slow(self, *a, **k):
            print("building", flush=True)
            time.sleep(2)
            return build(self, *a, **k)
        pisa_index.PisaTextIndex._build = slow
        tir.BM25("adi").prepare()
    """)
    procs = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    assert sum(out.count("building") for out in outputs) == 1
