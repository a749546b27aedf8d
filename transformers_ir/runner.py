"""``tir run``: a config file in, an experiment's files out."""
from __future__ import annotations

from pathlib import Path

from .config import build_pipelines, build_stages, load_config
from .data import load_dataset, write_run
from .experiment import Experiment, ExperimentResult, markdown_table, run_path, write_outputs
from .experiment.outputs import safe_filename


def stage_registry() -> dict[str, type]:
    """Stage classes usable as ``class:`` in configs: those exported by ``transformers_ir``."""
    import pyterrier as pt

    import transformers_ir
    return {name: obj for name in transformers_ir.__all__
            if isinstance(obj := getattr(transformers_ir, name), type) and issubclass(obj, pt.Transformer)}


def run_config(path: str | Path, output: str | Path | None = None, echo=print) -> ExperimentResult:
    """Run every pipeline of the config at ``path``; write results into ``output`` (or the config's)."""
    config, doc = load_config(str(path))
    try:
        dataset = load_dataset(config.dataset)
    except Exception as e:
        raise doc.error(("dataset",), str(e)) from e
    try:
        topics, qrels = dataset.topics(config.split), dataset.qrels(config.split)
    except (ValueError, FileNotFoundError) as e:
        raise doc.error(("split",), str(e)) from e
    stages = build_stages(config, doc, stage_registry(), dataset)
    pipelines = build_pipelines(config, doc, stages)
    out_dir = Path(output or config.output or Path("results") / config.name)
    echo(f"{config.name}: {len(pipelines)} pipeline(s) on {dataset.name}"
         f"{f' ({config.split})' if config.split else ''}, {len(topics)} topics -> {out_dir}")

    def save_run(name, run):
        write_run(run, run_path(out_dir, name), name=safe_filename(name))
        echo(f"  done: {name} ({run['qid'].nunique() if len(run) else 0} topics with results)")

    sig = config.significance
    result = Experiment(pipelines, topics, qrels, config.metrics, baseline=config.baseline, test=sig.test,
                        correction=sig.correction if config.baseline else None, alpha=sig.alpha, on_run=save_run)
    write_outputs(result, out_dir, runs=False)
    echo(markdown_table(result))
    echo(f"wrote {out_dir}/results.csv, perquery.csv, stages.csv, table.md, runs/")
    return result
