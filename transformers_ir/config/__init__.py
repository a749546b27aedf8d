"""YAML configs: schema, expression grammar, and building stages and pipelines from them."""
from .build import build_pipelines, build_stages
from .expression import ExpressionError, evaluate, parse_expression
from .schema import RunConfig, load_config
from .yamlmap import ConfigError, LocatedYaml

__all__ = ["build_pipelines", "build_stages", "ExpressionError", "evaluate", "parse_expression", "RunConfig",
           "load_config", "ConfigError", "LocatedYaml"]
