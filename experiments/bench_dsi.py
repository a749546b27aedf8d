"""DSI on ADI: training examples/s with the encoder frozen (cached outputs) vs trained, beam-10 generation queries/s
(batch 1 and batched) beside BM25 and Dense on the same queries, memory, and DSI++ (adding documents) with and
without replay. Writes experiments/bench_dsi.md.

Everything is built in a private, temporary TIR_CACHE_DIR (nothing stale is reused; removed at the end).

    HF_HUB_OFFLINE=1 TIR_DATA_PATH=../shared/data .venv/bin/python experiments/bench_dsi.py [--epochs 1 --repeats 2]
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import resource
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

HELD_OUT = ["78", "79", "80", "81", "82"]  # ADI's last documents: left out of the DSI++ base model, then added
# the budget tests/test_dsi.py trains ADI with (reaches Hits@1 >= 0.95 on ADI's documents)
SMALL_BUDGET = {"max_length": 32, "spans_per_doc": 1, "pseudo_queries_per_doc": 1, "epochs": 25,
                "target_accuracy": 0.97}
TIMES = {"cache": 0.0, "eval": 0.0}  # seconds inside train_dsi spent building the encoder cache / evaluating


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def folder_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())


def ndcg10(run, qrels) -> float:
    import ir_measures
    qrels = qrels.rename(columns={"qid": "query_id", "docno": "doc_id", "label": "relevance"})
    run = run.rename(columns={"qid": "query_id", "docno": "doc_id"})
    return ir_measures.calc_aggregate([ir_measures.nDCG @ 10], qrels, run)[ir_measures.nDCG @ 10]


def instrument_training() -> None:
    """Time the encoder cache build and the per-epoch Hits@1 evaluation inside ``train_dsi`` (module globals)."""
    from transformers_ir.generative import training

    class TimedCache(training._EncoderCache):
        def __init__(self, *args, **kwargs):
            start = time.perf_counter()
            super().__init__(*args, **kwargs)
            TIMES["cache"] += time.perf_counter() - start

    accuracy = training.indexing_accuracy

    def timed_accuracy(*args, **kwargs):
        start = time.perf_counter()
        try:
            return accuracy(*args, **kwargs)
        finally:
            TIMES["eval"] += time.perf_counter() - start

    training._EncoderCache, training.indexing_accuracy = TimedCache, timed_accuracy


def train_run(freeze: bool, mapping, examples, config) -> dict:
    """One ``train_dsi`` from a fresh model (same seed): wall time split into cache build, evaluation and steps."""
    from transformers_ir.generative import DocidModel, train_dsi
    model = DocidModel.create(None, mapping.num_symbols, 2, config.seed)
    total_params = sum(p.numel() for p in model.model.parameters())
    trainable = sum(p.numel() for p in model.model.get_decoder().parameters()) if freeze else total_params
    TIMES.update(cache=0.0, eval=0.0)
    start = time.perf_counter()
    stats = train_dsi(model, mapping, examples, dataclasses.replace(config, freeze_encoder=freeze), "cpu")
    wall = time.perf_counter() - start
    trained = stats["epochs"] * stats["examples_per_epoch"]
    steps = wall - TIMES["cache"] - TIMES["eval"]  # also holds model.to(), the trie and the label setup (ms)
    return {"freeze": freeze, "trained": trained, "per_epoch": stats["examples_per_epoch"], "wall": wall,
            "cache": TIMES["cache"], "eval": TIMES["eval"], "steps": steps, "rate_wall": trained / wall,
            "rate_with_cache": trained / (wall - TIMES["eval"]), "rate_steps": trained / steps,
            "cached": stats["encoder_cached"], "loss": stats["loss"],
            "trainable": trainable, "params": total_params, "peak_rss": peak_rss_mib()}


def timed_qps(stage, topics, batch_one: bool) -> tuple[float, object]:
    """Queries/s of ``stage`` over ``topics``: one ``transform`` per query, or all in one call."""
    start = time.perf_counter()
    if batch_one:
        out = [stage.transform(topics.iloc[[i]]) for i in range(len(topics))]
    else:
        out = stage.transform(topics)
    return len(topics) / (time.perf_counter() - start), out


def adi_subset(adi, root: Path):
    """ADI without the HELD_OUT documents, with all topics and qrels, as a dataset folder (as tests/test_dsi.py)."""
    from transformers_ir.data import write_folder
    return write_folder(root, [d for d in adi.corpus_iter() if d["docno"] not in HELD_OUT], adi.topics(), adi.qrels())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=1, help="epochs per training-throughput run")
    parser.add_argument("--repeats", type=int, default=2, help="interleaved timed runs per variant (best kept)")
    parser.add_argument("--replay-epochs", type=int, default=15, help="DSI++ epochs on the added documents")
    parser.add_argument("--output", default=str(Path(__file__).with_suffix(".md")))
    args = parser.parse_args()
    began = time.perf_counter()
    cache_dir = Path(tempfile.mkdtemp(prefix="bench-dsi-cache-"))
    os.environ["TIR_CACHE_DIR"] = str(cache_dir)
    os.environ.setdefault("TQDM_DISABLE", "1")
    warnings.filterwarnings("ignore")
    import numpy as np
    import torch

    import transformers_ir as tir
    from transformers_ir.encoders import choose_device
    from transformers_ir.generative import DSI, TrainingConfig, naive_docids
    from transformers_ir.generative.training import document_examples

    try:
        device = choose_device()  # cpu here; sets torch's threads ($TIR_TORCH_THREADS, else one per core)
        loads = {"start": os.getloadavg()[0]}
        rss = {"start (imports)": peak_rss_mib()}
        adi = tir.load_dataset("adi")
        docs = list(adi.corpus_iter())
        topics, qrels = adi.topics(), adi.qrels()

        # --- 1. training throughput: frozen encoder (cached outputs) vs full encoder, interleaved -------------
        instrument_training()
        config = TrainingConfig(**{**SMALL_BUDGET, "epochs": args.epochs, "target_accuracy": 2.0})  # never stops
        mapping = naive_docids([str(d["docno"]) for d in docs])
        examples = document_examples(docs, config, np.random.default_rng(config.seed))
        runs = {True: [], False: []}
        for _ in range(args.repeats):
            for freeze in (True, False):
                runs[freeze].append(train_run(freeze, mapping, examples, config))
                rss.setdefault(f"after training, {'frozen' if freeze else 'full'} encoder (1st run)",
                               runs[freeze][-1]["peak_rss"])
                print(json.dumps({k: v for k, v in runs[freeze][-1].items() if k != "loss"}), flush=True)
        loads["after training throughput"] = os.getloadavg()[0]
        best = {f: {k: max(r[k] for r in runs[f]) for k in ("rate_wall", "rate_with_cache", "rate_steps")}
                for f in runs}
        first = {f: runs[f][0] for f in runs}

        # --- 2. a DSI trained to Hits@1 >= 0.95 on ADI; generation beside BM25 and Dense ----------------------
        start = time.perf_counter()
        dsi = DSI(adi, docids="naive", **SMALL_BUDGET).prepare()
        dsi_build = time.perf_counter() - start
        manifest = dsi.index.manifest
        dsi_hits = dsi.indexing_accuracy()
        rss["after DSI indexing (training)"] = peak_rss_mib()
        start = time.perf_counter()
        stages = {"DSI (beam 10)": dsi % 10, "BM25 % 10": tir.BM25(adi) % 10, "Dense % 10": tir.Dense(adi) % 10}
        stages = {name: stage.compile() for name, stage in stages.items()}  # fuse % 10 (10 beams / results)
        assert all(stage.num_results == 10 for stage in stages.values())
        for stage in stages.values():  # builds BM25's and Dense's indexes, loads the models; warm-up
            stage.transform(topics.head(2))
        other_builds = time.perf_counter() - start
        rates = {(name, b1): 0.0 for name in stages for b1 in (True, False)}
        results = {}
        for _ in range(args.repeats):  # interleaved
            for name, stage in stages.items():
                for b1 in (True, False):
                    qps, out = timed_qps(stage, topics, b1)
                    rates[name, b1] = max(rates[name, b1], qps)
                    if not b1:
                        results[name] = out
        loads["after generation"] = os.getloadavg()[0]
        rss["after generation / BM25 / Dense"] = peak_rss_mib()
        ndcg = {name: ndcg10(results[name], qrels) for name in stages}
        per_query = results["DSI (beam 10)"].groupby("qid").size()
        model_dir = dsi.index.path / "model"
        dsi_disk, dsi_folder = folder_bytes(model_dir), folder_bytes(dsi.index.path)
        index_sizes = {"BM25 % 10": folder_bytes(stages["BM25 % 10"].index.path),
                       "Dense % 10": folder_bytes(stages["Dense % 10"].index.path)}

        # --- 3. DSI++: add ADI's last 5 documents to a model of the first 77, with and without replay ---------
        base_ds = adi_subset(adi, cache_dir / "adi-77")
        old = [d for d in docs if d["docno"] not in HELD_OUT]
        new = [d for d in docs if d["docno"] in HELD_OUT]
        start = time.perf_counter()
        base = DSI(base_ds, docids="naive", **SMALL_BUDGET).prepare()
        base_build = time.perf_counter() - start
        plus = [{"model": f"77 docs ({base.index.manifest['epochs']} epochs, {base_build:.0f} s)",
                 "old": base.indexing_accuracy(old), "new": float("nan"), "all": float("nan"),
                 "ndcg": ndcg10(base.transform(topics), qrels), "replayed": "-", "seconds": base_build}]
        for replay in (True, False):
            start = time.perf_counter()
            grown = base.add_documents(new, replay=replay, epochs=args.replay_epochs)
            seconds = time.perf_counter() - start
            m = grown.index.manifest
            plus.append({"model": f"+5, {'with' if replay else 'without'} replay ({m['epochs']} epochs, "
                                  f"{seconds:.0f} s)",
                         "old": grown.indexing_accuracy(old), "new": grown.indexing_accuracy(new),
                         "all": grown.indexing_accuracy(), "ndcg": ndcg10(grown.transform(topics), qrels),
                         "replayed": m["replayed_examples"], "seconds": seconds})
            print(json.dumps(plus[-1]), flush=True)
        new_docids = [grown.mapping().docid(d) for d in HELD_OUT]
        loads["end"] = os.getloadavg()[0]
        rss["after DSI++"] = peak_rss_mib()
    finally:
        shutil.rmtree(cache_dir, ignore_errors=True)

    total = time.perf_counter() - began
    f, u = first[True], first[False]
    train_rows = "\n".join(
        f"| {'frozen, cached outputs' if fr else 'full encoder'} | {r['trainable'] / 1e6:.2f} M of "
        f"{r['params'] / 1e6:.2f} M | {r['trained']} | {r['wall']:.1f} | {r['cache']:.1f} | {r['eval']:.1f} "
        f"| {r['steps']:.1f} | {best[fr]['rate_wall']:.1f} | {best[fr]['rate_with_cache']:.1f} "
        f"| {best[fr]['rate_steps']:.1f} | {r['peak_rss']:.0f} |" for fr, r in ((True, f), (False, u)))
    ratio = {k: best[True][k] / best[False][k] for k in best[True]}
    gen_rows = "\n".join(
        f"| {name} | {rates[name, True]:.1f} | {rates[name, False]:.1f} "
        f"| {rates[name, False] / rates[name, True]:.1f}x "
        f"| {rates[name, False] / rates['DSI (beam 10)', False]:.1f}x | {ndcg[name]:.4f} |" for name in stages)
    plus_rows = "\n".join(
        f"| {p['model']} | {p['old']:.3f} | {p['new']:.3f} | {p['all']:.3f} | {p['ndcg']:.4f} | {p['replayed']} |"
        .replace("nan", "-") for p in plus)
    rss_rows = "\n".join(f"| {phase} | {value:.0f} |" for phase, value in rss.items())
    threads_env = f"TIR_TORCH_THREADS={os.environ['TIR_TORCH_THREADS']} " if "TIR_TORCH_THREADS" in os.environ else ""
    load_text = ", ".join(f"{k} {v:.2f}" for k, v in loads.items())
    report = f"""# DSI on ADI: training, generation, memory, DSI++

`{threads_env}HF_HUB_OFFLINE=1 TIR_DATA_PATH=../shared/data .venv/bin/python experiments/bench_dsi.py{''.join(' ' + a for a in sys.argv[1:])}`
on {time.strftime('%Y-%m-%d %H:%M')}: {platform.machine()}, {os.cpu_count()} CPUs, device {device}, torch {torch.__version__}
with {torch.get_num_threads()} threads; 1-minute load average: {load_text} (other jobs may share these cores, so
absolute rates are noisy; variants run interleaved, best of {args.repeats} runs).
Total run time {total / 60:.1f} min. Private TIR_CACHE_DIR (temporary, removed afterwards): every model and index
below was built by this run. Model: bundled all-MiniLM-L6-v2 encoder ({u['params'] / 1e6:.1f} M parameters with the
decoder) under a random 2-layer BERT decoder over docid digits; naive docids (ADI's 82 documents: 2 digits).
Training inputs ({len(examples)}: {', '.join(f'{n} {k}' for k, n in examples['kind'].value_counts().items())}) per
tests/test_dsi.py's budget: max_length 32, 1 span and 1 sentence (pseudo-query) per document, batch 32, lr 1e-3.

## Training throughput ({args.epochs} epochs per run, target_accuracy 2 so no early stop; {f['per_epoch']} examples/epoch)

Wall = the whole `train_dsi` call; it holds the encoder-cache build (frozen only), the per-epoch Hits@1 evaluation
(greedy decoding of the 82 documents; from cached encoder outputs when frozen) and the steps. Times are the first
run's; examples/s are the best of {args.repeats}.

| encoder | trained parameters | examples | wall s | cache build s | eval s | steps s | examples/s (wall) | examples/s incl. cache build, excl. eval | examples/s steps only | peak RSS MiB after |
|---|---|---|---|---|---|---|---|---|---|---|
{train_rows}

Frozen / full: **{ratio['rate_wall']:.2f}x** (wall), **{ratio['rate_with_cache']:.2f}x** (incl. cache build, excl.
eval), **{ratio['rate_steps']:.2f}x** (steps only). The cache build is a one-off per `train_dsi` call
({f['cache']:.1f} s here for {examples['text'].nunique()} distinct inputs), so its share shrinks with epochs.

## Generation: {len(topics)} ADI topics, top 10

DSI: naive docids, trained by `DSI("adi", docids="naive", **SMALL_BUDGET)` (tests/test_dsi.py: max_length 32,
up to 25 epochs, stop at Hits@1 0.97): {manifest['epochs']} epochs, {dsi_build:.0f} s, Hits@1 on the 82 document
texts {dsi_hits:.3f} ({'meets' if dsi_hits >= 0.95 else 'MISSES'} the 0.95 target; training's last check {manifest['indexing_accuracy']:.3f}); beam search with 10 beams
constrained by the docid trie, `% 10`; {per_query.min()}-{per_query.max()} results per query. BM25 (PISA) and Dense
(MiniLM, flat FAISS) indexes built here in {other_builds:.0f} s; warm-up before timing. Batch 1 = one `transform` per
query (35 calls); batched = all 35 in one call (DSI decodes in batches of 32).

| stage | queries/s batch 1 | queries/s batched | batched / batch 1 | batched vs DSI | nDCG@10 |
|---|---|---|---|---|---|
{gen_rows}

## Memory and size

| phase (one process) | peak RSS MiB (ru_maxrss, monotonic) |
|---|---|
{rss_rows}

Current RSS at the end: {rss_mib():.0f} MiB. DSI model on disk: {dsi_disk / 2**20:.1f} MiB (`model/` folder:
safetensors + tokenizer; manifest size_bytes {manifest['size_bytes'] / 2**20:.1f} MiB), {manifest['model_parameters']:,}
parameters ({u['params'] - f['trainable']:,} encoder + {f['trainable']:,} decoder), whole index folder
{dsi_folder / 2**20:.1f} MiB. Beside it: BM25 (PISA)
index {index_sizes['BM25 % 10'] / 2**20:.2f} MiB, Dense flat index {index_sizes['Dense % 10'] / 2**20:.2f} MiB (plus
the shared 22.7 M-parameter MiniLM query encoder).

## DSI++: adding ADI's last 5 documents ({', '.join(HELD_OUT)}) to a model of the first 77

Base: `DSI(adi minus 5, docids="naive", **SMALL_BUDGET)`. `add_documents(new, replay=..., epochs={args.replay_epochs})`:
new docids {new_docids}; training continues at half the learning rate on the new documents' inputs, with replay
mixed with 4x as many of the base model's training examples (sampled). Hits@1 = greedy constrained decoding of the
document's title + text to its own docid (indexing accuracy); nDCG@10 on ADI's 35 topics (82-document qrels).

| model | Hits@1 old 77 | Hits@1 new 5 | Hits@1 all | nDCG@10 | replayed examples |
|---|---|---|---|---|---|
{plus_rows}
"""
    Path(args.output).write_text(report)
    print(report)


if __name__ == "__main__":
    main()
