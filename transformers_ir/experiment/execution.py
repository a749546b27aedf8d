"""Running a pipeline stage by stage: column checks before any work, wall time per stage."""
from __future__ import annotations

import time
from dataclasses import dataclass

import pandas as pd
import pyterrier as pt
from pyterrier._ops import Compose

from ..core import StageError


@dataclass
class StageTiming:
    position: int
    stage: str
    seconds: float
    rows_out: int


def stage_chain(pipeline: pt.Transformer) -> list[pt.Transformer]:
    """The ``>>`` chain of a pipeline after PyTerrier's compilation (so ``% k`` is fused into retrievers)."""
    compiled = pipeline.compile()
    return list(compiled) if isinstance(compiled, Compose) else [compiled]


def check_columns(name: str, stages: list[pt.Transformer], input_columns: list[str]) -> None:
    """Ask each stage what it outputs for its input columns; a missing column fails here, before any work."""
    columns = list(input_columns)
    for stage in stages:
        try:
            columns = pt.inspect.transformer_outputs(stage, columns)
        except pt.validate.InputValidationError as e:
            e.args = (f"pipeline {name!r}: {e.args[0]}",) + e.args[1:]
            raise
        except pt.inspect.InspectError:
            return  # a stage that cannot say what it outputs: later stages cannot be checked either


def prepare(stages: list[pt.Transformer]) -> None:
    """Build what stages need before queries run (indexes, models) so it is not counted as query time."""
    for stage in stages:
        if hasattr(stage, "prepare"):
            stage.prepare()


def run_chain(name: str, stages: list[pt.Transformer], topics: pd.DataFrame) -> tuple[pd.DataFrame, list[StageTiming]]:
    """Apply ``stages`` in order to ``topics``; return the results and each stage's wall time."""
    frame, timings = topics, []
    for position, stage in enumerate(stages):
        start = time.perf_counter()
        try:
            frame = stage.transform(frame)
        except Exception as e:
            raise StageError(f"pipeline {name!r}, stage {position} ({stage}): {type(e).__name__}: {e}") from e
        timings.append(StageTiming(position, str(stage), time.perf_counter() - start, len(frame)))
    return frame, timings
