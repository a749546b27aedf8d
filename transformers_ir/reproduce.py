"""``tir reproduce``: regression runs in the manner of Anserini's two-click reproductions (2CR).

Each config in ``configs/reproduce/`` is an ordinary run config with a ``reproduce:`` section giving the figures
its pipelines must give. The configs run through :func:`transformers_ir.runner.run_config` (the stage-output cache
off and earlier grid points not resumed, so every figure is computed afresh; indexes are reused) and each figure
gets one line: ``OK`` within +-0.0005 of the expected value, ``OKish`` within the config's tolerance, else ``FAIL``.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .config import expand, load_config

OK_WINDOW = 0.0005
DEFAULT_DIR = Path(__file__).resolve().parents[1] / "configs" / "reproduce"


@dataclass
class Figure:
    config: str
    pipeline: str
    metric: str
    expected: float
    tolerance: float
    value: float | None = None
    published: float | None = None
    error: str | None = None

    @property
    def status(self) -> str:
        if self.value is None or self.value != self.value:  # missing or NaN
            return "FAIL"
        gap = abs(self.value - self.expected)
        return "OK" if gap <= OK_WINDOW + 1e-12 else "OKish" if gap <= self.tolerance + 1e-12 else "FAIL"

    def line(self) -> str:
        got = f"{self.value:.4f}" if self.value is not None else "-"
        published = f"; published {self.published:.4f}" if self.published is not None else ""
        error = f"; {self.error}" if self.error else ""
        return (f"{self.status:<6} {self.config:<24} {self.pipeline:<28} {self.metric:<14} {got:>7}  "
                f"(expected {self.expected:.4f} +-{self.tolerance:g}{published}{error})")


def reproduce_configs(folder: str | Path | None = None) -> list[Path]:
    """The reproduction configs (``*.yaml``) of ``folder`` (default: the project's ``configs/reproduce``)."""
    folder = Path(folder) if folder is not None else DEFAULT_DIR
    if not folder.is_dir():
        raise FileNotFoundError(f"no reproduction configs: {folder} is not a folder")
    return sorted(folder.glob("*.yaml"))


def expected_figures(path: str | Path) -> list[Figure]:
    """The figures a config's ``reproduce:`` section expects (checked against its pipelines and metrics)."""
    config, doc = load_config(str(path))
    if config.reproduce is None:
        raise doc.error((), "a reproduction config needs a 'reproduce:' section (expected figures)")
    if len(config.dataset_names) != 1:
        raise doc.error(("datasets",), "a reproduction config evaluates one dataset")
    names = {p.name for p in expand(config, doc)}
    section = config.reproduce
    for group in ("expected", "published"):
        for pipeline, metrics in getattr(section, group).items():
            if pipeline not in names:
                raise doc.error(("reproduce", group, pipeline), f"no pipeline {pipeline!r} in this config "
                                                                f"(pipelines: {', '.join(sorted(names))})")
            for metric in metrics:
                if metric not in config.metrics:
                    raise doc.error(("reproduce", group, pipeline, metric),
                                    f"metric {metric!r} is not in 'metrics' {config.metrics}")
    return [Figure(config.name, pipeline, metric, value, section.tolerance,
                   published=section.published.get(pipeline, {}).get(metric))
            for pipeline, metrics in section.expected.items() for metric, value in metrics.items()]


def reproduce(paths: list[Path], *, fast: bool = False, output: str | Path = "results/reproduce",
              use_cache: bool = False, echo: Callable[[str], None] = print) -> list[Figure]:
    """Run each config of ``paths`` (only those marked ``fast: true`` when ``fast``) and print one line per
    expected figure; returns the figures with their values."""
    from .runner import run_config
    selected = []
    for path in paths:
        config, _ = load_config(str(path))
        if not fast or (config.reproduce is not None and config.reproduce.fast):
            selected.append((path, expected_figures(path)))  # every config checked before anything runs
    figures: list[Figure] = []
    for path, expected in selected:
        out = Path(output) / expected[0].config
        shutil.rmtree(out / "points", ignore_errors=True)  # compute every figure afresh
        summary = run_config(path, out, only=sorted({f.pipeline for f in expected}), use_cache=use_cache,
                             echo=lambda _: None)
        rows = summary.results.set_index("name")
        for figure in expected:
            if figure.pipeline in summary.failed:
                figure.error = summary.failed[figure.pipeline].splitlines()[0][:200]
            elif figure.pipeline in rows.index:
                figure.value = float(rows.loc[figure.pipeline, figure.metric])
            echo(figure.line())
        figures += expected
    counts = {s: sum(f.status == s for f in figures) for s in ("OK", "OKish", "FAIL")}
    echo(f"{len(figures)} figure(s) from {len(selected)} config(s): "
         + ", ".join(f"{n} {s}" for s, n in counts.items()))
    return figures
