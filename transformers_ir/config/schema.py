"""The experiment config (``tir run CONFIG.yaml``), validated by pydantic."""
from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .yamlmap import LocatedYaml


class Significance(BaseModel):
    model_config = ConfigDict(extra="forbid")
    test: Literal["t", "wilcoxon"] = "t"
    correction: Optional[str] = None
    alpha: float = 0.05


class RunConfig(BaseModel):
    """``name, dataset, split, metrics, stages, pipelines, output`` (+ ``baseline``, ``significance``)."""

    model_config = ConfigDict(extra="forbid")
    name: str
    dataset: str
    split: Optional[str] = None
    metrics: list[str] = Field(min_length=1)
    stages: dict[str, dict[str, Any]] = Field(default_factory=dict)
    pipelines: dict[str, str] = Field(min_length=1)
    output: Optional[str] = None
    baseline: Optional[str] = None
    significance: Significance = Field(default_factory=Significance)

    @field_validator("stages")
    @classmethod
    def _stage_classes(cls, stages: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        for name, spec in stages.items():
            if "class" not in spec:
                raise ValueError(f"stage {name!r} has no 'class'")
        return stages


def load_config(path: str) -> tuple[RunConfig, LocatedYaml]:
    """Parse and validate a config file; errors name file, line and key."""
    doc = LocatedYaml(path)
    if not isinstance(doc.data, dict):
        raise doc.error((), "a config must be a mapping of keys (name, dataset, metrics, stages, pipelines, ...)")
    try:
        config = RunConfig.model_validate(doc.data)
    except ValidationError as e:
        err = e.errors()[0]
        loc = tuple(err["loc"])
        if err["type"] == "value_error" and loc == ("stages",):
            stage = str(err["ctx"]["error"]).split("'")[1]
            loc = ("stages", stage)
        message = err["msg"] if err["type"] != "extra_forbidden" else "unknown key"
        if err["type"] == "missing":
            message = f"missing required key '{loc[-1]}'"
            loc = loc[:-1]
        raise doc.error(loc, message) from None
    if config.baseline is not None and config.baseline not in config.pipelines:
        raise doc.error(("baseline",), f"baseline {config.baseline!r} is not a pipeline name ({list(config.pipelines)})")
    return config, doc
