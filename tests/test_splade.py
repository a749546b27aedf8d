"""Learned-sparse retrieval on PISA: exactness against brute force, quantisation, manifests, awkward inputs."""
import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import transformers_ir as tir
from transformers_ir.core import MissingColumnError
from transformers_ir.data import document_text
from transformers_ir.encoders import SPLADE_TINY_NAME, bundled_minilm
from transformers_ir.sparse.impact_index import ImpactIndex, quantise
from transformers_ir.sparse.impact_stage import sparse_dot
from transformers_ir.sparse.splade import SPLADE
from transformers_ir.sparse.splade_encoder import MissingMLMHeadError, SpladeEncoder, init_splade_from_mlm, load_splade
from transformers_ir.sparse.unicoil import UniCOIL

from . import tiny_models
from .conftest import needs_data

pytestmark = needs_data("scifact")


@pytest.fixture(scope="module")
def scifact_slice(tmp_path_factory) -> Path:
    """500 SciFact documents (the relevant ones of 20 test topics first) with those topics and qrels."""
    src = tir.load_dataset("scifact").path
    out = tmp_path_factory.mktemp("scifact-slice") / "scifact500"
    out.mkdir()
    topics = (src / "topics.test.tsv").read_text().splitlines()[:20]
    qids = {line.split("\t")[0] for line in topics}
    qrels = [line for line in (src / "qrels.test.txt").read_text().splitlines() if line.split()[0] in qids]
    relevant = {line.split()[2] for line in qrels}
    with gzip.open(src / "corpus.jsonl.gz", "rt") as f:
        docs = [json.loads(line) for line in f]
    chosen = [d for d in docs if d["docno"] in relevant]
    chosen += [d for d in docs if d["docno"] not in relevant][:500 - len(chosen)]
    (out / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in chosen))
    (out / "topics.test.tsv").write_text("\n".join(topics) + "\n")
    (out / "qrels.test.txt").write_text("\n".join(qrels) + "\n")
    return out


@pytest.fixture(scope="module")
def tiny_splade(tmp_path_factory, scifact_slice) -> Path:
    """A tiny random SPLADE model (see :func:`tests.tiny_models.tiny_splade`)."""
    texts = [document_text(d) for d in tir.load_dataset(scifact_slice).corpus_iter()][:128]
    return tiny_models.tiny_splade(tmp_path_factory.mktemp("tiny-splade"), texts)


@pytest.fixture(scope="module")
def splade(scifact_slice, tiny_splade):
    return SPLADE(scifact_slice, tiny_splade, max_length=64, doc_top_k=128).prepare()


def test_a_checkpoint_without_mlm_head_is_a_clear_error():
    with pytest.raises(MissingMLMHeadError, match="no trained masked-LM head"):
        load_splade(bundled_minilm())


def test_init_makes_untrained_vectors_sparse_and_survives_reload(splade):
    vectors = splade.encoder.encode_documents(["Microstructural development of human newborn white matter",
                                               "Alterations of the architecture of cerebral white matter"])
    assert all(0 < len(v) <= 128 for v in vectors)
    assert not any(t in v for v in vectors for t in ("[CLS]", "[SEP]", "[PAD]", "[MASK]"))
    reloaded = SPLADE(splade.dataset, splade.encoder.model_name, max_length=64, doc_top_k=128, mode="rescore")
    again = reloaded.encoder.encode_documents(["Microstructural development of human newborn white matter"])[0]
    assert again.keys() == vectors[0].keys()
    assert np.allclose([again[t] for t in again], [vectors[0][t] for t in again], atol=1e-5)


def test_pisa_top10_equals_brute_force_on_the_quantised_vectors(splade):
    docs = list(splade.dataset.corpus_iter())
    doc_vectors = [quantise(v, splade.scale) for v in splade.encoder.encode_documents([document_text(d) for d in docs])]
    topics = splade.dataset.topics("test")
    results = (splade % 10).transform(topics)
    query_vectors = splade.query_vectors(topics["query"].tolist())
    for qid, qv in zip(topics["qid"], query_vectors):
        brute = np.array([sparse_dot(qv, dv) for dv in doc_vectors])
        got = results[results["qid"] == qid]
        assert len(got) == min(10, int((brute > 0).sum()))  # documents sharing no term are not results
        by_docno = dict(zip((d["docno"] for d in docs), brute))
        assert got["score"].tolist() == pytest.approx([by_docno[d] for d in got["docno"]])
        tenth = max(np.sort(brute)[-10], 0)
        must = {d["docno"] for d, s in zip(docs, brute) if s > tenth}  # ties at the 10th score may go either way
        assert must <= set(got["docno"]) and got["score"].min() >= tenth


def test_manifest_and_rebuild_is_a_noop(splade):
    manifest = splade.index.manifest
    assert manifest["doc_count"] == 500 and manifest["scale"] == 100.0
    assert manifest["encoder"]["doc_top_k"] == 128 and manifest["encoder"]["weights_sha256"]
    assert manifest["corpus_fingerprint"] == splade.dataset.fingerprint()
    assert 0 < manifest["avg_terms_per_doc"] <= 128 and manifest["size_bytes"] > 0 and manifest["build_seconds"] >= 0
    stamp = (splade.index.path / "manifest.json").stat().st_mtime_ns
    SPLADE(splade.dataset, splade.encoder.model_name, max_length=64, doc_top_k=128).prepare()
    assert (splade.index.path / "manifest.json").stat().st_mtime_ns == stamp
    other = SPLADE(splade.dataset, splade.encoder.model_name, max_length=64, doc_top_k=64)
    assert other.index.path != splade.index.path and other.fingerprint() != splade.fingerprint()


def test_float_and_quantised_scores_agree_on_candidates(splade):
    from scipy.stats import spearmanr
    bm25 = tir.BM25(splade.dataset) % 20
    candidates = bm25.transform(splade.dataset.topics("test"))
    rescored = (bm25 >> SPLADE(splade.dataset, splade.encoder.model_name, max_length=64, doc_top_k=128,
                               mode="rescore")).transform(splade.dataset.topics("test"))
    assert len(rescored) == len(candidates)
    for _, group in rescored.groupby("qid"):
        assert group["rank"].tolist() == list(range(len(group))) and group["score"].is_monotonic_decreasing
    found = splade.dataset.docstore().lookup(rescored["docno"].unique().tolist()).to_dict("records")
    texts = {r["docno"]: document_text(r) for r in found}
    doc_vectors = dict(zip(texts, splade.encoder.encode_documents(list(texts.values()))))
    qvec = dict(zip(rescored["qid"].unique(), splade.query_vectors(
        rescored.drop_duplicates("qid")["query"].tolist())))
    quantised = [sparse_dot(qvec[q], quantise(doc_vectors[d], splade.scale)) for q, d in
                 zip(rescored["qid"], rescored["docno"])]
    assert spearmanr(rescored["score"], quantised).statistic >= 0.99


def test_queries_without_terms_get_no_results_and_empty_docs_index(tmp_path, splade):
    idf = SPLADE(splade.dataset, splade.encoder.model_name, max_length=64, doc_top_k=128, query_encoder="idf")
    topics = pd.DataFrame({"qid": ["empty", "ok"], "query": ["", "white matter development"]})
    res = idf.transform(topics)
    assert set(res["qid"]) == {"ok"}
    assert idf.transform(topics.head(1)).columns.tolist() == ["qid", "query", "docno", "score", "rank"]
    index = ImpactIndex(tmp_path / "idx").build([("d1", {}), ("d2", {"a": 0.001}), ("d3", {"a": 1.0, "b": 2.0})],
                                                scale=100, description={"source": "test"})
    assert index.manifest["doc_count"] == 3 and index.manifest["empty_docs"] == 2
    got = index.retriever(10).transform(pd.DataFrame({"qid": ["q"], "query": ["x"], "query_toks": [{"a": 1}]}))
    assert got["docno"].tolist() == ["d3"] and got["score"].tolist() == [100.0]


def test_stage_contract(splade):
    compiled = (splade % 5).compile()
    assert isinstance(compiled, SPLADE) and compiled.num_results == 5
    assert splade.to_config()["doc_top_k"] == 128 and splade.fingerprint()["mode"] == "retrieve"
    rescore = SPLADE(None, splade.encoder.model_name, mode="rescore")
    assert rescore.fingerprint()["model"]["weights_sha256"] and rescore.to_config()["mode"] == "rescore"
    with pytest.raises(MissingColumnError, match="text"):
        rescore.transform(pd.DataFrame({"qid": ["1"], "query": ["q"], "docno": ["d"]}))
    with pytest.raises(MissingColumnError, match="query"):
        splade.transform(pd.DataFrame({"qid": ["1"]}))


def test_unicoil_uses_the_same_impact_index(scifact_slice, tiny_splade):
    unicoil = UniCOIL(scifact_slice, tiny_splade, max_length=64).prepare()
    vectors = unicoil.encoder.encode_documents(["white matter of the brain"])
    assert set(vectors[0]) <= {"white", "matter", "of", "the", "brain", "[SEP]"}  # no expansion; [SEP] kept as Pyserini
    assert "[CLS]" not in vectors[0]
    res = (unicoil % 10).transform(tir.load_dataset(scifact_slice).topics("test"))
    assert res.groupby("qid").size().max() == 10 and unicoil.index.manifest["kind"] == "unicoil"


@pytest.mark.slow
def test_fit_from_minilm_then_retrieve(tmp_path, scifact_slice):
    """Init MiniLM's MLM head, train on 32 SciFact train topics, index the 500-doc slice, evaluate (sanity only)."""
    from transformers_ir.sparse.impact_index import sparsity_stats
    ds, sliced = tir.load_dataset("scifact"), tir.load_dataset(scifact_slice)
    texts = [document_text(d) for d in sliced.corpus_iter()]
    init = init_splade_from_mlm(bundled_minilm(), tmp_path / "init", texts[-64:], max_length=64)
    SPLADE(ds, init, max_length=64, mode="rescore").fit(ds.topics("train"), ds.qrels("train"),
                                                        negatives=tir.BM25(ds) % 50, output_dir=tmp_path / "trained",
                                                        max_topics=32, batch_size=8)
    log = json.loads((tmp_path / "trained" / "training.json").read_text())
    assert log["triples"] > 0 and log["loss"]
    splade = SPLADE(sliced, tmp_path / "trained", max_length=64)
    vectors = list(splade.prepare().index.doc_vectors())  # the float vectors it indexed
    topics = sliced.topics("test")
    result = tir.Experiment([splade % 1000, tir.BM25(sliced) % 1000], topics, sliced.qrels("test"),
                            ["nDCG@10"])
    stats = sparsity_stats(vectors, splade.encoder.encode_queries(topics["query"].tolist()))
    print(f"\nSPLADE nDCG@10 {result.results['nDCG@10'].iloc[0]:.4f} (BM25 on the slice "
          f"{result.results['nDCG@10'].iloc[1]:.4f}); {stats}; index bytes "
          f"{splade.index.manifest['size_bytes']:,}; training {log['seconds']} s")
    assert 0 < result.results["nDCG@10"].iloc[0] <= 1
    assert 1 <= stats["avg_doc_terms"] < 30522 and 1 <= stats["avg_query_terms"] < 30522 and stats["flops"] > 0


# --- splade-tiny, the real SPLADE bundled offline -------------------------------------------------------------------

def dense_rows(pooled, dimension):
    """(term ids, weights) per text as a dense float32 matrix."""
    import torch
    out = torch.zeros(len(pooled), dimension)
    for row, (ids, weights) in enumerate(pooled):
        out[row, torch.as_tensor(ids, dtype=torch.long)] = torch.as_tensor(weights)
    return out


@pytest.mark.parametrize("bf16", [False, True])
def test_splade_tiny_vectors_equal_sentence_transformers(scifact_slice, bf16):
    """Our pooling (padding skipped, fused chunked projection; bf16 candidates re-checked in float32) gives the
    vectors of SparseEncoder.encode_document / encode_query on the same checkpoint."""
    docs = [document_text(d) for d in tir.load_dataset(scifact_slice).corpus_iter()][:40] + ["", "a", "COVID-19 and ACE2"]
    queries = tir.load_dataset(scifact_slice).topics("test")["query"].tolist()[:10] + [""]
    encoder = SpladeEncoder(SPLADE_TINY_NAME, max_length=256, batch_size=16, bf16=bf16)
    assert encoder.pooling is not None  # splade-tiny is a BERT masked LM: the fast path is the one tested
    model, vocab, special = encoder.model, *encoder._vocab
    for texts, document, reference in ((docs, True, model.encode_document), (queries, False, model.encode_query)):
        ours = dense_rows(encoder._pooled(texts, document), len(vocab))
        theirs = reference(texts, batch_size=16, convert_to_tensor=True).to_dense()
        assert (ours - theirs).abs().max().item() <= 1e-5
        assert torch_equal((ours > 0), (theirs > 0))
        vectors = encoder.encode_documents(texts) if document else encoder.encode_queries(texts)
        for row, vector in zip(theirs, vectors):
            nonzero = [i for i in row.nonzero().squeeze(1).tolist() if i not in set(special.tolist())]
            assert set(vector) == {vocab[i] for i in nonzero}
    assert sum(map(len, encoder.encode_documents(docs[:3]))) > 100  # a real model: documents have many terms


def torch_equal(a, b) -> bool:
    import torch
    return bool(torch.equal(a, b))


@pytest.fixture(scope="module")
def splade_tiny(scifact_slice):
    """splade-tiny over the 500-document slice (index built once)."""
    return SPLADE(scifact_slice, SPLADE_TINY_NAME, max_length=128, bf16=True).prepare()


@pytest.mark.slow
def test_splade_tiny_quantisation_keeps_every_top10(splade_tiny):
    """PISA's top-10 on the quantised index (impacts round(100 w)) against exact float scoring of every document:
    every document the float scores put clearly in (out of) the top-10 is in (out of) PISA's; only documents within
    the measured quantisation error of the 10th score may swap."""
    docs = list(splade_tiny.dataset.corpus_iter())
    floats = splade_tiny.encoder.encode_documents([document_text(d) for d in docs])
    quantised = [quantise(v, splade_tiny.scale) for v in floats]
    topics = splade_tiny.dataset.topics("test")
    results = (splade_tiny % 10).transform(topics)
    queries = splade_tiny.encoder.encode_queries(topics["query"].tolist())
    identical = 0
    for qid, query in zip(topics["qid"], queries):
        exact = np.array([sparse_dot(query, d) for d in floats])
        scaled = np.array([sparse_dot(quantise(query, splade_tiny.scale), d) for d in quantised]) / splade_tiny.scale ** 2
        error = np.abs(scaled - exact).max()
        tenth = np.sort(exact)[-10]
        got = set(results.loc[results["qid"] == qid, "docno"])
        assert {d["docno"] for d, s in zip(docs, exact) if s > tenth + 2 * error} <= got, qid
        assert all(s >= tenth - 2 * error for d, s in zip(docs, exact) if d["docno"] in got), qid
        identical += got == {docs[i]["docno"] for i in np.argsort(-exact, kind="stable")[:10]}
    print(f"\nquantised top-10 identical to the float top-10 for {identical}/{len(topics)} queries")
    assert identical >= len(topics) - 2
    bm25 = (tir.BM25(splade_tiny.dataset) % 1000).transform(topics)
    ndcg = {name: pt_ndcg10(run, splade_tiny.dataset.qrels("test"))
            for name, run in (("splade-tiny", (splade_tiny % 1000).transform(topics)), ("BM25", bm25))}
    print(f"\nsplade-tiny on the 500-document SciFact slice: nDCG@10 {ndcg}")
    assert ndcg["splade-tiny"] > 0.5  # a trained SPLADE, not a random one (the BM25 on this slice is ~0.7)


def pt_ndcg10(run: pd.DataFrame, qrels: pd.DataFrame) -> float:
    import ir_measures
    import pyterrier as pt
    return ir_measures.calc_aggregate([ir_measures.nDCG @ 10], pt.model.to_ir_measures(qrels),
                                      pt.model.to_ir_measures(run))[ir_measures.nDCG @ 10]


@pytest.mark.slow
def test_rescore_reads_stored_vectors_and_encodes_only_the_rest(splade_tiny, monkeypatch):
    """Rescoring with the index built reads the candidates' vectors; a candidate outside the corpus is encoded;
    scores equal rescoring that encodes every candidate on the fly."""
    topics = splade_tiny.dataset.topics("test").head(8)
    candidates = (tir.BM25(splade_tiny.dataset) % 20).transform(topics)
    candidates = splade_tiny.dataset.text_loader(("title", "text")).transform(candidates)
    extra = candidates.head(1).assign(docno="not-in-corpus", title="", text="white matter microstructure in newborns")
    candidates = pd.concat([candidates, extra], ignore_index=True)
    on_the_fly = SPLADE(None, SPLADE_TINY_NAME, max_length=128, mode="rescore").transform(candidates)
    stored = SPLADE(splade_tiny.dataset, SPLADE_TINY_NAME, max_length=128, mode="rescore")
    assert len(stored.stored_vectors()) == 500
    encoded = []
    original = stored.encoder.encode_documents
    monkeypatch.setattr(stored.encoder, "encode_documents", lambda texts: encoded.extend(texts) or original(texts))
    from_store = stored.transform(candidates)
    assert encoded == ["white matter microstructure in newborns"]
    merged = from_store.merge(on_the_fly, on=["qid", "docno"], suffixes=("", "_fly"))
    assert len(merged) == len(candidates)
    np.testing.assert_allclose(merged["score"], merged["score_fly"], rtol=1e-5, atol=1e-6)
