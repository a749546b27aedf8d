"""From a validated config to the same stage and pipeline objects a notebook user would write."""
from __future__ import annotations

import inspect
import json
from typing import Any, Mapping

from .expression import ExpressionError, evaluate
from .grid import GridPoint, constructor_signature
from .schema import RunConfig
from .yamlmap import ConfigError, LocatedYaml

_NUMBERS = {"float": float, "int": int, "float | None": float, "int | None": int}


class StageFactory:
    """Builds each named stage once per distinct parameter set (grid points share equal stages).

    ``class`` names a class in ``registry``; the other keys are its arguments. A class whose constructor
    takes ``dataset`` gets the config's dataset unless the stage sets one.
    """

    def __init__(self, config: RunConfig, doc: LocatedYaml, registry: Mapping[str, type], dataset: Any):
        self.config, self.doc, self.registry, self.dataset = config, doc, registry, dataset
        self._built: dict[tuple[str, str], Any] = {}

    def check(self) -> None:
        """Validate every stage's class, parameter names and numbers, before anything is built."""
        for name, spec in self.config.stages.items():
            self._arguments(name, spec, self._signature(name, spec)[1])

    def _signature(self, name: str, spec: dict) -> tuple[type, inspect.Signature]:
        cls = self.registry.get(spec["class"])
        if cls is None:
            raise self.doc.error(("stages", name, "class"), f"unknown stage class {spec['class']!r}; "
                                                            f"available: {', '.join(sorted(self.registry))}")
        signature = constructor_signature(cls)
        if not any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values()):
            for key in spec:
                if key != "class" and key not in signature.parameters:
                    raise self.doc.error(("stages", name, key), f"{cls.__name__} has no parameter {key!r} "
                                         f"(parameters: {', '.join(signature.parameters)})")
        return cls, signature

    def _arguments(self, name: str, spec: Mapping[str, Any], signature: inspect.Signature) -> dict[str, Any]:
        """The constructor arguments of ``spec``; numeric parameters given a number as text (YAML reads ``5e-4``
        as a string) get the number, any other text is an error naming the key."""
        params = {k: v for k, v in spec.items() if k != "class"}
        for key, value in params.items():
            parameter = signature.parameters.get(key)
            annotation = parameter.annotation if parameter else None
            kind = _NUMBERS.get(annotation if isinstance(annotation, str) else getattr(annotation, "__name__", ""))
            if kind and isinstance(value, str):
                try:
                    params[key] = kind(value)
                except ValueError:
                    raise self.doc.error(("stages", name, key),
                                         f"{key} must be {'a number' if kind is float else 'an integer'} "
                                         f"(got {value!r})") from None
        return params

    def get(self, name: str, overrides: Mapping[str, Any] = {}) -> Any:
        spec = {**self.config.stages[name], **overrides}
        key = (name, json.dumps(spec, sort_keys=True, default=str))
        if key not in self._built:
            cls, signature = self._signature(name, spec)
            params = self._arguments(name, spec, signature)
            if "dataset" in signature.parameters and "dataset" not in params:
                params["dataset"] = self.dataset
            try:
                self._built[key] = cls(**params)
            except (TypeError, ValueError) as e:
                raise self.doc.error(("stages", name), f"cannot build {cls.__name__}: {e}") from e
        return self._built[key]

    def pipeline(self, point: GridPoint) -> Any:
        """The pipeline object of a grid point (its stages built with the point's parameters)."""
        overrides: dict[str, dict[str, Any]] = {}
        for axis, value in point.params:
            stage, _, param = axis.partition(".")
            overrides.setdefault(stage, {})[param] = value
        env: dict[str, Any] = {name: self.get(name, overrides.get(name, {})) for name in self.config.stages}
        for name, expression in self.config.pipelines.items():
            try:
                value = evaluate(str(expression), env)
            except ExpressionError as e:
                raise ConfigError(self.doc.path, self.doc.line(("pipelines", name)), f"pipelines.{name}",
                                  str(e)) from None
            if name == point.pipeline:
                return value
            env.setdefault(name, value)
        raise KeyError(point.pipeline)
