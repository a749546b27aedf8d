"""Plant bugs that change a number, one at a time, and check that the fast test suite catches each.

A curated list of small patches to the critical modules — BM25 parameters, fingerprints and cache keys, index
identity, significance, MaxSim, linear combinations, table bolding, run writing, ranking, resume keys — each applied
to a fresh copy of the package; the fast suite (``-m "not slow"``, stopping at the first failure, the tests that
pin numbers first) runs against it with an empty cache (a stale cache must not hide a bug). A patch whose text is
no longer in the code is reported STALE (update it), a mutant no test catches SURVIVED.

    TIR_DATA_PATH=../shared/data HF_HUB_OFFLINE=1 TIR_TORCH_THREADS=1 .venv/bin/python experiments/mutation_check.py \\
        [--only ID ...] [--out experiments/mutation_check.md]
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIRST = ["tests/test_parameters.py", "tests/test_kernels.py", "tests/test_stage_contract.py", "tests/test_bm25.py",
         "tests/test_report.py", "tests/test_experiment.py", "tests/test_pt_experiment.py", "tests/test_colbert.py",
         "tests/test_bad_config.py", "tests/test_data.py", "tests/test_rebuild.py", "tests/test_retrievers.py",
         "tests/test_timing.py", "tests/test_shards.py"]


@dataclass(frozen=True)
class Mutant:
    id: str
    what: str
    file: str
    old: str
    new: str


MUTANTS = [
    Mutant("bm25-b", "`b` never reaches PISA (always 0.4)", "transformers_ir/sparse/bm25.py",
           "k1=self.k1, b=self.b, num_results=depth", "k1=self.k1, b=0.4, num_results=depth"),
    Mutant("bm25-k1", "`k1` never reaches PISA (always 0.9)", "transformers_ir/sparse/bm25.py",
           "k1=self.k1, b=self.b, num_results=depth", "k1=0.9, b=self.b, num_results=depth"),
    Mutant("bm25-b-fingerprint", "`b` dropped from BM25's fingerprint (grid points b=0.4 and b=0.75 share a cache "
           "entry)", "transformers_ir/sparse/bm25.py", "    def __new__(cls, *args, backend",
           "    runtime_params = Stage.runtime_params | {\"b\"}\n\n    def __new__(cls, *args, backend"),
    Mutant("corpus-check", "the corpus fingerprint check removed (a changed corpus keeps its stale index)",
           "transformers_ir/sparse/pisa_index.py",
           'key = {"corpus": dataset.fingerprint(), "analyzer": analyzer.as_dict()}',
           'key = {"analyzer": analyzer.as_dict()}'),
    Mutant("maxsim-sum", "ColBERT's MaxSim sums over document tokens instead of taking the max",
           "transformers_ir/rerank/colbert.py", "np.maximum.reduceat(similarities", "np.add.reduceat(similarities"),
    Mutant("operator-floats", "float operator parameters (Fast-Forward's weights) left out of the fingerprint",
           "transformers_ir/core/fingerprint.py", "isinstance(v, (int, float, str, bool))",
           "isinstance(v, (int, str, bool))"),
    Mutant("correction-alpha", "the alpha of the multiple-testing correction ignored (always 0.05)",
           "transformers_ir/experiment/significance.py",
           "multipletests(np.asarray(pvalues, dtype=float), alpha=alpha,",
           "multipletests(np.asarray(pvalues, dtype=float), alpha=0.05,"),
    Mutant("cache-key-input", "the stage cache key ignores the stage's input", "transformers_ir/core/fingerprint.py",
           "return value_sha256([stage_fp, input_fp])", "return value_sha256([stage_fp])"),
    Mutant("run-rank", "run files written with 0-based ranks", "transformers_ir/data/trec.py",
           'ranks = (results["rank"].to_numpy(dtype=np.int64) + 1).tolist()',
           'ranks = results["rank"].to_numpy(dtype=np.int64).tolist()'),
    Mutant("quantise-floor", "impacts truncated instead of rounded", "transformers_ir/sparse/impact_index.py",
           "impact = int(round(float(weight) * scale))", "impact = int(float(weight) * scale)"),
    Mutant("tie-order", "ties at the cutoff broken by ascending docno (not trec_eval's order)",
           "transformers_ir/core/retriever.py", 'order = np.lexsort((-pd.factorize(found["docno"], sort=True)[0], -score, at))',
           'order = np.lexsort((pd.factorize(found["docno"], sort=True)[0], -score, at))'),
    # (Asking the engine for exactly k, without the margin, changes no number: top_k then re-asks deeper for
    # every query, the k-th result being tied with the last found. The margin is a speed-up, so it is not a mutant.)
    Mutant("tie-deeper", "ties at the cutoff that reach past the first search are cut arbitrarily (never re-asked "
           "deeper)", "transformers_ir/core/retriever.py",
           "unresolved = (counts >= depth) & (score[starts + counts - 1] == kth)",
           "unresolved = np.zeros(len(starts), dtype=bool)"),
    Mutant("point-key-cost", "a point's resume key ignores the price", "transformers_ir/runner.py",
           '"cost": [cost.hardware, cost.usd_per_hour],', ""),
    Mutant("strict-ignored", "strict coverage checks ignored", "transformers_ir/experiment/coverage.py",
           "if strict and not found.complete:", "if False:"),
    Mutant("duplicate-docnos", "duplicate docnos accepted", "transformers_ir/data/corpus.py",
           "for i in np.flatnonzero(hashes[order][1:] == hashes[order][:-1]):", "for i in []:"),
    Mutant("runtime-params", "a model's max_length treated as a runtime parameter (out of fingerprints)",
           "transformers_ir/core/stage.py", '"verbose"})', '"verbose", "max_length"})'),
    Mutant("dense-score", "DenseScorer scores with the first query's vector for every query",
           "transformers_ir/dense/scorer.py", "query_vectors[which]", "query_vectors[which * 0]"),
    Mutant("qrels-labels", "conflicting duplicate judgements accepted (the last one kept)",
           "transformers_ir/data/trec.py", "            if first_label != label:", "            if False:"),
    Mutant("bold-lowest", "tables bold the lowest effectiveness value per column", "transformers_ir/experiment/report.py",
           "return printed == printed.max()", "return printed == printed.min()"),
    Mutant("timing-first", "a stage's time is its first timed run, not the median of the repeats",
           "transformers_ir/experiment/timing.py", "return float(np.median(array)), float(array.min())",
           "return float(array[0]), float(array.min())"),
    Mutant("shard-order", "a sharded build concatenates its shards' docnos in reverse order",
           "transformers_ir/core/shards.py", "        for shard in self.shards:\n            yield from shard.docnos()",
           "        for shard in reversed(self.shards):\n            yield from shard.docnos()"),
]


def run(mutant: Mutant, work: Path, env: dict[str, str]) -> tuple[str, str, float]:
    """(outcome, detail, seconds) for one mutant: CAUGHT with the first failing test, SURVIVED or STALE."""
    copy = work / mutant.id
    shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns(".venv", ".git", "results", "models", "__pycache__",
                                                                 "*.egg-info", ".pytest_cache"))
    target = copy / mutant.file
    text = target.read_text()
    if text.count(mutant.old) != 1:
        return "STALE", f"patch text found {text.count(mutant.old)} times in {mutant.file}", 0.0
    target.write_text(text.replace(mutant.old, mutant.new))
    start = time.perf_counter()
    order = FIRST + sorted(str(p.relative_to(copy)) for p in (copy / "tests").glob("test_*.py")
                           if str(p.relative_to(copy)) not in FIRST)
    proc = subprocess.run([sys.executable, "-m", "pytest", "-m", "not slow", "-x", "-q", "-p", "no:cacheprovider",
                           *order], cwd=copy, capture_output=True, text=True,
                          env={**env, "PYTHONPATH": str(copy), "TIR_CACHE_DIR": str(work / f"{mutant.id}-cache"),
                               "TIR_TEST_CACHE_DIR": str(work / f"{mutant.id}-cache")})
    seconds = time.perf_counter() - start
    shutil.rmtree(copy, ignore_errors=True)
    failed = re.findall(r"^(?:FAILED|ERROR) (\S+)", proc.stdout, re.M)
    if proc.returncode == 0:
        return "SURVIVED", "every fast test passed", seconds
    return "CAUGHT", failed[0] if failed else proc.stdout.strip().splitlines()[-1], seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", nargs="*", help="mutant ids to run (default: all)")
    parser.add_argument("--out", help="write the Markdown table here too")
    args = parser.parse_args()
    chosen = [m for m in MUTANTS if not args.only or m.id in args.only]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "TIR_CACHE_DIR")}
    rows = []
    with tempfile.TemporaryDirectory(prefix="tir-mutants-") as tmp:
        for mutant in chosen:
            outcome, detail, seconds = run(mutant, Path(tmp), env)
            rows.append((mutant, outcome, detail, seconds))
            print(f"{outcome:8} {mutant.id:20} {seconds:6.0f} s  {detail}", flush=True)
    caught = sum(o == "CAUGHT" for _, o, _, _ in rows)
    table = ["| mutant | planted bug | outcome | caught by | seconds |", "|---|---|---|---|---|"]
    table += [f"| `{m.id}` | {m.what} | {o} | `{d}` | {s:.0f} |" for m, o, d, s in rows]
    summary = f"{caught} of {len(rows)} planted bugs caught by the fast suite."
    print("\n" + "\n".join(table) + "\n\n" + summary)
    if args.out:
        Path(args.out).write_text("# Mutation check\n\nCommand: `TIR_DATA_PATH=../shared/data HF_HUB_OFFLINE=1 "
                                  "TIR_TORCH_THREADS=1 .venv/bin/python experiments/mutation_check.py --out "
                                  "experiments/mutation_check.md`\n\n" + "\n".join(table) + "\n\n" + summary + "\n")
    return 0 if caught == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
