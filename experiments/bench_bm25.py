"""Benchmark BM25 in transformers_ir against raw PISA and bm25s, and tir.Experiment against pt.Experiment.

What it measures, in one run:

1. On BEIR SciFact (test topics) and on a seeded synthetic corpus (200,000 documents of 50-150 words drawn
   from a Zipfian distribution over a 50,000-word made-up vocabulary; 1,000 queries of 2-5 words drawn
   from the same distribution): index build time, and queries/s at top-10 and top-1000, for
   (a) ``transformers_ir.BM25`` over a ``PisaTextIndex``, (b) raw ``pyterrier_pisa`` retrieval over the same
   index folder, (c) ``bm25s`` with its own tokenizer (English stopwords, PyStemmer "english" stemmer) and
   (d) Pyserini when importable. BM25 uses k1=0.9, b=0.4 everywhere; every system runs on one thread;
   all queries go in one batch call; queries/s is the best of 3 interleaved repetitions after one warm-up call
   (a repetition repeats the batch call until it has lasted at least 1 s, so short calls are not all noise).
   Target: transformers_ir.BM25 queries/s >= 0.9 x raw PISA queries/s.
2. ``tir.Experiment`` (stage cache off) vs ``pt.Experiment`` wall and CPU time for the same three BM25 pipelines
   on SciFact test topics, with AP, nDCG@10 and R@100: median of 3 alternating repetitions, after one warm-up
   of each; for ``BM25 % 10 / % 100 / % 1000`` and for three (k1, b) settings.
   Target: tir/pt <= 1.05, with the same nDCG@10 from both.
3. nDCG@10 on SciFact test for (a), (b) and (c) (Anserini BM25 flat reference: 0.6789).

Reproduce from the repository root (writes experiments/bench_bm25.md and prints it):

    TIR_DATA_PATH=../shared/data .venv/bin/python experiments/bench_bm25.py
"""
from __future__ import annotations

import importlib.util
import math
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TypeVar

import bm25s
import numpy as np
import pandas as pd
import pyterrier as pt
import pyterrier_pisa
import Stemmer
from pyterrier.measures import AP, R, nDCG

import transformers_ir as tir
from transformers_ir.core.native import redirect_native_output

K1, B = 0.9, 0.4
DEPTHS = (10, 1000)
REPS = 3
MIN_REPETITION_SECONDS = 1.0
SEED = 20240611
N_DOCS, VOCAB_SIZE, N_QUERIES, ZIPF_S = 200_000, 50_000, 1_000, 1.0
ANSERINI_SCIFACT_NDCG10 = 0.6789
OUR_STAGE, RAW_PISA, BM25S = "transformers_ir.BM25", "pyterrier_pisa (raw)", "bm25s"
COMMAND = "TIR_DATA_PATH=../shared/data .venv/bin/python experiments/bench_bm25.py"
REPORT = Path(__file__).with_suffix(".md")

T = TypeVar("T")


@dataclass
class Collection:
    """Documents (``docno``, ``text``[, ``title``]) and topics; qrels only for a real test collection."""

    name: str
    docs: list[dict]
    topics: pd.DataFrame
    qrels: pd.DataFrame | None = None


@dataclass
class SystemResult:
    """One system on one collection: build seconds, best queries/s per depth and its top-10 run."""

    system: str
    build_seconds: float
    qps: dict[int, float]
    top10: pd.DataFrame


def timed(fn: Callable[..., T], *args) -> tuple[T, float]:
    """``fn(*args)`` and its wall time in seconds."""
    start = time.perf_counter()
    value = fn(*args)
    return value, time.perf_counter() - start


def call_repeatedly(fn: Callable[[], object], times: int) -> None:
    for _ in range(times):
        fn()


def flat_text(doc: dict) -> str:
    """Title and text in one field, as ``PisaTextIndex`` indexes them."""
    return f"{doc.get('title') or ''} {doc.get('text') or ''}".strip()


# ---------------------------------------------------------------- collections

def load_scifact() -> Collection:
    ds = tir.load_dataset("scifact")
    return Collection("SciFact test", list(ds.corpus_iter()), ds.topics("test"), ds.qrels("test"))


def made_up_vocabulary(rng: np.random.Generator, size: int) -> np.ndarray:
    """``size`` distinct three-syllable words (consonant + vowel syllables), in a seeded random order."""
    syllables = [c + v for c in "bdfgklmnprtvz" for v in "aeiou"]
    n = len(syllables)
    picks = rng.choice(n ** 3, size=size, replace=False)
    return np.array([syllables[i // n ** 2] + syllables[i // n % n] + syllables[i % n] for i in picks], dtype=object)


def zipf_words(rng: np.random.Generator, vocabulary: np.ndarray, lengths: np.ndarray) -> list[str]:
    """One string per length, its words drawn from a Zipf(``ZIPF_S``) distribution over ``vocabulary``."""
    weights = 1.0 / np.arange(1, len(vocabulary) + 1) ** ZIPF_S
    words = vocabulary[rng.choice(len(vocabulary), size=int(lengths.sum()), p=weights / weights.sum())]
    ends = np.cumsum(lengths)
    return [" ".join(words[end - length:end]) for end, length in zip(ends, lengths, strict=True)]


def synthetic_collection() -> Collection:
    rng = np.random.default_rng(SEED)
    vocabulary = made_up_vocabulary(rng, VOCAB_SIZE)
    texts = zipf_words(rng, vocabulary, rng.integers(50, 151, size=N_DOCS))
    queries = zipf_words(rng, vocabulary, rng.integers(2, 6, size=N_QUERIES))
    docs = [{"docno": f"d{i}", "text": text} for i, text in enumerate(texts)]
    topics = pd.DataFrame({"qid": [f"q{i}" for i in range(N_QUERIES)], "query": queries})
    return Collection(f"Synthetic Zipf ({N_DOCS:,} docs)", docs, topics)


# ---------------------------------------------------------------- systems

class Bm25sRetriever:
    """bm25s with its own tokenizer (English stopwords, Snowball English stemmer), on one thread."""

    def __init__(self, docs: list[dict]):
        self.docnos = np.array([d["docno"] for d in docs], dtype=object)
        self.tokenizer = bm25s.tokenization.Tokenizer(stopwords="en", stemmer=Stemmer.Stemmer("english"))
        self.model = bm25s.BM25(k1=K1, b=B)
        self.model.index(self.tokenizer.tokenize([flat_text(d) for d in docs], show_progress=False),
                         show_progress=False)

    def retrieve(self, queries: list[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        """Document indices and scores, ``(len(queries), k)`` each: bm25s's own output, no DataFrame."""
        tokens = self.tokenizer.tokenize(queries, update_vocab=False, show_progress=False)
        return self.model.retrieve(tokens, k=k, show_progress=False, n_threads=0)

    def run(self, topics: pd.DataFrame, hits: tuple[np.ndarray, np.ndarray]) -> pd.DataFrame:
        """``hits`` of ``retrieve`` as a PyTerrier run (qid, docno, score, rank)."""
        indices, scores = hits
        k = indices.shape[1]
        return pd.DataFrame({"qid": np.repeat(topics["qid"].to_numpy(), k), "docno": self.docnos[indices.ravel()],
                             "score": scores.ravel(), "rank": np.tile(np.arange(k), len(topics))})


def build_raw_pisa(docs: list[dict], path: Path) -> None:
    """The same PISA index ``PisaTextIndex`` builds (porter2, Terrier stopwords, one thread), without the wrapper."""
    index = pyterrier_pisa.PisaIndex(str(path), stemmer="porter2", stops="terrier", threads=1)
    with redirect_native_output(path.with_suffix(".log")):
        index.indexer("text").index({"docno": d["docno"], "text": flat_text(d)} for d in docs)


def best_qps(searches: dict[str, Callable[[], object]], warmup_seconds: dict[str, float],
             n_queries: int) -> dict[str, float]:
    """Best-of-``REPS`` queries/s per search, the searches interleaved within each repetition.

    A repetition makes as many calls as the warm-up call's time says fill ``MIN_REPETITION_SECONDS``.
    """
    calls = {name: max(1, math.ceil(MIN_REPETITION_SECONDS / warmup_seconds[name])) for name in searches}
    best = dict.fromkeys(searches, float("inf"))
    for _ in range(REPS):
        for name, search in searches.items():
            _, seconds = timed(call_repeatedly, search, calls[name])
            best[name] = min(best[name], seconds / calls[name])
    return {name: n_queries / seconds for name, seconds in best.items()}


def bench_collection(collection: Collection, workdir: Path) -> tuple[list[SystemResult], tir.PisaTextIndex]:
    """Build each system's index, then time every system at every depth on the collection's topics."""
    index, our_build = timed(tir.PisaTextIndex(workdir / "tir").build, collection.docs)
    _, raw_build = timed(build_raw_pisa, collection.docs, workdir / "raw")
    bm25s_retriever, bm25s_build = timed(Bm25sRetriever, collection.docs)
    topics, queries = collection.topics, collection.topics["query"].tolist()

    qps: dict[str, dict[int, float]] = {OUR_STAGE: {}, RAW_PISA: {}, BM25S: {}}
    top10: dict[str, pd.DataFrame] = {}
    for k in DEPTHS:
        ours = tir.BM25(index=index, k1=K1, b=B, num_results=k).prepare()
        raw = index.pisa().bm25(k1=K1, b=B, num_results=k)
        searches = {OUR_STAGE: partial(ours.transform, topics), RAW_PISA: partial(raw.transform, topics),
                    BM25S: partial(bm25s_retriever.retrieve, queries, k)}
        warm = {name: timed(search) for name, search in searches.items()}
        if k == 10:
            top10 = {name: run for name, (run, _) in warm.items()}
            top10[BM25S] = bm25s_retriever.run(topics, top10[BM25S])
        warmup_seconds = {name: seconds for name, (_, seconds) in warm.items()}
        for name, value in best_qps(searches, warmup_seconds, len(topics)).items():
            qps[name][k] = value
    builds = {OUR_STAGE: our_build, RAW_PISA: raw_build, BM25S: bm25s_build}
    return [SystemResult(name, builds[name], qps[name], top10[name]) for name in qps], index


def pyserini_line() -> str:
    if importlib.util.find_spec("pyserini") is None:
        return "pyserini: not installed, skipped"
    return "pyserini: importable, but this script does not benchmark it (needs a Lucene index and a JVM), skipped"


# ---------------------------------------------------------------- experiments

def experiment_pipelines(index: tir.PisaTextIndex) -> dict[str, dict[str, pt.Transformer]]:
    """Two sets of three pipelines: cutoffs of one BM25 (tir fuses them), and three BM25 parameter settings."""
    bm25 = tir.BM25(index=index, k1=K1, b=B).prepare()
    settings = [(0.9, 0.4), (1.2, 0.75), (0.6, 0.3)]
    return {
        "BM25 % 10 / % 100 / % 1000": {f"BM25 % {k}": bm25 % k for k in (10, 100, 1000)},
        "BM25 k1,b = 0.9,0.4 / 1.2,0.75 / 0.6,0.3": {
            f"BM25({k1},{b})": tir.BM25(index=index, k1=k1, b=b).prepare() for k1, b in settings},
    }


def run_tir(pipelines: dict[str, pt.Transformer], collection: Collection, metrics: list) -> pd.DataFrame:
    """tir.Experiment without its persistent stage cache, so that it retrieves every time, as pt.Experiment does."""
    return tir.Experiment(list(pipelines.values()), collection.topics, collection.qrels, metrics,
                          names=list(pipelines), cache=False).results


def run_pt(pipelines: dict[str, pt.Transformer], collection: Collection, metrics: list) -> pd.DataFrame:
    return pt.Experiment(list(pipelines.values()), collection.topics, collection.qrels, eval_metrics=metrics,
                         names=list(pipelines))


def joined(values: pd.Series) -> str:
    return " / ".join(f"{v:.4f}" for v in values)


def bench_experiments(collection: Collection, index: tir.PisaTextIndex) -> list[str]:
    """Median wall and CPU time of tir.Experiment and pt.Experiment per pipeline set, with both nDCG@10s."""
    metrics = [AP, nDCG @ 10, R @ 100]
    harnesses = {"tir": run_tir, "pt": run_pt}
    columns = ["pipelines", "tir.Experiment s", "pt.Experiment s", "tir/pt wall", "tir/pt CPU", "nDCG@10 tir",
               "nDCG@10 pt", "agree"]
    lines = ["| " + " | ".join(columns) + " |", "|---" * len(columns) + "|"]
    for label, pipelines in experiment_pipelines(index).items():
        results = {h: run(pipelines, collection, metrics) for h, run in harnesses.items()}  # warm-up
        wall: dict[str, list[float]] = {h: [] for h in harnesses}
        cpu: dict[str, list[float]] = {h: [] for h in harnesses}
        for _ in range(REPS):
            for h, run in harnesses.items():
                cpu_start = time.process_time()
                results[h], elapsed = timed(run, pipelines, collection, metrics)
                cpu[h].append(time.process_time() - cpu_start)
                wall[h].append(elapsed)
        tir_s, pt_s = statistics.median(wall["tir"]), statistics.median(wall["pt"])
        cpu_ratio = statistics.median(cpu["tir"]) / statistics.median(cpu["pt"])
        ndcg = {h: results[h].set_index("name")["nDCG@10"] for h in harnesses}
        agree = bool(np.allclose(ndcg["tir"].to_numpy(), ndcg["pt"].loc[ndcg["tir"].index].to_numpy(), atol=1e-12))
        lines.append(f"| {label} | {tir_s:.3f} | {pt_s:.3f} | **{tir_s / pt_s:.3f}** | {cpu_ratio:.3f} | "
                     f"{joined(ndcg['tir'])} | {joined(ndcg['pt'])} | {'yes' if agree else 'NO'} |")
    return lines


# ---------------------------------------------------------------- report

def machine_lines() -> list[str]:
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")),
                 platform.processor() or "unknown")
    return [f"- CPU: {model}; cores: {os.cpu_count()}",
            f"- Python {platform.python_version()} ({sys.executable})",
            (f"- pyterrier {pt.__version__}, pyterrier_pisa {pyterrier_pisa.__version__}, "
             f"bm25s {bm25s.__version__}, numpy {np.__version__}, pandas {pd.__version__}"),
            f"- Run at {time.strftime('%Y-%m-%d %H:%M:%S %z')}; {load_average('start')}"]


def load_average(when: str) -> str:
    """The machine's load (other processes inflate the timings below)."""
    return f"load average at {when} {' / '.join(f'{v:.2f}' for v in os.getloadavg())} (1 / 5 / 15 min)"


def speed_lines(collection: Collection, results: list[SystemResult]) -> list[str]:
    by_name = {r.system: r for r in results}
    lines = [f"### {collection.name}: {len(collection.docs):,} docs, {len(collection.topics):,} queries", "",
             "| system | index build s | qps @10 | qps @1000 |", "|---|---|---|---|"]
    lines += [f"| {r.system} | {r.build_seconds:.2f} | {r.qps[10]:,.0f} | {r.qps[1000]:,.0f} |" for r in results]
    ratios = [f"@{k}: **{by_name[OUR_STAGE].qps[k] / by_name[RAW_PISA].qps[k]:.3f}**" for k in DEPTHS]
    return lines + ["", f"{OUR_STAGE} qps / raw PISA qps (target >= 0.9): " + ", ".join(ratios), ""]


def effectiveness_lines(collection: Collection, results: list[SystemResult]) -> list[str]:
    lines = ["| system | nDCG@10 |", "|---|---|",
             f"| Anserini BM25 flat (published reference) | {ANSERINI_SCIFACT_NDCG10:.4f} |"]
    for r in results:
        value = pt.Evaluate(r.top10, collection.qrels, metrics=[nDCG @ 10])["nDCG@10"]
        lines.append(f"| {r.system} | {value:.4f} |")
    return lines


def header_lines() -> list[str]:
    return ["# BM25 benchmark: transformers_ir vs raw PISA vs bm25s; tir.Experiment vs pt.Experiment", "",
            f"Reproduce: `{COMMAND}`", "", "## Machine", *machine_lines(), "",
            "## Retrieval speed", "",
            (f"k1={K1}, b={B}; one thread everywhere; all queries in one call; qps = best of {REPS} interleaved "
             f"repetitions (each repeats the batch call for >= {MIN_REPETITION_SECONDS} s) after a warm-up call. "
             "Build times: transformers_ir = `PisaTextIndex.build(docs)` (spools and hashes the documents, then "
             "PISA); raw = `pyterrier_pisa` indexer on the same documents (queries for raw PISA run on the "
             "transformers_ir index folder); bm25s = tokenize + index. transformers_ir and raw PISA return a "
             "PyTerrier DataFrame; bm25s timings are its own `retrieve` (query tokenization included) returning "
             "arrays."), ""]


def experiment_section(experiment_lines: list[str]) -> list[str]:
    return ["## tir.Experiment vs pt.Experiment (SciFact test, AP / nDCG@10 / R@100)", "",
            (f"Median wall time of {REPS} alternating runs after a warm-up of each; target tir/pt <= 1.05 "
             "(the CPU-time ratio, process CPU seconds, is less sensitive to other load on the machine). "
             "pt.Experiment does not compile pipelines, so `BM25 % k` retrieves 1000 and cuts there, while "
             "tir.Experiment fuses the cutoff into PISA; the k1/b set does the same work in both. "
             "tir.Experiment runs with `cache=False` (its stage cache would otherwise replay stored runs)."), "",
            *experiment_lines, ""]


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def main() -> None:
    warnings.filterwarnings("ignore", message="There are shared pipeline components")  # pt.Experiment's plan hint
    lines = header_lines()
    progress("SciFact: building indexes and timing retrieval")
    scifact = load_scifact()
    with tempfile.TemporaryDirectory(prefix="bench-bm25-") as tmp:
        scifact_results, scifact_index = bench_collection(scifact, Path(tmp) / "scifact")
        lines += speed_lines(scifact, scifact_results)
        progress("SciFact: tir.Experiment vs pt.Experiment")
        experiment_lines = bench_experiments(scifact, scifact_index)
        progress("Synthetic corpus: generating, building indexes and timing retrieval")
        synthetic = synthetic_collection()  # made only now, so its 200k documents are not in memory before
        lines += speed_lines(synthetic, bench_collection(synthetic, Path(tmp) / "synthetic")[0])
    lines += [pyserini_line(), "", *experiment_section(experiment_lines),
              "## Effectiveness (SciFact test)", "", *effectiveness_lines(scifact, scifact_results), "",
              f"Finished at {time.strftime('%H:%M:%S')}; {load_average('end')}.", ""]
    REPORT.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
