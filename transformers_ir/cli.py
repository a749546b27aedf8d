"""The ``tir`` command: ``run``, ``eval``, ``table``, ``compare``, ``pipelines``, ``reproduce``.

Imports are lazy: ``tir --help`` loads no library, and ``tir table`` / ``tir compare`` load pandas but no model
library (torch, transformers).
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def _setting(text: str) -> tuple[str, object]:
    import yaml
    key, sep, value = text.partition("=")
    if not sep or "." not in key:
        raise argparse.ArgumentTypeError(f"expected STAGE.PARAM=VALUE, got {text!r}")
    return key, yaml.safe_load(value)


def _run(args: argparse.Namespace) -> int:
    from .runner import run_config
    summary = run_config(args.config, args.output, overrides=dict(args.set or []), only=args.only,
                         use_cache=not args.no_cache, ansi=_ansi())
    if summary.failed:
        print(f"tir run: {len(summary.failed)} pipeline(s) failed: {', '.join(summary.failed)} "
              f"(errors in results.csv; re-run the same command to retry them)", file=sys.stderr)
        return 1
    return 0


def _eval(args: argparse.Namespace) -> int:
    import ir_measures
    import pyterrier as pt

    from .data import read_qrels, read_run
    from .experiment import parse_measures
    from .experiment.coverage import coverage
    measures = parse_measures(args.metrics)
    run, qrels = read_run(args.run), read_qrels(args.qrels)
    if not len(run):
        print(f"tir eval: {args.run} holds no results", file=sys.stderr)
        return 1
    found = coverage(run.drop_duplicates("qid"), qrels)
    if not found.evaluated:
        print(f"tir eval: no qid of {args.run} has qrels in {args.qrels} (qids are compared as strings, exactly: "
              f"'01' is not '1')", file=sys.stderr)
        return 1
    if found.without_qrels:
        print(f"tir eval: {len(found.without_qrels)} of the run's {found.topics} qids have no qrels and are not "
              f"evaluated", file=sys.stderr)
    values = ir_measures.calc_aggregate(list(measures.values()), pt.model.to_ir_measures(qrels),
                                        pt.model.to_ir_measures(run))
    for name, measure in measures.items():
        print(f"{name}\t{values[measure]:.4f}")
    return 0


def _ansi() -> bool:
    """Bold as ANSI escapes only on a terminal that wants colour (https://no-color.org)."""
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"


def _table(args: argparse.Namespace) -> int:
    from .experiment.report import render_table
    print(render_table(args.dir, args.format, ansi=args.format == "text" and _ansi(), columns=args.columns,
                       width=args.width), end="")
    return 0


def _compare(args: argparse.Namespace) -> int:
    from .experiment.report import compare
    print(compare(args.dir1, args.dir2))
    return 0


def _pipelines(args: argparse.Namespace) -> int:
    from .config.include import available_recipes, load_recipe
    for name, path in available_recipes().items():
        recipe = load_recipe(path)
        pipelines = ", ".join(recipe.data.get("pipelines") or {}) or "-"
        print(f"{name:16} {pipelines:32} {recipe.data.get('description', '')}")
    return 0


def _reproduce(args: argparse.Namespace) -> int:
    from .reproduce import reproduce, reproduce_configs
    paths = [Path(p) for p in args.configs] or reproduce_configs(args.dir)
    figures = reproduce(paths, fast=args.fast, output=args.output, use_cache=args.cache)
    return 1 if any(f.status == "FAIL" for f in figures) else 0


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tir", description="transformers-ir: IR experiments as expressions")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run an experiment config (YAML grid); resumes finished points")
    run.add_argument("config")
    run.add_argument("--output", "-o", help="output folder (default: the config's 'output')")
    run.add_argument("--set", action="append", type=_setting, metavar="STAGE.PARAM=VALUE",
                     help="override a stage parameter (replaces a grid axis of that name)")
    run.add_argument("--only", action="append", metavar="NAME", help="run only this pipeline or grid point")
    run.add_argument("--no-cache", action="store_true", help="do not read or write the stage cache")
    run.add_argument("--quiet", "-q", action="store_true",
                     help="no progress bars (shown by default on a terminal while indexes build or models train)")
    run.set_defaults(fn=_run)
    ev = sub.add_parser("eval", help="evaluate a TREC run file against qrels")
    ev.add_argument("run")
    ev.add_argument("qrels")
    ev.add_argument("-m", "--metrics", nargs="+", required=True, help="e.g. AP nDCG@10 'R(rel=2)@100'")
    ev.set_defaults(fn=_eval)
    table = sub.add_parser("table", help="re-render an output folder's table without re-running")
    table.add_argument("dir")
    table.add_argument("--format", choices=["text", "markdown", "latex"], default="text")
    table.add_argument("--columns", nargs="+", metavar="COLUMN",
                       help="metrics and efficiency columns to show, in order (default: the config's table.columns)")
    table.add_argument("--width", choices=["auto", "column", "page"], help="LaTeX: table (column) or table* (page)")
    table.set_defaults(fn=_table)
    cmp = sub.add_parser("compare", help="compare two output folders")
    cmp.add_argument("dir1")
    cmp.add_argument("dir2")
    cmp.set_defaults(fn=_compare)
    recipes = sub.add_parser("pipelines", help="list the recipes configs can include (pipelines/*.yaml)")
    recipes.set_defaults(fn=_pipelines)
    rep = sub.add_parser("reproduce", help="regression: run configs/reproduce/*.yaml and check their expected figures")
    rep.add_argument("configs", nargs="*", help="reproduction configs (default: every one in --dir)")
    rep.add_argument("--dir", help="folder of reproduction configs (default: the project's configs/reproduce)")
    rep.add_argument("--fast", action="store_true", help="only the configs marked 'fast: true' (what the tests run)")
    rep.add_argument("--output", default="results/reproduce", help="where each config's output folder goes")
    rep.add_argument("--cache", action="store_true", help="read and write the stage-output cache (default: off)")
    rep.set_defaults(fn=_reproduce)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if getattr(args, "quiet", False):
        os.environ["TIR_PROGRESS"] = "0"  # read by every progress bar, also in Ray workers
    from .core import TirError
    try:
        return args.fn(args)
    except (TirError, FileNotFoundError) as e:
        print(f"tir {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
