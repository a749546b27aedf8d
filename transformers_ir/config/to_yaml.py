"""``tir.to_yaml(pipeline)``: the ``stages:`` / ``pipelines:`` YAML of pipelines built in Python, and back."""
from __future__ import annotations

from typing import Any, Callable, Mapping

import pyterrier as pt
import yaml
from pyterrier import _ops

from .expression import evaluate

_INFIX = {_ops.Sum: "+", _ops.FeatureUnion: "**", _ops.SetUnion: "|", _ops.SetIntersection: "&",
          _ops.Concatenate: "^"}


class _Namer:
    """Gives each distinct stage configuration a name (``bm25``, ``bm25_2``, ...)."""

    def __init__(self):
        self.stages: dict[str, dict] = {}

    def name(self, stage: Any) -> str:
        if not hasattr(stage, "to_config"):
            raise TypeError(f"cannot write {stage!r} as YAML: it is not a transformers_ir stage (no to_config())")
        spec = {"class": type(stage).__name__, **stage.to_config()}
        for name, existing in self.stages.items():
            if existing == spec:
                return name
        base = type(stage).__name__.lower()
        name = base if base not in self.stages else f"{base}_{len([n for n in self.stages if n.startswith(base)]) + 1}"
        self.stages[name] = spec
        return name


def _is_operator(t: pt.Transformer) -> bool:
    return isinstance(t, (_ops.Compose, *_INFIX))


def _expression(t: pt.Transformer, leaf: Callable[[Any], str]) -> str:
    """``t`` written in the pipeline grammar, each stage that is not an operator written by ``leaf``."""
    def operand(child: pt.Transformer) -> str:
        text = _expression(child, leaf)
        return f"({text})" if _is_operator(child) else text

    if isinstance(t, _ops.Compose):
        expr, composite = _expression(t[0], leaf), _is_operator(t[0])
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
    return _expression(t, repr)


def to_yaml(pipelines: "pt.Transformer | Mapping[str, pt.Transformer]", name: str = "pipeline") -> str:
    """The ``stages:`` and ``pipelines:`` sections that rebuild ``pipelines`` (one or a name -> pipeline map)."""
    if isinstance(pipelines, pt.Transformer):
        pipelines = {name: pipelines}
    namer = _Namer()
    exprs = {n: _expression(p, namer.name) for n, p in pipelines.items()}
    return yaml.safe_dump({"stages": namer.stages, "pipelines": exprs}, sort_keys=False)


def from_yaml(text: str, registry: Mapping[str, type]) -> dict[str, pt.Transformer]:
    """Pipelines from a ``stages:`` / ``pipelines:`` YAML text (the form :func:`to_yaml` writes);
    ``class:`` names are looked up in ``registry``."""
    data = yaml.safe_load(text)
    env: dict[str, Any] = {}
    for stage, spec in data.get("stages", {}).items():
        params = {k: v for k, v in spec.items() if k != "class"}
        env[stage] = registry[spec["class"]](**params)
    out = {}
    for pipeline, expression in data["pipelines"].items():
        out[pipeline] = env[pipeline] = evaluate(str(expression), env)
    return out
