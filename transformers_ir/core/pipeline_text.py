"""Writing a PyTerrier pipeline back as an expression of the config grammar (``a % 10 >> b``, ``0.3 * a + b``)."""
from __future__ import annotations

from typing import Any, Callable

import pyterrier as pt
from pyterrier import _ops

_INFIX = {_ops.Sum: "+", _ops.FeatureUnion: "**", _ops.SetUnion: "|", _ops.SetIntersection: "&",
          _ops.Concatenate: "^"}


def _is_operator(t: pt.Transformer) -> bool:
    return isinstance(t, (_ops.Compose, *_INFIX))


def expression_text(t: pt.Transformer, leaf: Callable[[Any], str]) -> str:
    """``t`` written in the pipeline grammar, each stage that is not an operator written by ``leaf``."""
    def operand(child: pt.Transformer) -> str:
        text = expression_text(child, leaf)
        return f"({text})" if _is_operator(child) else text

    if isinstance(t, _ops.Compose):
        expr, composite = expression_text(t[0], leaf), _is_operator(t[0])
        for child in list(t)[1:]:
            if isinstance(child, (_ops.RankCutoff, _ops.ScalarProduct)):
                grouped = f"({expr})" if composite else expr
                expr = f"{grouped} % {child.k}" if isinstance(child, _ops.RankCutoff) else f"{child.scalar!r} * {grouped}"
            else:
                expr = f"{expr} >> {operand(child)}"
            composite = True
        return expr
    for cls, op in _INFIX.items():
        if isinstance(t, cls):
            parts = list(t) if isinstance(t, _ops.NAryTransformerBase) else [t.left, t.right]
            return f" {op} ".join(operand(p) for p in parts)
    return leaf(t)


def pipeline_text(t: pt.Transformer) -> str:
    """``t`` as an expression of its stages' reprs, e.g. ``BM25(...) + 0.7 * (BM25(...) >> DenseScorer(...))``."""
    return expression_text(t, repr)
