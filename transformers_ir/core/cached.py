"""``tir.cached(transformer, key=...)``: any transformer (a ``pt.apply`` function, a plugin's stage) cached like our
stages."""
from __future__ import annotations

import pandas as pd
import pyterrier as pt


class Cached(pt.Transformer):
    """``transformer`` with a fingerprint its author vouches for: ``key`` names what it computes (change the key
    when the function changes). Its outputs go to the stage cache under (key, input), like our stages', and the
    stages after it in the chain stay cached."""

    def __init__(self, transformer: pt.Transformer, key: str):
        if not isinstance(transformer, pt.Transformer):
            raise TypeError(f"cached() wraps a PyTerrier transformer, not {type(transformer).__name__}")
        if not isinstance(key, str) or not key.strip():
            raise ValueError("cached() needs a non-empty key naming what the transformer computes, e.g. 'len-prior-v1'")
        self.transformer, self.key = transformer, key

    def __repr__(self) -> str:
        return f"cached({self.transformer!r}, key={self.key!r})"

    def fingerprint(self) -> dict:
        inner = type(self.transformer)
        return {"key": self.key, "transformer": f"{inner.__module__}.{inner.__qualname__}"}

    def prepare(self) -> "Cached":
        if hasattr(self.transformer, "prepare"):
            self.transformer.prepare()
        return self

    def transform_outputs(self, input_columns: list[str]) -> list[str]:
        return pt.inspect.transformer_outputs(self.transformer, input_columns)

    def transform(self, inp: pd.DataFrame) -> pd.DataFrame:
        return self.transformer.transform(inp)


def cached(transformer: pt.Transformer, key: str) -> Cached:
    """``transformer`` cached under ``key``: ``tir.cached(pt.apply.doc_score(prior), key="len-prior-v1")``."""
    return Cached(transformer, key)
