"""YAML configs: schema, expression grammar, grid expansion, and building stages and pipelines from them."""
from .build import StageFactory
from .expression import ExpressionError, evaluate, parse_expression
from .grid import GridPoint, check_axes, expand, resolve_baselines
from .schema import RunConfig, load_config
from .to_yaml import from_yaml, to_yaml
from .yamlmap import ConfigError, LocatedYaml

__all__ = ["StageFactory", "ExpressionError", "evaluate", "parse_expression", "GridPoint", "check_axes", "expand",
           "resolve_baselines", "RunConfig", "from_yaml", "to_yaml", "load_config", "ConfigError", "LocatedYaml"]
