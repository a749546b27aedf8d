"""From a validated config to the same stage and pipeline objects a notebook user would write."""
from __future__ import annotations

import inspect
from typing import Any, Mapping

from .expression import ExpressionError, evaluate
from .schema import RunConfig
from .yamlmap import ConfigError, LocatedYaml


def build_stages(config: RunConfig, doc: LocatedYaml, registry: Mapping[str, type], dataset: Any) -> dict[str, Any]:
    """Instantiate each stage: ``class`` names a class in ``registry``, the other keys are its arguments.

    A class whose constructor takes ``dataset`` gets the config's dataset unless the stage sets one.
    """
    stages = {}
    for name, spec in config.stages.items():
        params = {k: v for k, v in spec.items() if k != "class"}
        cls = registry.get(spec["class"])
        if cls is None:
            raise doc.error(("stages", name, "class"),
                            f"unknown stage class {spec['class']!r}; available: {', '.join(sorted(registry))}")
        signature = inspect.signature(cls)
        accepts_any = any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values())
        for key in params:
            if key not in signature.parameters and not accepts_any:
                raise doc.error(("stages", name, key), f"{cls.__name__} has no parameter {key!r} "
                                f"(parameters: {', '.join(p for p in signature.parameters if p != 'self')})")
        if "dataset" in signature.parameters and "dataset" not in params:
            params["dataset"] = dataset
        try:
            stages[name] = cls(**params)
        except (TypeError, ValueError) as e:
            raise doc.error(("stages", name), f"cannot build {cls.__name__}: {e}") from e
    return stages


def build_pipelines(config: RunConfig, doc: LocatedYaml, stages: Mapping[str, Any]) -> dict[str, Any]:
    """Evaluate each pipeline expression over the stages (and the pipelines defined before it)."""
    env, pipelines = dict(stages), {}
    for name, expression in config.pipelines.items():
        try:
            pipelines[name] = evaluate(str(expression), env)
        except ExpressionError as e:
            raise ConfigError(doc.path, doc.line(("pipelines", name)), f"pipelines.{name}", str(e)) from None
        env.setdefault(name, pipelines[name])
    return pipelines
