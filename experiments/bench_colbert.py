"""ColBERT re-ranking on SciFact: queries/s from the token forward index vs on the fly, index bytes per document with
and without token pooling, peak memory of each, and nDCG@10 of ``BM25 % 100 >> ColBERT``.

Building the index and re-ranking run in separate processes (so each peak RSS is its own); a built index is reused
(a no-op build). Reproduce:

    TIR_DATA_PATH=../shared/data HF_HUB_OFFLINE=1 .venv/bin/python experiments/bench_colbert.py [--queries 20]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

MODES = {"index": ("index", None), "index-pool2": ("index", 2), "on-the-fly": ("on_the_fly", None)}


def peak_rss_mib() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def ndcg10(run, qrels) -> float:
    import ir_measures
    qrels = qrels.rename(columns={"qid": "query_id", "docno": "doc_id", "label": "relevance"})
    run = run.rename(columns={"qid": "query_id", "docno": "doc_id"})
    return round(ir_measures.calc_aggregate([ir_measures.nDCG @ 10], qrels, run)[ir_measures.nDCG @ 10], 4)


def stage_for(name: str, model: str | None):
    import transformers_ir as tir
    from transformers_ir.rerank.colbert import ColBERT
    mode, pool = MODES[name]
    return ColBERT(tir.load_dataset("scifact") if mode == "index" else None, mode=mode, pool_factor=pool,
                   **({"model": model} if model else {}))


def build(name: str, model: str | None) -> dict:
    """Build the stage's index (a no-op when built): seconds, peak RSS and the manifest's sizes."""
    stage = stage_for(name, model)
    built = stage.mode != "index" or stage.index.built()
    start = time.perf_counter()
    stage.prepare()
    out = {"build_s": round(time.perf_counter() - start, 1), "already_built": built,
           "build_peak_rss_mib": peak_rss_mib()}
    if stage.mode == "index":
        manifest = stage.index.manifest
        out.update({k: manifest[k] for k in ("doc_count", "vectors_count", "size_bytes", "bytes_per_doc",
                                             "encode_seconds")})
    return out


def timed(stage, frame) -> float:
    start = time.perf_counter()
    stage.transform(frame)
    return time.perf_counter() - start


def rerank(name: str, model: str | None, queries: int, depth: int) -> dict:
    """Re-rank ``BM25 % depth`` of the first ``queries`` test topics (BM25 and text loading not timed; the first
    pass reads the index cold, then the best of two warm passes); nDCG@10 over all test topics for index modes."""
    import transformers_ir as tir
    stage = stage_for(name, model).prepare()
    ds = tir.load_dataset("scifact")
    topics, qrels = ds.topics("test"), ds.qrels("test")
    candidates = (tir.BM25(ds) % depth).transform(topics)
    if stage.mode == "on_the_fly":
        candidates = ds.text_loader(("title", "text")).transform(candidates)
    sample = candidates[candidates["qid"].isin(topics["qid"].head(queries))]
    stage.transform(candidates[candidates["qid"] == topics["qid"].iloc[-1]])  # warm-up: a query outside the sample
    seconds = [timed(stage, sample) for _ in range(3 if stage.mode == "index" else 1)]
    out = {"queries": queries, "depth": depth, "rerank_s": round(seconds[0], 3), "qps": round(queries / seconds[0], 2),
           "rerank_peak_rss_mib": peak_rss_mib()}
    if stage.mode == "index":  # again, with the sample's pages of the memory map in the page cache
        out["warm_qps"] = round(queries / min(seconds[1:]), 2)
        out.update({"ndcg@10": ndcg10(stage.transform(candidates), qrels), "bm25_ndcg@10": ndcg10(candidates, qrels)})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=20, help="test queries timed per mode")
    parser.add_argument("--depth", type=int, default=100, help="BM25 candidates per query")
    parser.add_argument("--model", default=None, help="ColBERT checkpoint (default: MiniLM + random projection)")
    parser.add_argument("--worker", nargs=2, metavar=("PHASE", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        phase, name = args.worker
        result = build(name, args.model) if phase == "build" else rerank(name, args.model, args.queries, args.depth)
        print(json.dumps(result))
        return
    command = [sys.executable, __file__, "--queries", str(args.queries), "--depth", str(args.depth)]
    command += ["--model", args.model] if args.model else []
    rows = []
    for name in MODES:
        row = {"name": name}
        for phase in ("build", "rerank"):
            lines = subprocess.run(command + ["--worker", phase, name], check=True, capture_output=True, text=True,
                                   env={**os.environ, "TQDM_DISABLE": "1"}).stdout.strip().splitlines()
            row.update(json.loads(lines[-1]))
        rows.append(row)
        print(json.dumps(row), flush=True)
    fly = next(r for r in rows if r["name"] == "on-the-fly")
    print(f"\n| mode | queries/s (BM25 % {args.depth}) | vs on the fly | warm queries/s | re-rank peak RSS MiB "
          f"| build peak RSS MiB | vectors | bytes/doc | nDCG@10 (300 test queries) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['name']} | {r['qps']} | {r['qps'] / fly['qps']:.1f}x | {r.get('warm_qps', '-')} "
              f"| {r['rerank_peak_rss_mib']} "
              f"| {r['build_peak_rss_mib'] if not r['already_built'] else 'built earlier'} "
              f"| {r.get('vectors_count', '-')} | {r.get('bytes_per_doc', '-')} | {r.get('ndcg@10', '-')} |")
    print(f"\nBM25 % {args.depth} alone: nDCG@10 {rows[0]['bm25_ndcg@10']}")
    print("reproduce: TIR_DATA_PATH=../shared/data HF_HUB_OFFLINE=1 .venv/bin/python experiments/bench_colbert.py "
          + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
