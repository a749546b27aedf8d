"""SPLADE encoding speed on SciFact documents: our SpladeEncoder (float32, and bf16 projection) against
sentence-transformers' SparseEncoder.encode_document on the same texts and the same checkpoint (splade-tiny), with
the vectors compared. Writes experiments/bench_splade_encode.md.

    TIR_TORCH_THREADS=1 HF_HUB_OFFLINE=1 TIR_DATA_PATH=../shared/data .venv/bin/python \
        experiments/bench_splade_encode.py [--documents 512] [--repeats 3] [--max-length 256]

Each repeat runs the three variants back to back (interleaved), so a slowdown from other jobs hits all of them;
the table gives the median of the repeats. Vectors: max absolute difference to SparseEncoder's over all
vocabulary dimensions, and whether the non-zero dimensions are the same.
"""
from __future__ import annotations

import argparse
import itertools
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import torch

import transformers_ir as tir
from transformers_ir.encoders import SPLADE_TINY_NAME
from transformers_ir.data import document_text
from transformers_ir.sparse.splade_encoder import SpladeEncoder


def dense(pooled: list[tuple[np.ndarray, np.ndarray]], dimension: int) -> torch.Tensor:
    out = torch.zeros(len(pooled), dimension)
    for row, (ids, weights) in enumerate(pooled):
        out[row, torch.as_tensor(ids, dtype=torch.long)] = torch.as_tensor(weights)
    return out


def timed(run) -> tuple[float, object]:
    start = time.perf_counter()
    output = run()
    return time.perf_counter() - start, output


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--documents", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--output", default=str(Path(__file__).with_suffix(".md")))
    args = parser.parse_args()

    texts = [document_text(d) for d in itertools.islice(tir.load_dataset("scifact").corpus_iter(), args.documents)]
    fp32 = SpladeEncoder(SPLADE_TINY_NAME, max_length=args.max_length, batch_size=args.batch_size)
    bf16 = SpladeEncoder(SPLADE_TINY_NAME, max_length=args.max_length, batch_size=args.batch_size, bf16=True)
    reference = fp32.model  # sentence-transformers' SparseEncoder (Transformer fill-mask + SpladePooling max)
    lengths = [len(ids) for ids in reference.tokenizer(texts, truncation=False)["input_ids"]]
    dimension = len(fp32._vocab[0])
    variants = {
        "SparseEncoder.encode_document": lambda: reference.encode_document(
            texts, batch_size=args.batch_size, convert_to_tensor=True).to_dense(),
        "SpladeEncoder float32": lambda: dense(fp32._pooled(texts, True), dimension),
        "SpladeEncoder bf16": lambda: dense(bf16._pooled(texts, True), dimension),
    }
    seconds: dict[str, list[float]] = {name: [] for name in variants}
    vectors: dict[str, torch.Tensor] = {}
    load = os.getloadavg()[0]
    for _ in range(args.repeats):
        for name, run in variants.items():
            took, vectors[name] = timed(run)
            seconds[name].append(took)

    base = statistics.median(seconds["SparseEncoder.encode_document"])
    theirs = vectors["SparseEncoder.encode_document"]
    rows = []
    for name in variants:
        median = statistics.median(seconds[name])
        diff = (vectors[name] - theirs).abs().max().item()
        same = bool(torch.equal(vectors[name] > 0, theirs > 0))
        rows.append(f"| {name} | {args.documents / median:.1f} docs/s | {median:.1f} s "
                    f"({', '.join(f'{s:.1f}' for s in seconds[name])}) | {base / median:.2f}x | {diff:.1e} | "
                    f"{'yes' if same else 'NO'} |")
    nonzeros = (theirs > 0).sum(dim=1).float()
    command = ("TIR_TORCH_THREADS=1 HF_HUB_OFFLINE=1 TIR_DATA_PATH=../shared/data .venv/bin/python "
               f"experiments/bench_splade_encode.py --documents {args.documents} --repeats {args.repeats} "
               f"--max-length {args.max_length}")
    report = "\n".join([
        "# SPLADE encoding speed: SpladeEncoder vs SparseEncoder.encode_document (splade-tiny, SciFact)", "",
        f"`{command}`", "",
        f"on {time.strftime('%Y-%m-%d %H:%M')}: {platform.machine()}, {os.cpu_count()} CPUs, torch "
        f"{torch.__version__} with {torch.get_num_threads()} thread(s); load average at start {load:.2f} (other "
        f"sessions share this machine; variants interleaved, median of {args.repeats} repeats). "
        f"{args.documents} SciFact documents (title + text), {min(lengths)}-{max(lengths)} tokens before truncation "
        f"to {args.max_length} (median {int(np.median(lengths))}); batch size {args.batch_size}; "
        f"{nonzeros.mean():.0f} non-zero terms per document on average.", "",
        "| encoder | throughput | time (each repeat) | speed-up vs SparseEncoder | max abs diff to SparseEncoder | "
        "same non-zero terms |",
        "|---|---|---|---|---|---|", *rows, "",
        "SparseEncoder computes the vocabulary logits (30,522 per token) at every position of the padded batch, then "
        "masks, applies log(1 + relu) and max-pools. SpladeEncoder batches texts by token length, runs the masked "
        "LM's body on the batch, keeps the non-padding positions only, and per text takes the max over positions "
        "chunk by chunk of the vocabulary (the text's logits never exist all at once) before log(1 + relu) of the "
        "pooled vector (equal, as the transform is monotone). bf16: the projection runs in bfloat16 to find each "
        "text's candidate terms (pooled bf16 logit + a rigorous rounding-error bound > 0) whose weights are then "
        "recomputed in float32, so its vectors are the float32 ones.", ""])
    Path(args.output).write_text(report)
    print(report)


if __name__ == "__main__":
    main()
