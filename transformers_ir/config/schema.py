"""The experiment config (``tir run CONFIG.yaml``), validated by pydantic."""
from __future__ import annotations

from typing import Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..core.build_options import RAY_ENV, ShardSettings
from .include import resolve_includes
from .yamlmap import LocatedYaml


class Significance(BaseModel):
    model_config = ConfigDict(extra="forbid")
    test: Literal["t", "wilcoxon", "permutation"] = "t"
    correction: Optional[str] = None
    alpha: float = Field(0.05, gt=0, lt=1)


class CostSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    hardware: str
    usd_per_hour: float = Field(gt=0)


class Latency(BaseModel):
    model_config = ConfigDict(extra="forbid")
    queries: int = Field(50, ge=0)


class Timing(BaseModel):
    """Each computed stage runs ``warmup`` untimed and ``repeats`` timed times (batch runs and the latency sample)."""
    model_config = ConfigDict(extra="forbid")
    repeats: int = Field(3, ge=1)
    warmup: int = Field(1, ge=0)


class Table(BaseModel):
    """What table.tex / table.md / the printed table show (see ``transformers_ir.experiment.report``)."""
    model_config = ConfigDict(extra="forbid")
    columns: Optional[list[str]] = None
    digits: dict[str, int] = Field(default_factory=dict)
    names: dict[str, str] = Field(default_factory=dict)
    pipelines: Optional[list[str]] = None
    width: Literal["auto", "column", "page"] = "auto"
    caption: Optional[str] = None
    label: Optional[str] = None


class Reproduce(BaseModel):
    """``tir reproduce``: the figures a config must give (``expected[pipeline][metric]``), the window around them
    still accepted as OKish (``tolerance``), published figures shown beside, and whether ``--fast`` runs it."""
    model_config = ConfigDict(extra="forbid")
    fast: bool = False
    tolerance: float = Field(0.005, gt=0)
    expected: dict[str, dict[str, float]] = Field(min_length=1)
    published: dict[str, dict[str, float]] = Field(default_factory=dict)


class RunConfig(BaseModel):
    """A grid of pipelines over one or more datasets; see README "Configs".

    ``name`` is a label (the default output folder is ``results/<name made filesystem-safe>``); ``strict`` makes
    topics without qrels (or qrels without topics) an error; ``ray_env`` lists the environment variables forwarded
    to Ray workers (nothing else is); ``ray`` says how ``executor: ray`` shards index builds (shard size, CPUs and
    GPUs per task, retries of a task whose worker died).
    """

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1)
    include: list[str] = Field(default_factory=list)
    dataset: Optional[str] = None
    datasets: Optional[list[str]] = None
    split: Optional[str] = None
    metrics: list[str] = Field(min_length=1)
    stages: dict[str, dict[str, Any]] = Field(default_factory=dict)
    pipelines: dict[str, str] = Field(min_length=1)
    grid: dict[str, list[Any]] = Field(default_factory=dict)
    baseline: Union[str, list[str], None] = None
    significance: Significance = Field(default_factory=Significance)
    cost: Union[str, CostSpec, None] = None
    latency: Latency = Field(default_factory=Latency)
    timing: Timing = Field(default_factory=Timing)
    table: Table = Field(default_factory=Table)
    executor: Literal["local", "ray"] = "local"
    ray_address: Optional[str] = None
    ray_env: list[str] = Field(default_factory=lambda: list(RAY_ENV))
    ray: ShardSettings = Field(default_factory=ShardSettings)
    strict: bool = False
    pareto_metric: Optional[str] = None
    seed: int = 42
    output: Optional[str] = None
    reproduce: Optional[Reproduce] = None

    @field_validator("stages")
    @classmethod
    def _stage_classes(cls, stages: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        for name, spec in stages.items():
            if "class" not in spec:
                raise ValueError(f"stage {name!r} has no 'class'")
        return stages

    @model_validator(mode="after")
    def _one_dataset_key(self) -> "RunConfig":
        if (self.dataset is None) == (self.datasets is None):
            raise ValueError("give exactly one of 'dataset' or 'datasets'")
        return self

    @property
    def dataset_names(self) -> list[str]:
        return [self.dataset] if self.dataset is not None else list(self.datasets)

    @property
    def baselines(self) -> list[str]:
        return [] if self.baseline is None else [self.baseline] if isinstance(self.baseline, str) else self.baseline


def load_config(path: str, overrides: dict[str, Any] | None = None) -> tuple[RunConfig, LocatedYaml]:
    """Parse and validate a config file; errors name file, line and key. ``overrides``: ``{"bm25.k1": 1.2}``."""
    doc = LocatedYaml(path)
    if not isinstance(doc.data, dict):
        raise doc.error((), "a config must be a mapping of keys (name, dataset, metrics, stages, pipelines, ...)")
    resolve_includes(doc)
    for dotted, value in (overrides or {}).items():
        stage, _, param = dotted.partition(".")
        if stage not in (doc.data.get("stages") or {}) or not param:
            raise doc.error(("stages",), f"--set {dotted}: no stage {stage!r} (write STAGE.PARAM=VALUE)")
        doc.data["stages"][stage][param] = value
        doc.data.get("grid", {}).pop(dotted, None)  # a fixed value replaces a swept axis
    try:
        config = RunConfig.model_validate(doc.data)
    except ValidationError as e:
        err = max(e.errors(), key=lambda error: (len(_located(tuple(error["loc"]), doc)), len(error["loc"])))  # deepest
        loc = _located(tuple(err["loc"]), doc)
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "value_error" and loc == ("stages",):
            loc = ("stages", message.split("'")[1])
        if err["type"] == "extra_forbidden":
            message = "unknown key"
        elif err["type"] == "missing":
            message, loc = f"missing required key '{loc[-1]}'", loc[:-1]
        raise doc.error(loc, message) from None
    return config, doc


def _located(loc: tuple, doc: LocatedYaml) -> tuple:
    """pydantic's error location without the union-member names it inserts (``cost.CostSpec.usd_per_hour`` ->
    ``cost.usd_per_hour``): the keys that exist in the document, plus a last missing or unknown one."""
    out: tuple = ()
    for i, part in enumerate(loc):
        if out + (part,) in doc.lines or i == len(loc) - 1 or isinstance(part, int):
            out += (part,)
    return out
