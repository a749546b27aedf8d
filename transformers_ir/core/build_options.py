"""How index builds run: in this process, or sharded into Ray tasks — runtime settings, never part of an identity.

An index that encodes every document (dense vectors, ColBERT token vectors, learned-sparse impacts) is built in
shards of ``shard_size`` documents (see :mod:`transformers_ir.core.shards`). ``executor="local"`` encodes them one
after another here; ``executor="ray"`` sends each shard to a Ray task (``num_cpus`` / ``num_gpus`` per task, retried
``max_retries`` times when its worker dies) on a local ``ray.init()`` or the cluster at ``ray_address``, whose
workers get only the environment variables named in ``ray_env``. Either way the index is the same, at the same
path, with the same manifest identity.

In Python::

    with tir.build_options(executor="ray", shard_size=20_000, num_cpus=2):
        Dense("msmarco-passage").prepare()

(``tir.build_options(...)`` without ``with`` changes them for the rest of the process.) In a config,
``executor: ray`` with a ``ray: {shard_size, num_cpus, num_gpus, max_retries}`` section.
"""
from __future__ import annotations

import os
from typing import Iterable, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError

RAY_ENV = ("TIR_DATA_PATH", "TIR_CACHE_DIR", "TIR_TORCH_THREADS", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE",
           "TIR_PROGRESS")


class ShardSettings(BaseModel):
    """How a build is cut and what each Ray task gets (a config's ``ray:`` section)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    shard_size: int = Field(10_000, ge=1)
    num_cpus: float = Field(1.0, ge=0)
    num_gpus: float = Field(0.0, ge=0)
    max_retries: int = Field(3, ge=0)


class BuildOptions(ShardSettings):
    """:class:`ShardSettings`, the executor, and where Ray is."""

    executor: Literal["local", "ray"] = "local"
    ray_address: Optional[str] = None
    ray_env: tuple[str, ...] = RAY_ENV


_current = BuildOptions()


def current_build_options() -> BuildOptions:
    """The options index builds use now."""
    return _current


class build_options:
    """Change the build options (``executor``, ``shard_size``, ``num_cpus``, ``num_gpus``, ``max_retries``,
    ``ray_address``, ``ray_env``) now; used as a context manager, the previous ones come back at its end.
    A bad value is a ``ValueError`` naming the option."""

    def __init__(self, **changes):
        global _current
        try:
            options = BuildOptions.model_validate({**_current.model_dump(), **changes})
        except ValidationError as e:
            error = e.errors()[0]
            name = ".".join(str(p) for p in error["loc"])
            raise ValueError(f"build_options: {name!r} {error['msg'].removeprefix('Value error, ')} "
                             f"(got {error.get('input')!r})") from None
        self.previous, _current = _current, options

    def __enter__(self) -> BuildOptions:
        return _current

    def __exit__(self, *exc) -> None:
        global _current
        _current = self.previous


def forwarded_env(names: Iterable[str]) -> dict[str, str]:
    """The variables of this process named in ``names`` (those that are set)."""
    return {name: os.environ[name] for name in names if name in os.environ}


def init_ray(address: str | None, env: dict[str, str]):
    """``ray``, connected: the running session if there is one, else ``ray.init(address)`` with workers that get
    the variables ``env`` (only those: see :func:`forwarded_env`)."""
    import ray
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, log_to_driver=False, runtime_env={"env_vars": env})
    return ray
