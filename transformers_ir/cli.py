"""The ``tir`` command: ``tir run CONFIG.yaml``, ``tir eval RUN QRELS -m METRIC...``."""
from __future__ import annotations

import argparse
import sys

from .core import TirError


def _run(args: argparse.Namespace) -> int:
    from .runner import run_config
    run_config(args.config, args.output)
    return 0


def _eval(args: argparse.Namespace) -> int:
    from .data import read_qrels, read_run
    from .experiment import parse_measures
    import ir_measures
    import pyterrier as pt
    measures = parse_measures(args.metrics)
    run, qrels = read_run(args.run), read_qrels(args.qrels)
    values = ir_measures.calc_aggregate(list(measures.values()), pt.model.to_ir_measures(qrels),
                                        pt.model.to_ir_measures(run))
    for name, measure in measures.items():
        print(f"{name}\t{values[measure]:.4f}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tir", description="transformers-ir: IR experiments as expressions")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run an experiment config (YAML)")
    run.add_argument("config")
    run.add_argument("--output", "-o", help="output folder (default: the config's 'output')")
    run.set_defaults(fn=_run)
    ev = sub.add_parser("eval", help="evaluate a TREC run file against qrels")
    ev.add_argument("run")
    ev.add_argument("qrels")
    ev.add_argument("-m", "--metrics", nargs="+", required=True, help="e.g. AP nDCG@10 'R(rel=2)@100'")
    ev.set_defaults(fn=_eval)
    args = parser.parse_args(argv)
    try:
        return args.fn(args)
    except (TirError, FileNotFoundError) as e:
        print(f"tir {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
