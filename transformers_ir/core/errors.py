"""Errors that name what went wrong and where (file, line, column, stage)."""
from __future__ import annotations

from typing import Iterable

import pyterrier as pt


class TirError(Exception):
    """Base class of all transformers-ir errors."""


class InputFormatError(TirError, ValueError):
    """A malformed line in an input file (topics, qrels, run, corpus)."""

    def __init__(self, path: str, line: int, message: str, column: int | None = None):
        self.path, self.line, self.column = str(path), line, column
        where = f"{self.path}:{line}" + (f":{column}" if column is not None else "")
        super().__init__(f"{where}: {message}")


class DatasetNotFoundError(TirError, LookupError):
    """A dataset name that resolves to nothing; the message lists what was tried."""

    def __init__(self, name: str, tried: Iterable[str]):
        self.name, self.tried = name, list(tried)
        lines = "\n".join(f"  - {t}" for t in self.tried)
        super().__init__(f"unknown dataset {name!r}; tried:\n{lines}")

    def __str__(self) -> str:  # LookupError would otherwise repr() the message
        return self.args[0]


class UnknownMetricError(TirError, ValueError):
    """A metric name that ir_measures cannot parse."""


class MissingColumnError(pt.validate.InputValidationError, TirError):
    """A stage's input lacks a column the stage needs (raised before any work starts)."""

    def __init__(self, stage: object, missing: list[str], present: Iterable[str], hint: str = ""):
        self.stage, self.missing, self.present = stage, list(missing), list(present)
        message = (f"stage {stage} needs input column(s) {self.missing}, "
                   f"but its input has only {self.present}" + (f". {hint}" if hint else ""))
        mode = pt.validate._TransformerMode(missing_columns=self.missing, extra_columns=[], mode_name=str(stage))
        super().__init__(message, [mode])

    def __str__(self) -> str:
        return self.args[0]


class StageError(TirError, RuntimeError):
    """A stage failed while running; the message names the pipeline and the stage."""


class IndexBuildError(TirError, RuntimeError):
    """Building an index failed (a native engine's error, or fewer documents indexed than read); nothing installed."""
