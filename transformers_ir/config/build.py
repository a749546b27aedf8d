"""From a validated config to the same stage and pipeline objects a notebook user would write."""
from __future__ import annotations

import json
from typing import Any, Mapping

from ..core.stage import ParameterError, Stage
from .expression import ExpressionError, evaluate
from .grid import GridPoint, constructor_signature
from .schema import RunConfig
from .yamlmap import ConfigError, LocatedYaml


class StageFactory:
    """Builds each named stage once per distinct parameter set (grid points share equal stages).

    ``class`` names a class in ``registry`` (ours by name, a plugin, or a dotted path); the other keys are its
    arguments. A class whose constructor
    takes ``dataset`` gets the config's dataset unless the stage sets one.
    """

    def __init__(self, config: RunConfig, doc: LocatedYaml, registry: Mapping[str, type], dataset: Any):
        self.config, self.doc, self.registry, self.dataset = config, doc, registry, dataset
        self._built: dict[tuple[str, str], Any] = {}

    def check(self) -> None:
        """Validate every stage's class, parameter names and values (and every grid value), before anything is built."""
        for name, spec in self.config.stages.items():
            cls = self._class(name, spec)
            self._arguments(name, spec, cls)
        for axis, values in self.config.grid.items():
            stage, _, param = axis.partition(".")
            cls = self._class(stage, self.config.stages[stage])
            for i, value in enumerate(values):
                self._arguments(stage, {param: value}, cls, where=("grid", axis, i))

    def _class(self, name: str, spec: dict) -> type:
        try:
            return self.registry[spec["class"]]
        except KeyError as e:
            message = e.args[0] if isinstance(e.args[0], str) and " " in e.args[0] else (
                f"unknown stage class {spec['class']!r}; available: {', '.join(sorted(self.registry))}")
            raise self.doc.error(("stages", name, "class"), message) from None

    def _arguments(self, name: str, spec: Mapping[str, Any], cls: type, where: tuple | None = None) -> dict[str, Any]:
        """The constructor arguments of ``spec``, checked by the stage's declared types and ranges (numbers written
        as text, as YAML reads ``5e-4``, become numbers); an error names the file, line and key."""
        params = {k: v for k, v in spec.items() if k != "class"}
        signature = constructor_signature(cls)
        if not any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values()):
            for key in params:
                if key not in signature.parameters:
                    raise self.doc.error(where or ("stages", name, key), f"{cls.__name__} has no parameter {key!r} "
                                         f"(parameters: {', '.join(signature.parameters)})")
        if isinstance(cls, type) and issubclass(cls, Stage):
            try:
                return cls.check_params(params)
            except ParameterError as e:
                raise self.doc.error(where or ("stages", name, e.param), str(e)) from None
        return params

    def get(self, name: str, overrides: Mapping[str, Any] = {}) -> Any:
        spec = {**self.config.stages[name], **overrides}
        key = (name, json.dumps(spec, sort_keys=True, default=str))
        if key not in self._built:
            cls = self._class(name, spec)
            params = self._arguments(name, spec, cls)
            if "dataset" in constructor_signature(cls).parameters and "dataset" not in params:
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
