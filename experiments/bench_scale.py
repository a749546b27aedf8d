"""Scale benchmark: MS MARCO-size collections on one machine, and corpus encoding on Ray.

What it measures, in one run, on a deterministic synthetic collection with MS MARCO passage statistics
(``transformers_ir.data.synthetic``: Zipfian made-up vocabulary, log-normal passage and query lengths fitted on
the real MS MARCO passages and dev queries in ../shared/data; 1,000 queries) at 100k, 300k and 1M passages:

1. BM25 (k1=0.9, b=0.4, one thread): index build time, index size, peak RSS and qps @10 / @1000 (the 1,000 queries
   in one call, best of 2 after a warm-up) for PISA (``tir.BM25``: build = ``PisaTextIndex.build`` + PISA's
   compression on first open), Pyserini/Lucene (``tir.LuceneBM25``) and bm25s (tokenize + index; its own
   ``retrieve``). Each system and size runs in its own child process: peak RSS is that process's ``VmHWM``
   (interpreter and libraries included; "above start" subtracts its RSS once imports and the dataset are loaded)
   and, for PISA, also its native indexer's child process.
2. The docstore (SQLite) build and ``TextLoader`` lookups (the top-10 of 1,000 queries: 10,000 documents).
3. FAISS flat vs HNSW32 vs IVF-PQ (``DenseIndex``'s factories and search parameters: efSearch 128, nprobe 16) on
   float16 vectors: 384-dim *synthetic* vectors (a seeded mixture of 4,096 Gaussian clusters on the unit sphere,
   not encoded text); queries are perturbed copies of 1,000 corpus vectors. Build time, size, peak RSS, qps @10
   (one thread) and recall@10 against flat.
4. The growth of each cost with corpus size (exponent of a least-squares power-law fit over the three sizes) and
   its extrapolation to MS MARCO's 8,841,823 passages, read against this 2-core / 24 GB machine.
5. A real collection (BEIR SciFact, 5,183 documents) encoded with all-MiniLM-L6-v2 into a ``DenseIndex`` in this
   process, and on Ray with 1 and 2 local workers (``tir.build_options(executor="ray")``; one torch thread per
   worker): documents/s, and equality with the single-process index (vectors, top-10 of the 300 test queries,
   nDCG@10); plus MiniLM's throughput on 2,000 real MS MARCO passages (msmarco-dl19-subset), to size MS MARCO.

Results are kept in ``--work`` (default ``$TIR_BENCH_DIR`` or /tmp/tir-bench-scale) as they come: an interrupted
run resumes. Reproduce from the repository root (writes experiments/bench_scale.md; about two hours here):

    TIR_TORCH_THREADS=1 TIR_DATA_PATH=../shared/data HF_HUB_OFFLINE=1 nohup .venv/bin/python \
        experiments/bench_scale.py > bench_scale.log 2>&1 &
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

COMMAND = ("TIR_TORCH_THREADS=1 TIR_DATA_PATH=../shared/data HF_HUB_OFFLINE=1 nohup .venv/bin/python "
           "experiments/bench_scale.py > bench_scale.log 2>&1 &")
SIZES = (100_000, 300_000, 1_000_000)
MSMARCO = 8_841_823
MACHINE_GB = 24
K1, B = 0.9, 0.4
DEPTHS = (10, 1000)
SYSTEMS = {"pisa": "PISA (tir.BM25)", "lucene": "Lucene (tir.LuceneBM25, Pyserini)", "bm25s": "bm25s"}
FAISS_TYPES = ("flat", "hnsw", "ivfpq")
PISA_INTERMEDIATE = ("fwd", "inv.docs", "inv.freqs", "inv.sizes")  # kept by PISA, not read by retrieval
DIMS, CLUSTERS = 384, 4096
RAY_SHARD = 500
CHILD_TIMEOUT = 3 * 3600
REPORT = Path(__file__).with_suffix(".md")


# --- measuring inside a child process ------------------------------------------------------------------------------

def status_mb(key: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak() -> float:
    """Reset this process's peak RSS (VmHWM) to its RSS now; return that RSS in MB."""
    Path("/proc/self/clear_refs").write_text("5")
    return status_mb("VmRSS")


def children_peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def folder_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file()) / 2**20


def best_qps(search, queries: int, reps: int = 2) -> float:
    """Queries/s of ``search()`` (all queries in one call): best of ``reps`` after a warm-up call."""
    search()
    best = math.inf
    for _ in range(reps):
        start = time.perf_counter()
        search()
        best = min(best, time.perf_counter() - start)
    return queries / best


def child_bm25(system: str, folder: str) -> dict:
    import transformers_ir as tir
    from transformers_ir.data import document_text
    ds = tir.load_dataset(folder)
    topics = ds.topics()
    out: dict = {}
    if system == "pisa":
        import pyterrier_pisa  # noqa: F401
        stages = {k: tir.BM25(ds, k1=K1, b=B, num_results=k) for k in DEPTHS}
        ds.fingerprint()
        start_mb = reset_peak()
        started = time.perf_counter()
        stages[10].index.build(ds)
        out["index_seconds"] = time.perf_counter() - started
        stages[10].prepare()  # PISA compresses the index on first open
        out["build_seconds"] = time.perf_counter() - started
        out["index_mb"] = folder_mb(stages[10].index.path)
        out["intermediate_mb"] = sum(f.stat().st_size for f in stages[10].index.path.iterdir()
                                     if f.name in PISA_INTERMEDIATE) / 2**20
        searches = {k: lambda s=s: s.prepare().transform(topics) for k, s in stages.items()}
    elif system == "lucene":
        from transformers_ir.sparse.lucene import start_jvm
        start_jvm()
        stages = {k: tir.LuceneBM25(ds, k1=K1, b=B, num_results=k) for k in DEPTHS}
        ds.fingerprint()
        start_mb = reset_peak()
        started = time.perf_counter()
        stages[10].prepare()
        out["build_seconds"] = time.perf_counter() - started
        out["index_mb"] = folder_mb(stages[10].index.path)
        searches = {k: lambda s=s: s.prepare().transform(topics) for k, s in stages.items()}
    else:
        import bm25s
        import Stemmer
        start_mb = reset_peak()
        started = time.perf_counter()
        docnos = np.array([d["docno"] for d in ds.corpus_iter()], dtype=object)
        tokenizer = bm25s.tokenization.Tokenizer(stopwords="en", stemmer=Stemmer.Stemmer("english"))
        model = bm25s.BM25(k1=K1, b=B)
        model.index(tokenizer.tokenize((document_text(d) for d in ds.corpus_iter()), length=len(docnos),
                                       show_progress=False), show_progress=False)
        out["build_seconds"] = time.perf_counter() - started
        saved = Path(os.environ["TIR_CACHE_DIR"]) / "bm25s"
        model.save(str(saved), show_progress=False)
        out["index_mb"] = folder_mb(saved)
        query_tokens = lambda: tokenizer.tokenize(topics["query"].tolist(), update_vocab=False, show_progress=False)
        searches = {k: lambda k=k: docnos[model.retrieve(query_tokens(), k=k, show_progress=False, n_threads=0)[0]]
                    for k in DEPTHS}
    out["build_peak_mb"] = status_mb("VmHWM")
    out["build_above_start_mb"] = out["build_peak_mb"] - start_mb
    out["native_child_peak_mb"] = children_peak_mb() if system == "pisa" else None
    for k in DEPTHS:
        out[f"qps@{k}"] = best_qps(searches[k], len(topics))
    out["peak_mb"] = status_mb("VmHWM")
    return out


def child_docstore(folder: str) -> dict:
    import pandas as pd
    import transformers_ir as tir
    ds = tir.load_dataset(folder)
    ds.fingerprint()
    start_mb = reset_peak()
    started = time.perf_counter()
    store = ds.docstore()
    out = {"build_seconds": time.perf_counter() - started, "size_mb": store.path.stat().st_size / 2**20,
           "build_above_start_mb": status_mb("VmHWM") - start_mb}
    n = len(store)
    rng = np.random.default_rng(0)
    results = pd.DataFrame({"qid": np.repeat([f"q{i}" for i in range(1000)], 10),
                            "docno": [f"p{i}" for i in rng.integers(0, n, 10_000)]})
    loader = ds.text_loader()
    out["lookups_per_second"] = best_qps(lambda: loader.transform(results), len(results), reps=3)
    out["peak_mb"] = status_mb("VmHWM")
    return out


def synthetic_vectors(path: Path, count: int, seed: int = 0) -> None:
    """``count`` float16 unit vectors: a seeded mixture of ``CLUSTERS`` Gaussian clusters (written in blocks)."""
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((CLUSTERS, DIMS)).astype(np.float32)
    centers /= np.linalg.norm(centers, axis=1, keepdims=True)
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float16, shape=(count, DIMS))
    for first in range(0, count, 100_000):
        n = min(100_000, count - first)
        x = centers[rng.integers(0, CLUSTERS, n)] + rng.standard_normal((n, DIMS), np.float32) / math.sqrt(DIMS)
        out[first:first + n] = x / np.linalg.norm(x, axis=1, keepdims=True)
    out.flush()


def child_faiss(count: int, folder: str) -> dict:
    import faiss
    from transformers_ir.core.index_folder import write_manifest
    from transformers_ir.dense import DenseIndex
    faiss.omp_set_num_threads(1)
    root = Path(folder)
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    synthetic_vectors(root / "vectors.f16.npy", count)
    (root / "docnos.txt").write_text("".join(f"p{i}\n" for i in range(count)))
    write_manifest(root, {"type": "dense", "doc_count": count, "dims": DIMS, "indexes": {},
                          "vectors": "synthetic: a mixture of Gaussian clusters, not encoded text"})
    index = DenseIndex(root)
    vectors = index.vectors()
    rng = np.random.default_rng(1)
    queries = vectors[np.sort(rng.choice(count, 1000, replace=False))].astype(np.float32)
    queries += rng.standard_normal(queries.shape, np.float32) * (0.5 / math.sqrt(DIMS))
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    out, truth = {"vectors_mb": (root / "vectors.f16.npy").stat().st_size / 2**20}, None
    for index_type in FAISS_TYPES:
        start_mb = reset_peak()
        started = time.perf_counter()
        index._build_faiss(index_type)
        seconds = time.perf_counter() - started
        built = index.faiss(index_type)
        _, ids = built.search(queries, 10)
        truth = ids if truth is None else truth
        recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(ids, truth)])
        out[index_type] = {"factory": index.manifest["indexes"][index_type]["factory"], "build_seconds": seconds,
                           "size_mb": index.manifest["indexes"][index_type]["size_bytes"] / 2**20,
                           "build_above_start_mb": status_mb("VmHWM") - start_mb,
                           "qps@10": best_qps(lambda b=built: b.search(queries, 10), len(queries)),
                           "recall@10": float(recall)}
        index._faiss.pop(index_type, None)
        del built
    shutil.rmtree(root, ignore_errors=True)
    return out


def child_encode(mode: str, folder: str) -> dict:
    """Encode SciFact into a DenseIndex at ``folder``: ``local`` here, ``rayN`` on N local Ray workers."""
    import transformers_ir as tir
    from transformers_ir.dense import DenseIndex
    from transformers_ir.encoders import TextEncoder
    ds = tir.load_dataset("scifact")
    ds.fingerprint()
    shutil.rmtree(folder, ignore_errors=True)
    out = {}
    if mode == "local":
        started = time.perf_counter()
        DenseIndex(folder).build(ds, TextEncoder(show_progress=False), ())
        out["seconds"] = time.perf_counter() - started
        msmarco = [json.loads(line)["text"] for line in open(Path(os.environ["TIR_DATA_PATH"].split(os.pathsep)[0])
                                                             / "msmarco-dl19-subset" / "corpus.jsonl")][:2000]
        encoder = TextEncoder(show_progress=False)
        encoder.encode(msmarco[:64])
        started = time.perf_counter()
        encoder.encode(msmarco)
        out["msmarco_docs_per_second"] = len(msmarco) / (time.perf_counter() - started)
    else:
        import ray
        workers = int(mode.removeprefix("ray"))
        started = time.perf_counter()
        ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False,
                 runtime_env={"env_vars": {"TIR_TORCH_THREADS": "1", "HF_HUB_OFFLINE": "1"}})
        out["ray_init_seconds"] = time.perf_counter() - started
        with tir.build_options(executor="ray", shard_size=RAY_SHARD, num_cpus=1):
            started = time.perf_counter()
            DenseIndex(folder).build(ds, TextEncoder(show_progress=False), ())
            out["seconds"] = time.perf_counter() - started
        ray.shutdown()
    out["docs"] = DenseIndex(folder).manifest["doc_count"]
    out["build"] = DenseIndex(folder).manifest["build"]
    return out


def run_child(argv: list[str]) -> None:
    kind = argv[0]
    if kind == "bm25":
        result = child_bm25(argv[1], argv[2])
    elif kind == "docstore":
        result = child_docstore(argv[1])
    elif kind == "faiss":
        result = child_faiss(int(argv[1]), argv[2])
    else:
        result = child_encode(argv[1], argv[2])
    print("RESULT " + json.dumps(result), flush=True)


# --- the parent: children, resumable results, the report -----------------------------------------------------------

def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class Results:
    """Measurements by key, saved after each one (a re-run skips what is there)."""

    def __init__(self, path: Path):
        self.path = path
        self.data = json.loads(path.read_text()) if path.exists() else {}

    def measure(self, key: str, argv: list[str], env: dict[str, str]) -> dict:
        if key in self.data:
            return self.data[key]
        progress(f"{key} ...")
        started = time.perf_counter()
        try:
            done = subprocess.run([sys.executable, __file__, "--child", *argv], capture_output=True, text=True,
                                  env={**os.environ, **env}, timeout=CHILD_TIMEOUT)
            line = next((l for l in done.stdout.splitlines() if l.startswith("RESULT ")), None)
            result = (json.loads(line.removeprefix("RESULT ")) if line else
                      {"error": f"exit code {done.returncode}: {done.stderr.strip().splitlines()[-1:]}"})
        except subprocess.TimeoutExpired:
            result = {"error": f"did not finish in {CHILD_TIMEOUT / 3600:.0f} h"}
        result["wall_seconds"] = time.perf_counter() - started
        progress(f"{key}: {json.dumps(result)[:300]}")
        self.data[key] = result
        self.path.write_text(json.dumps(self.data, indent=1))
        return result


def collection(work: Path, size: int) -> Path:
    from transformers_ir.data.synthetic import write_synthetic_collection
    folder = work / f"msmarco-like-{size}"
    if not (folder / "topics.tsv").exists():
        progress(f"writing {size:,} synthetic passages")
        write_synthetic_collection(folder, size)
    return folder


def measure_all(work: Path, sizes: list[int], parts: list[str], results: Results) -> None:
    for size in sizes:
        folder = collection(work, size)
        if "bm25" in parts:
            for system in SYSTEMS:
                cache = work / f"cache-{system}-{size}"
                results.measure(f"bm25/{system}/{size}", ["bm25", system, str(folder)], {"TIR_CACHE_DIR": str(cache)})
                shutil.rmtree(cache, ignore_errors=True)
        if "docstore" in parts:
            cache = work / f"cache-docstore-{size}"
            results.measure(f"docstore/{size}", ["docstore", str(folder)], {"TIR_CACHE_DIR": str(cache)})
            shutil.rmtree(cache, ignore_errors=True)
        if "faiss" in parts:
            results.measure(f"faiss/{size}", ["faiss", str(size), str(work / f"faiss-{size}")], {})
    if "encode" in parts:
        for mode in ("local", "ray1", "ray2"):
            results.measure(f"encode/{mode}", ["encode", mode, str(work / f"scifact-{mode}")],
                            {"TIR_CACHE_DIR": str(work / "cache-encode")})


# --- report --------------------------------------------------------------------------------------------------------

def fit(sizes: list[int], values: list[float]) -> tuple[float, float]:
    """Exponent ``b`` and the value at MS MARCO's size of the least-squares fit ``value = a * size ** b``."""
    b, log_a = np.polyfit(np.log(sizes), np.log(values), 1)
    return float(b), float(math.exp(log_a) * MSMARCO ** b)


def gb(mb: float) -> str:
    return f"{mb / 1024:.1f} GB" if mb >= 1024 else f"{mb:.0f} MB"


def duration(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.1f} min" if seconds >= 60 \
        else f"{seconds:.1f} s"


def table(header: list[str], rows: list[list]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + \
        ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]


def bm25_section(data: dict, sizes: list[int]) -> list[str]:
    rows = []
    for size in sizes:
        for system, label in SYSTEMS.items():
            r = data.get(f"bm25/{system}/{size}")
            if r is None:
                continue
            if "error" in r:
                rows.append([f"{size:,}", label, f"failed: {r['error']}", "", "", "", "", ""])
                continue
            native = f" (indexer {gb(r['native_child_peak_mb'])})" if r.get("native_child_peak_mb") else ""
            searched = (f" ({r['index_mb'] - r['intermediate_mb']:.0f} searched)" if "intermediate_mb" in r else "")
            rows.append([f"{size:,}", label, f"{r['build_seconds']:.1f}", f"{r['index_mb']:.0f}{searched}",
                         f"{r['build_peak_mb']:.0f}{native}", f"{r['build_above_start_mb']:.0f}",
                         f"{r['qps@10']:,.0f}", f"{r['qps@1000']:,.0f}"])
    return ["## 1. BM25 indexing and retrieval", "",
            *table(["passages", "system", "build s", "index MB", "peak RSS MB", "above start MB", "qps @10",
                    "qps @1000"], rows), "",
            "PISA's build time includes its compression on first open (`BM25.prepare()`); its index folder also "
            "keeps the uncompressed forward and inverted files it was compressed from (in brackets: the files "
            "retrieval reads: compressed postings, block-max scores, lexicons). Its text indexer runs in a child "
            "process fed through a pipe (its peak in brackets: PISA inverts 100,000 documents per batch). "
            "Lucene runs in the JVM inside the Python process (the JVM's heap is in its RSS). bm25s holds every "
            "document's token ids in memory while indexing (its way of working).", ""]


def docstore_section(data: dict, sizes: list[int]) -> list[str]:
    rows = [[f"{s:,}", f"{r['build_seconds']:.1f}", f"{r['size_mb']:.0f}", f"{r['build_above_start_mb']:.0f}",
             f"{r['lookups_per_second']:,.0f}"]
            for s in sizes if (r := data.get(f"docstore/{s}")) and "error" not in r]
    return ["## 2. Docstore and TextLoader", "",
            *table(["passages", "build s", "size MB", "build RSS above start MB", "TextLoader docs/s"], rows), "",
            "Lookups: the text of 10,000 random passages for 1,000 queries (a `% 10` run) in one `TextLoader` call; "
            "best of 3.", ""]


def faiss_section(data: dict, sizes: list[int]) -> list[str]:
    rows = []
    for size in sizes:
        r = data.get(f"faiss/{size}")
        if not r:
            continue
        if "error" in r:
            rows.append([f"{size:,}", f"failed: {r['error']}", "", "", "", "", "", ""])
            continue
        for t in FAISS_TYPES:
            x = r[t]
            rows.append([f"{size:,}", t, x["factory"], f"{x['build_seconds']:.1f}", f"{x['size_mb']:.0f}",
                         f"{x['build_above_start_mb']:.0f}", f"{x['qps@10']:,.0f}", f"{x['recall@10']:.3f}"])
    return ["## 3. FAISS on float16 vectors", "",
            f"Vectors: {DIMS}-dim, **synthetic** (a seeded mixture of {CLUSTERS:,} Gaussian clusters on the unit "
            "sphere, stored float16 as `DenseIndex` stores them), not encoded text; queries: 1,000 corpus vectors "
            "perturbed by noise. One FAISS thread. Recall@10 is against flat (exact) search. The float16 vectors "
            "file is 0.73 KB per passage.", "",
            *table(["vectors", "index", "factory", "build s", "size MB", "build RSS above start MB", "qps @10",
                    "recall@10"], rows), ""]


def growth_section(data: dict, sizes: list[int]) -> list[str]:
    measured = [s for s in SIZES if s in sizes]
    if len(measured) < 2:
        return []
    series: list[tuple[str, str, list[float], str]] = []
    for system, label in SYSTEMS.items():
        runs = [data.get(f"bm25/{system}/{s}") for s in measured]
        if all(r and "error" not in r for r in runs):
            series += [(label, "build time", [r["build_seconds"] for r in runs], "s"),
                       (label, "index size", [r["index_mb"] for r in runs], "MB"),
                       *([(label, "searched index size", [r["index_mb"] - r["intermediate_mb"] for r in runs], "MB")]
                         if all("intermediate_mb" in r for r in runs) else []),
                       (label, "peak RSS above start", [max(r["build_above_start_mb"], 1) for r in runs], "MB"),
                       (label, "seconds per query @10", [1 / r["qps@10"] for r in runs], "q"),
                       (label, "seconds per query @1000", [1 / r["qps@1000"] for r in runs], "q")]
    stores = [data.get(f"docstore/{s}") for s in measured]
    if all(r and "error" not in r for r in stores):
        series += [("docstore", "build time", [r["build_seconds"] for r in stores], "s"),
                   ("docstore", "size", [r["size_mb"] for r in stores], "MB")]
    vectors = [data.get(f"faiss/{s}") for s in measured]
    if all(r and "error" not in r for r in vectors):
        for t in FAISS_TYPES:
            series += [(f"FAISS {t}", "build time", [r[t]["build_seconds"] for r in vectors], "s"),
                       (f"FAISS {t}", "index size", [r[t]["size_mb"] for r in vectors], "MB"),
                       (f"FAISS {t}", "seconds per query @10", [1 / r[t]["qps@10"] for r in vectors], "q")]
    rows, fitted = [], {}
    for label, what, values, unit in series:
        exponent, at_target = fit(measured, values)
        fitted[(label, what)] = at_target
        shown = [duration(v) if unit == "s" else gb(v) if unit == "MB" else f"{v * 1000:.2f} ms" for v in values]
        target = (duration(at_target) if unit == "s" else gb(at_target) if unit == "MB"
                  else f"{at_target * 1000:.2f} ms ({1 / at_target:,.0f} qps)")
        rows.append([label, what, *shown, f"{exponent:.2f}", target])
    return ["## 4. Growth and extrapolation to MS MARCO (8,841,823 passages)", "",
            "Exponent: slope of log(cost) against log(passages) over the measured sizes (1 = linear); the last "
            "column extends that power law to 8.8M passages (an extrapolation over almost one decade, from "
            "synthetic text: read it as an order of magnitude).", "",
            *table(["system", "cost", *[f"{s:,}" for s in measured], "exponent", "at 8.8M (fitted)"], rows), "",
            *implications(data, fitted, measured[-1])]


def implications(data: dict, fitted: dict, largest: int) -> list[str]:
    """What the fitted costs at 8.8M passages mean on this machine (2 cores, ``MACHINE_GB`` GB)."""
    def verdict(mb: float) -> str:
        return "fits" if mb < 0.75 * MACHINE_GB * 1024 else "does NOT fit"

    lines = [f"### What that means for this machine ({os.cpu_count()} cores, {MACHINE_GB} GB)", ""]
    for system, label in SYSTEMS.items():
        if (label, "build time") not in fitted:
            continue
        run = data[f"bm25/{system}/{largest}"]
        peak = run["build_peak_mb"] - run["build_above_start_mb"] + fitted[(label, "peak RSS above start")]
        native = (f"; PISA's indexer process stays near its {gb(run['native_child_peak_mb'])} at {largest:,} "
                  f"(it inverts 100,000 documents per batch)" if run.get("native_child_peak_mb") else "")
        searched = ((f" ({gb(fitted[(label, 'searched index size')])} of it read by retrieval)")
                    if (label, "searched index size") in fitted else "")
        lines.append(f"- **{label}**: an 8.8M-passage index takes about {duration(fitted[(label, 'build time')])} "
                     f"to build on one core and {gb(fitted[(label, 'index size')])} on disk{searched}; peak RSS about "
                     f"{gb(peak)} ({verdict(peak)} in {MACHINE_GB} GB{native}); "
                     f"{1 / fitted[(label, 'seconds per query @10')]:,.0f} qps @10 and "
                     f"{1 / fitted[(label, 'seconds per query @1000')]:,.0f} qps @1000 per core.")
    if ("docstore", "size") in fitted:
        lines.append(f"- **Docstore**: about {gb(fitted[('docstore', 'size')])} of SQLite, built in "
                     f"{duration(fitted[('docstore', 'build time')])}, with memory that does not hold the corpus.")
    for t in FAISS_TYPES:
        if (f"FAISS {t}", "index size") in fitted:
            size = fitted[(f"FAISS {t}", "index size")]
            lines.append(f"- **FAISS {t}** over 8.8M 384-dim vectors: about {gb(size)} held in memory to search "
                         f"({verdict(size)}), built in {duration(fitted[(f'FAISS {t}', 'build time')])} on one "
                         f"thread, {1 / fitted[(f'FAISS {t}', 'seconds per query @10')]:,.0f} qps @10 per core; "
                         f"the float16 vectors file (`DenseIndex`) is {gb(MSMARCO * DIMS * 2 / 2**20)} on disk, "
                         "memory-mapped.")
    encode = data.get("encode/local")
    if encode and "error" not in encode:
        hours = MSMARCO / encode["msmarco_docs_per_second"] / 3600
        lines.append(f"- **Encoding** MS MARCO with MiniLM: about {hours:.0f} core-hours, so about {hours / 2:.0f} h "
                     "on both cores here — the point where the shards go to a Ray cluster (section 5).")
    return lines + [""]


def encode_section(data: dict) -> list[str]:
    local, runs = data.get("encode/local"), {m: data.get(f"encode/{m}") for m in ("ray1", "ray2")}
    if not local or "error" in local:
        return ["## 5. Encoding on Ray", "", f"not measured: {local}", ""]
    equality = data.get("encode/equality", {})
    rows = [["this process (1 thread)", "-", f"{local['seconds']:.1f}", f"{local['docs'] / local['seconds']:.1f}",
             "1.00", "reference", "reference", f"{equality.get('local', {}).get('ndcg10', float('nan')):.4f}"]]
    for mode, r in runs.items():
        if not r or "error" in r:
            rows.append([mode, "", f"failed: {r and r.get('error')}", "", "", "", "", ""])
            continue
        e = equality.get(mode, {})
        rows.append([f"Ray, {mode[3:]} worker(s) x 1 thread", f"{r['ray_init_seconds']:.1f}", f"{r['seconds']:.1f}",
                     f"{r['docs'] / r['seconds']:.1f}", f"{local['seconds'] / r['seconds']:.2f}",
                     f"{e.get('max_abs_diff', float('nan')):.1e} (docnos {'same' if e.get('docnos') else 'DIFFER'})",
                     f"{e.get('same_top10', 0)}/{e.get('queries', 0)}", f"{e.get('ndcg10', float('nan')):.4f}"])
    rate = local["msmarco_docs_per_second"]
    return ["## 5. Corpus encoding on Ray: SciFact with all-MiniLM-L6-v2", "",
            f"5,183 documents (title + text, up to 256 tokens), `DenseIndex.build`; on Ray in shards of {RAY_SHARD} "
            "(`tir.build_options(executor=\"ray\", shard_size=500)`) on a local `ray.init(num_cpus=N)`, one torch "
            "thread per worker. Build seconds exclude starting Ray (its own column) and include each worker "
            "loading the model. Equality: largest absolute difference of any float16 vector component from the "
            "single-process index, top-10 identical for how many SciFact test queries (flat), and nDCG@10 "
            "(MTEB reference 0.6451).", "",
            *table(["where", "Ray start s", "build s", "docs/s", "speed-up", "max |vector diff|",
                    "same top-10", "nDCG@10"], rows), "",
            f"MiniLM on 2,000 real MS MARCO passages (msmarco-dl19-subset), one thread: {rate:.0f} passages/s, "
            f"so MS MARCO's 8.8M passages take {MSMARCO / rate / 3600:.0f} core-hours "
            f"({MSMARCO / rate / 3600 / 2:.0f} h on this machine's 2 cores; "
            f"{MSMARCO / rate / 3600 / 32:.1f} h on a 32-core Ray cluster at the same per-core rate).", ""]


def equality(work: Path, data: dict) -> dict:
    """Compare the Ray-built SciFact indexes with the single-process one (docnos, vectors, top-10, nDCG@10)."""
    import ir_measures
    import pandas as pd
    import transformers_ir as tir
    from transformers_ir.dense import DenseIndex
    from transformers_ir.encoders import TextEncoder
    ds = tir.load_dataset("scifact")
    topics, qrels = ds.topics("test"), ds.qrels("test")
    queries = TextEncoder(show_progress=False).encode(topics["query"].tolist())
    out, reference = {}, None
    for mode in ("local", "ray1", "ray2"):
        folder = work / f"scifact-{mode}"
        if not (folder / "manifest.json").exists():
            continue
        index = DenseIndex(folder).build(ds, TextEncoder(show_progress=False), ("flat",))
        scores, ids = index.faiss("flat").search(queries, 10)
        docnos = index.docnos()[ids]
        run = pd.DataFrame({"query_id": np.repeat(topics["qid"].to_numpy(), 10), "doc_id": docnos.ravel(),
                            "score": scores.ravel().astype(float)})
        qrels_ir = qrels.rename(columns={"qid": "query_id", "docno": "doc_id", "label": "relevance"})
        row = {"ndcg10": ir_measures.calc_aggregate([ir_measures.nDCG @ 10], qrels_ir, run)[ir_measures.nDCG @ 10]}
        if reference is None:
            reference = (index, docnos)
        else:
            row.update(docnos=list(index.docnos()) == list(reference[0].docnos()),
                       max_abs_diff=float(np.abs(index.vectors().astype(np.float32) - reference[0].vectors()).max()),
                       same_top10=int((docnos == reference[1]).all(axis=1).sum()), queries=len(topics))
        out[mode] = row
    return out


def machine_lines(started: str) -> list[str]:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = next((l.split(":", 1)[1].strip() for l in cpuinfo.splitlines() if l.startswith("model name")), "?")
    memory = int(next(l for l in Path("/proc/meminfo").read_text().splitlines() if l.startswith("MemTotal"))
                 .split()[1]) / 2**20
    import faiss
    import pyterrier_pisa
    import ray
    import bm25s
    return [f"- CPU: {model}, {os.cpu_count()} cores (shared with other jobs), {memory:.0f} GB memory",
            f"- Python {platform.python_version()}; pyterrier_pisa {pyterrier_pisa.__version__}, bm25s "
            f"{bm25s.__version__}, faiss {faiss.__version__}, ray {ray.__version__}, numpy {np.__version__}",
            f"- Started {started}; load average when the report was written: "
            f"{' / '.join(f'{v:.2f}' for v in os.getloadavg())} (1 / 5 / 15 min)"]


def write_report(data: dict, sizes: list[int], started: str) -> None:
    lines = ["# Scale: MS MARCO-size collections on one machine, and corpus encoding on Ray", "",
             f"Reproduce (from the repository root; results kept in `$TIR_BENCH_DIR`, resumable): `{COMMAND}`", "",
             "Generated by `experiments/bench_scale.py` (its docstring says what is measured and how). Synthetic "
             "collection: `transformers_ir.data.synthetic.write_synthetic_collection` (made-up words, Zipf "
             "exponent 1.04, passage length log-normal with mean 59.6 / median 52 words, 1,000 queries of mean "
             "5.9 words, fitted on the MS MARCO texts in ../shared/data). k1=0.9, b=0.4; one thread per system.",
             "", "## Machine", *machine_lines(started), "",
             *bm25_section(data, sizes), *docstore_section(data, sizes), *faiss_section(data, sizes),
             *growth_section(data, sizes), *encode_section(data), *data.get("notes", [])]
    REPORT.write_text("\n".join(lines) + "\n")
    progress(f"wrote {REPORT}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument("--parts", default="bm25,docstore,faiss,encode")
    parser.add_argument("--work", default=os.environ.get("TIR_BENCH_DIR", "/tmp/tir-bench-scale"))
    args = parser.parse_args(argv)
    if args.child:
        run_child(args.child)
        return
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    results = Results(work / "results.json")
    started = results.data.setdefault("started", time.strftime("%Y-%m-%d %H:%M:%S %z"))
    sizes, parts = [int(s) for s in args.sizes.split(",")], args.parts.split(",")
    measure_all(work, sizes, parts, results)
    if "encode" in parts:
        results.data["encode/equality"] = equality(work, results.data)
        results.path.write_text(json.dumps(results.data, indent=1))
    write_report(results.data, sizes, started)


if __name__ == "__main__":
    main()
