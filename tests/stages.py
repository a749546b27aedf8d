"""User-defined stages that configs in the tests name by dotted path (``class: tests.stages.Sleepy``)."""
import time

import pyterrier as pt

from transformers_ir.core.stage import Stage


class Failing(pt.Transformer):
    """Raises on any non-empty input (a plain PyTerrier transformer: not fingerprinted, never cached)."""

    def __init__(self, message: str = "boom"):
        self.message = message

    def transform(self, df):
        if len(df):
            raise RuntimeError(self.message)
        return df


class Sleepy(Stage):
    """Passes its input through after sleeping ``seconds`` (a Stage: fingerprinted, cached, to_yaml-able)."""

    def __init__(self, seconds: float = 0.0):
        self.seconds = seconds

    def transform(self, df):
        if len(df):
            time.sleep(self.seconds)
        return df
