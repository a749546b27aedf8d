"""``tir.to_yaml(pipeline)``: the ``stages:`` / ``pipelines:`` YAML of pipelines built in Python, and back."""
from __future__ import annotations

from typing import Any, Callable, Mapping

import pyterrier as pt
import yaml

from ..core.pipeline_text import expression_text
from .expression import evaluate


class _Namer:
    """Gives each distinct stage configuration a name (``bm25``, ``bm25_2``, ...)."""

    def __init__(self, class_name: Callable[[type], str]):
        self.stages: dict[str, dict] = {}
        self.class_name = class_name

    def name(self, stage: Any) -> str:
        if not hasattr(stage, "to_config"):
            raise TypeError(f"cannot write {stage!r} as YAML: it is not a transformers_ir stage (no to_config(); "
                            f"subclass transformers_ir.core.stage.Stage to get one)")
        spec = {"class": self.class_name(type(stage)), **stage.to_config()}
        for name, existing in self.stages.items():
            if existing == spec:
                return name
        base = type(stage).__name__.lower()
        name = base if base not in self.stages else f"{base}_{len([n for n in self.stages if n.startswith(base)]) + 1}"
        self.stages[name] = spec
        return name


def to_yaml(pipelines: "pt.Transformer | Mapping[str, pt.Transformer]", name: str = "pipeline",
            class_name: Callable[[type], str] = lambda cls: cls.__name__) -> str:
    """The ``stages:`` and ``pipelines:`` sections that rebuild ``pipelines`` (one or a name -> pipeline map);
    ``class_name`` gives each stage class's ``class:``."""
    if isinstance(pipelines, pt.Transformer):
        pipelines = {name: pipelines}
    namer = _Namer(class_name)
    exprs = {n: expression_text(p, namer.name) for n, p in pipelines.items()}
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
