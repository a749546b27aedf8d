"""Index builds in shards: on a two-node Ray cluster started here they equal single-process builds (same path,
identity, vectors and top-k); a shard whose worker dies is retried; an interrupted build resumes from the shards
it finished; options and config sections are checked."""
from __future__ import annotations

import json
import os
import sys
import textwrap
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import transformers_ir as tir
from transformers_ir.core import IndexBuildError
from transformers_ir.core.shards import work_folder
from transformers_ir.dense import DenseIndex
from transformers_ir.encoders import TextEncoder
from transformers_ir.rerank import ColBERT, TokenIndex, maxsim
from transformers_ir.sparse import SPLADE

from . import tiny_models
from .conftest import needs_data

pytestmark = needs_data("adi")


class LoggingEncoder(TextEncoder):
    """A TextEncoder that leaves one file per call in ``log`` (first text, count), and that, when its first call
    finds no ``fail_marker`` file, creates it and then dies (``exit``: the worker process ends) or raises."""

    def __init__(self, log: Path, fail_marker: Path | None = None, exit: bool = False):
        super().__init__(show_progress=False)
        self.log, self.fail_marker, self.exit = log, fail_marker, exit

    def encode(self, texts, desc="encoding", show_progress=None):
        if self.fail_marker is not None:
            try:
                self.fail_marker.touch(exist_ok=False)
            except FileExistsError:
                pass
            else:
                if self.exit:
                    os._exit(1)
                raise RuntimeError("this shard fails once")
        self.log.mkdir(exist_ok=True)
        (self.log / uuid.uuid4().hex).write_text(f"{len(texts)}\t{os.getpid()}\n")
        return super().encode(texts, desc, show_progress)


def encoded_documents(log: Path) -> int:
    return sum(int(f.read_text().split("\t")[0]) for f in log.iterdir()) if log.exists() else 0


@pytest.fixture(scope="module")
def adi():
    return tir.load_dataset("adi")


@pytest.fixture(scope="module")
def reference(adi, tmp_path_factory) -> DenseIndex:
    """ADI's MiniLM index built in this process with the default options."""
    return DenseIndex(tmp_path_factory.mktemp("reference") / "index").build(adi, TextEncoder(show_progress=False))


@pytest.fixture(scope="module")
def cluster():
    """A Ray cluster of two nodes (one CPU each) on this machine, which this module's objects are sent to by value."""
    ray = pytest.importorskip("ray")
    from ray import cloudpickle
    from ray.cluster_utils import Cluster
    nodes = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    nodes.add_node(num_cpus=1)
    ray.init(address=nodes.address, log_to_driver=False)
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    try:
        yield nodes
    finally:
        cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
        ray.shutdown()
        nodes.shutdown()


def top10(index: DenseIndex, queries: np.ndarray) -> np.ndarray:
    _, ids = index.faiss("flat").search(queries, 10)
    return index.docnos()[ids]


def assert_same_index(built: DenseIndex, reference: DenseIndex, queries: np.ndarray) -> None:
    """Same identity, docnos, vectors (float16, up to batch-shape rounding) and top-10 of every query."""
    assert built.identity() == reference.identity()
    assert list(built.docnos()) == list(reference.docnos())
    np.testing.assert_allclose(built.vectors().astype(np.float32), reference.vectors(), rtol=0, atol=2e-3)
    assert (top10(built, queries) == top10(reference, queries)).all()


def queries_of(adi) -> np.ndarray:
    return TextEncoder(show_progress=False).encode(adi.topics()["query"].tolist())


# --- local: shards, resume ----------------------------------------------------------------------------------------

def test_an_interrupted_build_resumes_from_its_finished_shards(adi, reference, tmp_path):
    index = DenseIndex(tmp_path / "index")
    with tir.build_options(shard_size=20):
        # the third shard fails: shards 0 and 1 are finished and kept, nothing is installed
        calls = {"n": 0}

        class FailsThirdShard(LoggingEncoder):
            def encode(self, texts, desc="encoding", show_progress=None):
                calls["n"] += 1
                if calls["n"] == 3:
                    raise RuntimeError("disk full")
                return super().encode(texts, desc, show_progress)

        with pytest.raises(IndexBuildError, match=r"shard 2 \(20 documents from '41'\) failed: RuntimeError: disk full"):
            index.build(adi, FailsThirdShard(tmp_path / "log"), ())
        assert not index.built() and encoded_documents(tmp_path / "log") == 40
        assert sorted(p.name for p in work_folder(index.path).glob("shard-*")) == ["shard-000000", "shard-000001"]
        index.build(adi, LoggingEncoder(tmp_path / "log2"), ("flat",))
    assert encoded_documents(tmp_path / "log2") == 82 - 40  # only the shards not finished before
    assert index.manifest["build"] == {"executor": "local", "shard_size": 20, "shards": 5, "shards_encoded": 3,
                                       "shards_reused": 2, "encode_seconds": index.manifest["build"]["encode_seconds"]}
    assert not work_folder(index.path).exists()  # removed once the index is installed
    assert_same_index(index, reference, queries_of(adi))


def test_shards_of_another_corpus_or_size_are_not_reused(adi, tmp_path):
    index = DenseIndex(tmp_path / "index")
    work = work_folder(index.path)
    work.mkdir(parents=True)
    (work / "key.json").write_text('{"sha256": "another build"}')
    (work / "shard-000000").mkdir()
    (work / "shard-000000" / "shard.json").write_text('{"sha256": "x", "count": 82}')
    with tir.build_options(shard_size=50):
        index.build(adi, LoggingEncoder(tmp_path / "log"), ())
    assert encoded_documents(tmp_path / "log") == 82 and index.manifest["build"]["shards_reused"] == 0


def test_build_options_are_checked_and_restored():
    before = tir.core.build_options.current_build_options()
    with pytest.raises(ValueError, match="build_options: 'shard_size' Input should be greater than or equal to 1"):
        tir.build_options(shard_size=0)
    with pytest.raises(ValueError, match="build_options: 'executor' Input should be 'local' or 'ray'"):
        tir.build_options(executor="spark")
    with pytest.raises(ValueError, match="'workers' Extra inputs are not permitted"):
        tir.build_options(workers=2)
    with tir.build_options(executor="ray", num_cpus=2) as options:
        assert options.executor == "ray" and options.num_cpus == 2 and options.shard_size == before.shard_size
    assert tir.core.build_options.current_build_options() == before


# --- on a two-node Ray cluster --------------------------------------------------------------------------------------

@pytest.mark.slow
def test_dense_index_built_on_ray_equals_the_single_process_one(cluster, adi, reference, tmp_path, monkeypatch):
    monkeypatch.setenv("TIR_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("TIR_TORCH_THREADS", "1")  # here as on the workers: another thread count sums differently
    log = tmp_path / "log"
    with tir.build_options(executor="ray", shard_size=20):
        stage = tir.Dense(adi)
        stage.encoder = LoggingEncoder(log)
        stage.prepare()
    built = stage.index
    assert built.manifest["build"]["executor"] == "ray" and built.manifest["build"]["shards"] == 5
    assert encoded_documents(log) == 82
    assert str(os.getpid()) not in {f.read_text().split()[1] for f in log.iterdir()}  # encoded by Ray workers
    # the same index as a single-process build: same path, identity, docnos, vectors and top-10
    local = tir.Dense(adi)
    assert local.index.path == built.path
    stamp = (built.path / "manifest.json").stat().st_mtime_ns
    local.prepare()
    assert (built.path / "manifest.json").stat().st_mtime_ns == stamp  # nothing rebuilt
    assert_same_index(built, reference, queries_of(adi))
    with tir.build_options(shard_size=20):  # same shard boundaries and threads: bit for bit the same vectors
        here = DenseIndex(tmp_path / "here").build(adi, TextEncoder(show_progress=False), ())
    assert np.array_equal(here.vectors(), built.vectors())


@pytest.mark.slow
def test_a_shard_whose_worker_dies_is_retried(cluster, adi, reference, tmp_path):
    encoder = LoggingEncoder(tmp_path / "log", tmp_path / "died", exit=True)
    with tir.build_options(executor="ray", shard_size=20, max_retries=2):
        index = DenseIndex(tmp_path / "index").build(adi, encoder, ("flat",))
    assert (tmp_path / "died").exists()  # one worker process ended mid-shard ...
    assert encoded_documents(tmp_path / "log") == 82  # ... and its shard ran again elsewhere
    assert_same_index(index, reference, queries_of(adi))


@pytest.mark.slow
def test_a_failed_shard_on_ray_fails_the_build_and_the_next_build_resumes(cluster, adi, reference, tmp_path):
    index = DenseIndex(tmp_path / "index")
    with tir.build_options(executor="ray", shard_size=20, max_retries=3):
        with pytest.raises(IndexBuildError, match=r"failed on Ray: RuntimeError: this shard fails once"):
            index.build(adi, LoggingEncoder(tmp_path / "log", tmp_path / "failed"), ())  # an error is not retried
        finished = [json.loads((f / "shard.json").read_text()) for f in work_folder(index.path).glob("shard-*")]
        assert not index.built() and encoded_documents(tmp_path / "log") == sum(f["count"] for f in finished)
        index.build(adi, LoggingEncoder(tmp_path / "again"), ("flat",))
    assert index.manifest["build"]["shards_reused"] == len(finished)
    assert encoded_documents(tmp_path / "again") == 82 - encoded_documents(tmp_path / "log")
    assert_same_index(index, reference, queries_of(adi))


@pytest.mark.slow
def test_colbert_token_index_built_on_ray_equals_the_single_process_one(cluster, adi, tmp_path):
    stage = ColBERT(adi)
    local = TokenIndex(tmp_path / "local").build(adi, stage.encode_documents, stage.model_identity(), None)
    with tir.build_options(executor="ray", shard_size=30):
        remote = TokenIndex(tmp_path / "ray").build(adi, stage.encode_documents, stage.model_identity(), None)
    assert remote.manifest["build"]["executor"] == "ray" and remote.manifest["build"]["shards"] == 3
    assert remote.identity() == local.identity()
    assert np.array_equal(remote.offsets(), local.offsets())
    np.testing.assert_allclose(remote.vectors().astype(np.float32), local.vectors(), rtol=0, atol=2e-3)
    docnos = [d["docno"] for d in adi.corpus_iter()]
    queries = stage.encode_queries(adi.topics()["query"].tolist())
    for query in queries:  # every query ranks all 82 documents alike
        ranked = [np.argsort(-maxsim(query, index.documents(docnos)), kind="stable")[:10] for index in (local, remote)]
        assert (ranked[0] == ranked[1]).all()


@pytest.mark.slow
def test_a_config_on_ray_builds_its_indexes_there_and_gives_the_local_results(cluster, tmp_path, monkeypatch):
    from transformers_ir.runner import run_config
    config = textwrap.dedent("""\
        name: ray-builds
        dataset: adi
        metrics: [AP, nDCG@10]
        stages:
          bm25: {class: BM25}
          dense: {class: Dense}
          colbert: {class: ColBERT}
        pipelines:
          Dense: dense % 10
          ColBERT: bm25 % 20 >> colbert
        latency: {queries: 0}
        """)
    (tmp_path / "local.yaml").write_text(config)
    (tmp_path / "ray.yaml").write_text(config + "executor: ray\nray: {shard_size: 30, max_retries: 1}\n")
    monkeypatch.setenv("TIR_CACHE_DIR", str(tmp_path / "ray-cache"))
    remote = run_config(tmp_path / "ray.yaml", tmp_path / "ray", use_cache=False, echo=lambda _: None)
    dense, colbert = tir.Dense("adi").index, ColBERT("adi").index
    for index in (dense, colbert):  # both built by Ray tasks, each in 3 shards
        assert index.manifest["build"]["executor"] == "ray" and index.manifest["build"]["shards"] == 3
    monkeypatch.setenv("TIR_CACHE_DIR", str(tmp_path / "local-cache"))
    local = run_config(tmp_path / "local.yaml", tmp_path / "local", use_cache=False, echo=lambda _: None)
    assert tir.Dense("adi").index.manifest["build"]["executor"] == "local"
    columns = ["name", "AP", "nDCG@10"]
    pd.testing.assert_frame_equal(remote.results[columns], local.results[columns], atol=1e-4)


@pytest.fixture(scope="module")
def tiny_splade(adi, tmp_path_factory) -> Path:
    """A tiny random SPLADE model (see :func:`tests.tiny_models.tiny_splade`)."""
    from transformers_ir.data import document_text
    return tiny_models.tiny_splade(tmp_path_factory.mktemp("tiny-splade"),
                                   (document_text(d) for d in adi.corpus_iter()))


@pytest.mark.slow
def test_splade_impact_index_built_on_ray_equals_the_single_process_one(cluster, adi, tiny_splade, tmp_path,
                                                                        monkeypatch):
    topics = adi.topics()
    monkeypatch.setenv("TIR_CACHE_DIR", str(tmp_path / "local"))
    local = SPLADE(adi, tiny_splade, max_length=64).prepare()
    monkeypatch.setenv("TIR_CACHE_DIR", str(tmp_path / "ray"))
    with tir.build_options(executor="ray", shard_size=20):
        remote = SPLADE(adi, tiny_splade, max_length=64).prepare()
    assert remote.index.path.name == local.index.path.name and remote.index.identity() == local.index.identity()
    assert remote.index.manifest["build"]["executor"] == "ray" and remote.index.manifest["build"]["shards"] == 5
    for key in ("doc_count", "postings", "empty_docs"):
        assert remote.index.manifest[key] == local.index.manifest[key]
    expected = (local % 10).transform(topics)
    assert expected["qid"].nunique() == len(topics) and len(expected) > 300
    pd.testing.assert_frame_equal((remote % 10).transform(topics), expected)  # every query's top 10, scores alike
