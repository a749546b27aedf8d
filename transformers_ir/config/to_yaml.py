"""``tir.to_yaml(pipeline)``: the ``stages:`` / ``pipelines:`` YAML of pipelines built in Python, and back."""
from __future__ import annotations

from typing import Any, Mapping

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


def _group(expression: str) -> str:
    return expression if expression.replace("_", "").isalnum() else f"({expression})"


def _expression(t: pt.Transformer, namer: _Namer) -> str:
    if isinstance(t, _ops.Compose):
        expr = _expression(t[0], namer)
        for child in list(t)[1:]:
            if isinstance(child, _ops.RankCutoff):
                expr = f"{_group(expr)} % {child.k}"
            elif isinstance(child, _ops.ScalarProduct):
                expr = f"{child.scalar!r} * {_group(expr)}"
            else:
                expr = f"{expr} >> {_group(_expression(child, namer))}"
        return expr
    for cls, op in _INFIX.items():
        if isinstance(t, cls):
            parts = list(t) if isinstance(t, _ops.NAryTransformerBase) else [t.left, t.right]
            return f" {op} ".join(_group(_expression(p, namer)) for p in parts)
    return namer.name(t)


def to_yaml(pipelines: "pt.Transformer | Mapping[str, pt.Transformer]", name: str = "pipeline") -> str:
    """The ``stages:`` and ``pipelines:`` sections that rebuild ``pipelines`` (one or a name -> pipeline map)."""
    if isinstance(pipelines, pt.Transformer):
        pipelines = {name: pipelines}
    namer = _Namer()
    exprs = {n: _expression(p, namer) for n, p in pipelines.items()}
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
