"""Scoring kernels against plain-loop reference code on random inputs: MaxSim, the sparse dot product, the DSI
docid trie, and the canonical top-k of the retrievers."""
import itertools

import numpy as np
import pandas as pd
import pytest

from transformers_ir.core.retriever import top_k
from transformers_ir.generative.trie import DocidTrie
from transformers_ir.rerank import maxsim
from transformers_ir.sparse.impact_stage import sparse_dot


def maxsim_loop(query: np.ndarray, document: np.ndarray) -> float:
    total = 0.0
    for q in query:
        best = -np.inf
        for d in document:
            best = max(best, float(np.dot(q.astype(np.float64), d.astype(np.float64))))
        total += best
    return total if len(document) else 0.0


@pytest.mark.parametrize("seed", range(5))
def test_maxsim_equals_a_loop_over_query_and_document_tokens(seed):
    rng = np.random.default_rng(seed)
    query = rng.normal(size=(int(rng.integers(1, 12)), 16)).astype(np.float32)
    documents = [rng.normal(size=(int(n), 16)).astype(np.float16) for n in rng.integers(0, 30, size=25)]
    got = maxsim(query, documents)
    expected = [maxsim_loop(query, d) for d in documents]
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)
    assert got[[len(d) == 0 for d in documents]].tolist() == [0.0] * sum(len(d) == 0 for d in documents)


@pytest.mark.parametrize("seed", range(5))
def test_sparse_dot_equals_a_loop(seed):
    rng = np.random.default_rng(seed)
    vocabulary = [f"w{i}" for i in range(50)]
    draw = lambda: {t: float(rng.uniform(0, 3)) for t in rng.choice(vocabulary, int(rng.integers(0, 20)), replace=False)}  # noqa: E731
    for _ in range(20):
        query, doc = draw(), draw()
        expected = sum(query[t] * doc[t] for t in vocabulary if t in query and t in doc)
        assert sparse_dot(query, doc) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_trie_allows_exactly_the_continuations_of_valid_docids(seed):
    rng = np.random.default_rng(seed)
    eos = 0
    docids = {tuple(int(t) for t in rng.integers(1, 6, size=int(rng.integers(1, 5)))) for _ in range(40)}
    trie = DocidTrie(docids, eos)
    sequences = [d + (eos,) for d in docids]
    for length in range(0, 6):
        for prefix in itertools.product(range(0, 6), repeat=length):
            expected = sorted({s[length] for s in sequences if len(s) > length and s[:length] == prefix})
            assert sorted(trie.allowed(list(prefix))) == (expected or [eos]), prefix


@pytest.mark.parametrize("seed", range(5))
def test_top_k_equals_sorting_everything_then_cutting(seed):
    rng = np.random.default_rng(seed)
    runs = {f"q{i}": [(f"d{j:03d}", float(rng.integers(0, 6))) for j in range(int(rng.integers(0, 200)))]
            for i in range(6)}

    def search(queries, depth):  # an engine that breaks ties at its cutoff at random
        rows = []
        for qid in queries["qid"]:
            shuffled = [runs[qid][i] for i in rng.permutation(len(runs[qid]))]
            rows += [(qid, d, s) for d, s in sorted(shuffled, key=lambda x: -x[1])[:depth]]
        return pd.DataFrame(rows, columns=["qid", "docno", "score"])
    queries = pd.DataFrame({"qid": list(runs), "query": ["x"] * len(runs)})
    for k in (1, 7, 50):
        got = top_k(search, queries, k)
        for qid, docs in runs.items():
            expected = sorted(docs, key=lambda x: (-x[1], tuple(-ord(c) for c in x[0])))[:k]
            mine = got[got["qid"] == qid]
            assert list(zip(mine["docno"], mine["score"])) == expected
            assert mine["rank"].tolist() == list(range(len(expected)))
