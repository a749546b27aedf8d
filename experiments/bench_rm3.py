"""Benchmark BM25+RM3 on PISA (``tir.RM3``) against Pyserini's RM3 (``LuceneSearcher.set_rm3``) on Lucene.

On Vaswani (93 topics), BEIR SciFact (300 test topics) and CISI (76 judged topics), both engines with BM25
k1=0.9, b=0.4 and RM3 fb_docs=10, fb_terms=10, original-query weight 0.5; one retrieval thread each:

- MAP (ir_measures ``AP`` over the top 1000) and nDCG@10, from ``tir.Experiment`` with the stage cache off;
- queries/s over all topics of a collection: one warm-up run, then ``REPEATS`` timed runs of the whole pipeline
  (median, with the slowest and fastest run).

PISA rows: ``BM25 % 1000``; ``BM25 % 10 >> RM3 >> BM25 % 1000`` (the first BM25 asks PISA for the 10 feedback
documents only); and both again with ``BM25(qtf=True)`` as the first stage, which weights a repeated query term by
its count as Anserini's bag-of-words query does (PISA's default counts it once). Lucene rows: ``LuceneBM25 % 1000``
and ``LuceneBM25(rm3=True) % 1000`` (Pyserini retrieves 1000, feeds back the top 10, retrieves 1000 again).

Reproduce from the repository root (writes experiments/bench_rm3.md and prints it):

    TIR_DATA_PATH=../shared/data HF_HUB_OFFLINE=1 TIR_CACHE_DIR=/tmp/tir-rm3 .venv/bin/python experiments/bench_rm3.py
"""
from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from pathlib import Path

import pandas as pd

import transformers_ir as tir

HERE = Path(__file__).resolve().parent
COMMAND = ("TIR_DATA_PATH=../shared/data HF_HUB_OFFLINE=1 TIR_CACHE_DIR=/tmp/tir-rm3 "
           ".venv/bin/python experiments/bench_rm3.py")
DATASETS = [("vaswani", None), ("scifact", "test"), ("cisi", None)]
FEEDBACK = {"fb_docs": 10, "fb_terms": 10, "fb_lambda": 0.5}
REPEATS = 5
TOLERANCE = 0.02


def pipelines(ds) -> dict:
    bm25, first_qtf = tir.BM25(ds), tir.BM25(ds, qtf=True)
    rm3 = tir.RM3(ds, **FEEDBACK)
    return {
        "PISA BM25": bm25 % 1000,
        "PISA BM25+RM3": bm25 % 10 >> rm3 >> bm25 % 1000,
        "PISA BM25 (qtf)": first_qtf % 1000,
        "PISA BM25 (qtf)+RM3": first_qtf % 10 >> rm3 >> bm25 % 1000,
        "Lucene BM25": tir.LuceneBM25(ds) % 1000,
        "Lucene BM25+RM3": tir.LuceneBM25(ds, rm3=True, **FEEDBACK) % 1000,
    }


def queries_per_second(pipeline, topics: pd.DataFrame) -> tuple[float, float, float]:
    """(median, slowest, fastest) queries/s over REPEATS runs on all topics, after one warm-up run."""
    compiled = pipeline.compile()
    compiled.transform(topics)
    seconds = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        compiled.transform(topics)
        seconds.append(time.perf_counter() - start)
    return len(topics) / statistics.median(seconds), len(topics) / max(seconds), len(topics) / min(seconds)


def run_dataset(name: str, split: str | None, progress) -> pd.DataFrame:
    ds = tir.load_dataset(name)
    topics, qrels = ds.topics(split), ds.qrels(split)
    topics = topics[topics["qid"].isin(set(qrels["qid"]))].reset_index(drop=True)  # judged topics only
    systems = pipelines(ds)
    table = tir.Experiment(systems, topics, qrels, ["AP", "nDCG@10"], cache=False)
    rows = []
    for system, pipeline in systems.items():
        progress(f"  {name}: timing {system}")
        median, slowest, fastest = queries_per_second(pipeline, topics)
        row = table.set_index("name").loc[system]
        rows.append({"dataset": name, "topics": len(topics), "system": system, "MAP": row["AP"],
                     "nDCG@10": row["nDCG@10"], "qps": median, "qps_slowest": slowest, "qps_fastest": fastest})
    return pd.DataFrame(rows)


def render(results: pd.DataFrame) -> str:
    lines = ["# BM25+RM3 on PISA (tir.RM3) vs Pyserini's RM3 on Lucene", "",
             f"Reproduce: `{COMMAND}`", "",
             "## Machine", "",
             f"- {platform.machine()}; cores: {os.cpu_count()}; load average at start "
             f"{' / '.join(f'{x:.2f}' for x in os.getloadavg())}; Python {platform.python_version()}",
             f"- run at {time.strftime('%Y-%m-%d %H:%M:%S %z')}", "",
             "BM25 k1=0.9, b=0.4; RM3 fb_docs=10, fb_terms=10, original-query weight (fb_lambda) 0.5; one thread. "
             "MAP is ir_measures `AP` over the top 1000; judged topics only. Queries/s: median of "
             f"{REPEATS} runs over all topics after a warm-up run (slowest - fastest run in brackets).", ""]
    for name, group in results.groupby("dataset", sort=False):
        lines += [f"## {name} ({group['topics'].iloc[0]} topics)", "",
                  "| system | MAP | nDCG@10 | queries/s |", "|---|---|---|---|"]
        for r in group.to_dict("records"):
            lines.append(f"| {r['system']} | {r['MAP']:.4f} | {r['nDCG@10']:.4f} | {r['qps']:,.0f} "
                         f"({r['qps_slowest']:,.0f} - {r['qps_fastest']:,.0f}) |")
        by = group.set_index("system")
        lucene = by.loc["Lucene BM25+RM3"]
        lines += [""]
        for ours in ("PISA BM25+RM3", "PISA BM25 (qtf)+RM3"):
            d_map, d_ndcg = by.loc[ours, "MAP"] - lucene["MAP"], by.loc[ours, "nDCG@10"] - lucene["nDCG@10"]
            within = abs(d_map) <= TOLERANCE and abs(d_ndcg) <= TOLERANCE
            lines.append(f"- {ours} - Lucene BM25+RM3: MAP {d_map:+.4f}, nDCG@10 {d_ndcg:+.4f} "
                         f"({'within' if within else 'NOT within'} ±{TOLERANCE}); queries/s "
                         f"{by.loc[ours, 'qps'] / lucene['qps']:.1f}x Lucene's")
        gain = by.loc["PISA BM25+RM3", "MAP"] - by.loc["PISA BM25", "MAP"]
        lines += [f"- RM3 over BM25 on PISA: MAP {gain:+.4f}; on Lucene: "
                  f"{lucene['MAP'] - by.loc['Lucene BM25', 'MAP']:+.4f}", ""]
    return "\n".join(lines + NOTES) + "\n"


NOTES = [
    "## Notes", "",
    "- The RM3 computation is Anserini's `Rm3Reranker` (what `set_rm3` runs): per feedback document, its term "
    "counts kept to `[a-z0-9]`, 2-20 characters, document frequency at most 10% of the collection, pruned to "
    "`fb_terms`, L1-normalised and weighted by the document's BM25 score; summed, pruned to `fb_terms`, "
    "L1-normalised, and interpolated with the L1-normalised query term counts. The second retrieval scores "
    "`sum(weight * BM25(term, doc))` on both engines.",
    "- The terms differ, by design: ours are those of our analyzer — PISA's tokenizer, Porter2, Terrier's "
    "stopword list (a term that is the stem of a stopword is dropped, as PISA does for queries) — so that an "
    "expansion term is a term the PISA index holds and a query would match; Lucene's are EnglishAnalyzer's "
    "(StandardTokenizer, original Porter, Lucene's 33 stopwords). Document frequencies for the 10% filter come "
    "from each engine's own index. The two BM25s also differ slightly (Lucene's document-length encoding).",
    "- Query term frequency is the largest difference between the engines on long queries: CISI's queries are "
    "paragraphs whose terms repeat, Anserini's bag-of-words query weights a term by its count, PISA's BM25 "
    "counts it once. `BM25(qtf=True)` weights by count; with it as the first stage RM3 is fed the same kind of "
    "ranking as Pyserini's and lands within 0.02 of it on all three collections. RM3's own query vector always "
    "uses the counts (as Anserini's).",
    "- RM3 lowers SciFact on both engines (short claims, few relevant abstracts each: the feedback documents drift "
    "away from the claim); it helps on Vaswani and CISI.",
    "- Speed: PISA answers the expanded (weighted, ~15-20 term) query with block-max WAND; RM3 itself reads the "
    "10 feedback documents from the SQLite docstore and analyses them (~2 ms a query). Pyserini's time includes "
    "crossing from Python to the JVM (pyjnius) for each query and converting 1000 hits back. The machine is "
    "shared (see the load average): compare the engines' queries/s within a run, and read the spread.",
]


def main() -> None:
    progress = lambda message: print(message, file=sys.stderr, flush=True)  # noqa: E731
    results = pd.concat([run_dataset(name, split, progress) for name, split in DATASETS], ignore_index=True)
    text = render(results)
    (HERE / "bench_rm3.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
