"""Builds stream the corpus: 100,000 synthetic passages (MS MARCO statistics) are indexed by PISA, stored in the
docstore and encoded to float16 vectors with peak memory far below what holding the corpus (or its vectors) takes,
measured in this process (``VmHWM`` after resetting it through ``/proc/self/clear_refs``)."""
from __future__ import annotations

import json
import zlib
from pathlib import Path

import numpy as np
import pytest

import transformers_ir as tir
from transformers_ir.data.synthetic import made_up_words, write_synthetic_collection
from transformers_ir.dense import DenseIndex
from transformers_ir.encoders import TextEncoder

PASSAGES = 100_000
pytestmark = pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux /proc")


def _status_mb(key: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    raise KeyError(key)


def peak_growth_mb(fn) -> float:
    """How far this process's resident memory rose above where it was while ``fn()`` ran, in MB."""
    Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
    before = _status_mb("VmRSS")
    fn()
    return _status_mb("VmHWM") - before


@pytest.fixture(scope="module")
def collection(tmp_path_factory):
    return write_synthetic_collection(tmp_path_factory.mktemp("synthetic") / "msmarco-like", PASSAGES, queries=100)


@pytest.fixture(scope="module")
def held_corpus_mb(collection) -> float:
    """What holding the corpus's documents in memory costs (the ceilings below are fractions of it)."""
    docs = []
    grown = peak_growth_mb(lambda: docs.extend(collection.corpus_iter()))
    assert len(docs) == PASSAGES
    return grown


def test_the_synthetic_collection_has_ms_marco_statistics(collection):
    lengths = np.array([len(json.loads(line)["text"].split()) for line in open(collection.corpus_path)])
    assert len(lengths) == PASSAGES and 56 < lengths.mean() < 63 and 48 <= np.median(lengths) <= 56
    queries = collection.topics()
    assert len(queries) == 100 and 4.5 < queries["query"].str.split().map(len).mean() < 7.5
    words = made_up_words(200)
    assert len(set(words.tolist())) == 200 and words[0] == b"ba" and words[105] == b"baba"
    again = write_synthetic_collection(collection.path.parent / "again", 1_000, queries=100)
    with open(collection.corpus_path) as f:  # the same seed gives the same passages
        assert [next(f) for _ in range(1_000)] == open(again.corpus_path).readlines()


@pytest.mark.slow
def test_pisa_index_and_docstore_of_100k_passages_stream(collection, held_corpus_mb):
    import pyterrier_pisa  # noqa: F401  (imported before measuring)
    index = tir.PisaTextIndex.for_dataset(collection)
    grown = peak_growth_mb(lambda: index.build(collection))
    assert index.manifest["doc_count"] == PASSAGES
    assert grown < held_corpus_mb / 3, (grown, held_corpus_mb)
    store_grown = peak_growth_mb(collection.docstore)
    assert len(collection.docstore()) == PASSAGES and store_grown < held_corpus_mb / 3, (store_grown, held_corpus_mb)
    results = (tir.BM25(collection) % 10 >> collection.text_loader()).transform(collection.topics().head(5))
    assert results.groupby("qid").size().between(1, 10).all() and len(results) > 30
    assert results["text"].str.len().gt(0).all()


class HashEncoder(TextEncoder):
    """A stand-in for a model (no weights to load): each text's vector is drawn from a generator seeded by its
    crc32, so any shard boundary gives the same vectors."""

    dims = 384

    def __init__(self):
        super().__init__(show_progress=False)

    def identity(self) -> dict:
        return {"name": "hash", "weights_sha256": "hash", "max_length": None, "bf16": False}

    def encode(self, texts, desc="encoding", show_progress=None) -> np.ndarray:
        return np.stack([np.random.default_rng(zlib.crc32(t.encode())).standard_normal(self.dims, np.float32)
                         for t in texts])


@pytest.mark.slow
def test_encoding_100k_passages_writes_float16_shards_without_holding_the_vectors(collection, held_corpus_mb,
                                                                                  tmp_path):
    import sentence_transformers  # noqa: F401  (imported before measuring)
    all_float16_mb = PASSAGES * HashEncoder.dims * 2 / 2**20  # 73 MB; as float32 twice that
    index = DenseIndex(tmp_path / "index")
    with tir.build_options(shard_size=2_000):  # what is held is one shard's texts and vectors
        grown = peak_growth_mb(lambda: index.build(collection, HashEncoder(), ()))
    assert grown < all_float16_mb / 3 and grown < held_corpus_mb / 2, (grown, all_float16_mb, held_corpus_mb)
    vectors = index.vectors()
    assert vectors.shape == (PASSAGES, 384) and vectors.dtype == np.float16
    assert index.manifest["build"]["shards"] == 50
    last = json.loads(open(collection.corpus_path).readlines()[-1])
    assert index.docnos()[-1] == last["docno"]
    np.testing.assert_array_equal(vectors[-1], HashEncoder().encode([last["text"]])[0].astype(np.float16))
