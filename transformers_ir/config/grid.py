"""Grid expansion: parameter axes over named stages, full product, one named pipeline per grid point."""
from __future__ import annotations

import inspect
import itertools
from dataclasses import dataclass
from typing import Any, Mapping

from .expression import names_in, parse_expression
from .schema import RunConfig
from .yamlmap import ConfigError, LocatedYaml


def constructor_signature(cls: type) -> inspect.Signature:
    """The parameters of ``cls.__init__`` without ``self`` (a custom ``__new__`` does not hide them)."""
    signature = inspect.signature(cls.__init__)
    return signature.replace(parameters=list(signature.parameters.values())[1:])


@dataclass(frozen=True)
class GridPoint:
    """One pipeline of the expanded grid: ``BM25[k1=0.6,b=0.4]`` from pipeline ``BM25``."""

    name: str
    pipeline: str
    expression: str
    params: tuple[tuple[str, Any], ...]  # (("bm25.k1", 0.6), ...)

    @property
    def display_name(self) -> str:
        """How tables show it: ``BM25 (k1=0.6, b=0.4)``."""
        if not self.params:
            return self.name
        return f"{self.pipeline} ({', '.join(f'{a.partition(chr(46))[2]}={_format(v)}' for a, v in self.params)})"


def check_axes(config: RunConfig, doc: LocatedYaml, registry: Mapping[str, type]) -> None:
    """Each axis names an existing stage and a parameter its class takes, with a non-empty list of values."""
    for axis, values in config.grid.items():
        stage, _, param = axis.partition(".")
        if stage not in config.stages or not param:
            raise doc.error(("grid", axis), f"axis {axis!r} must be STAGE.PARAM with a stage from 'stages' "
                                            f"({', '.join(config.stages)})")
        try:
            cls = registry[config.stages[stage]["class"]]
        except KeyError:
            cls = None  # the stage's own check names the problem
        if cls is not None and param not in constructor_signature(cls).parameters:
            raise doc.error(("grid", axis), f"{cls.__name__} (stage {stage!r}) has no parameter {param!r}")
        if not values:
            raise doc.error(("grid", axis), "an axis needs at least one value")


def _format(value: Any) -> str:
    return repr(value) if isinstance(value, str) else str(value)


def expand(config: RunConfig, doc: LocatedYaml) -> list[GridPoint]:
    """Every pipeline crossed with the axes of the stages it uses (pipelines using none stay single)."""
    points = []
    defined: dict[str, set[str]] = {}
    for name, expression in config.pipelines.items():
        try:
            used = {n.name for n in names_in(parse_expression(str(expression)))}
        except Exception as e:
            raise ConfigError(doc.path, doc.line(("pipelines", name)), f"pipelines.{name}", str(e)) from None
        used = set().union(*(defined.get(u, {u}) for u in used))
        defined[name] = used
        axes = [(axis, values) for axis, values in config.grid.items() if axis.partition(".")[0] in used]
        if not axes:
            points.append(GridPoint(name, name, str(expression), ()))
            continue
        for combo in itertools.product(*(values for _, values in axes)):
            params = tuple((axis, value) for (axis, _), value in zip(axes, combo))
            label = ",".join(f"{axis.partition('.')[2]}={_format(v)}" for axis, v in params)
            points.append(GridPoint(f"{name}[{label}]", name, str(expression), params))
    seen: dict[str, GridPoint] = {}
    for point in points:
        if point.name in seen:
            swept = next(p for p in (point, seen[point.name]) if p.params)
            literal = next(p for p in (point, seen[point.name]) if p is not swept)
            raise doc.error(("pipelines", literal.pipeline), f"pipeline {literal.name!r} has the name of a grid point "
                                                             f"of {swept.pipeline!r}; rename it")
        seen[point.name] = point
    return points


def resolve_baselines(config: RunConfig, doc: LocatedYaml, points: list[GridPoint]) -> list[str]:
    """Baseline names as grid-point names; a swept pipeline must be named with its point."""
    names = [p.name for p in points]
    out = []
    for i, base in enumerate(config.baselines):
        key = ("baseline", i) if isinstance(config.baseline, list) else ("baseline",)
        if base in names:
            out.append(base)
            continue
        expanded = [p.name for p in points if p.pipeline == base]
        if expanded:
            raise doc.error(key, f"baseline {base!r} is swept by the grid into {len(expanded)} points; "
                                 f"name one, e.g. {expanded[0]!r}")
        raise doc.error(key, f"baseline {base!r} is not a pipeline name ({', '.join(names)})")
    return out


