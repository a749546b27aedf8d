"""Running grid points and independent index builds as Ray tasks, on a local ``ray.init()`` or an existing cluster
(``ray_address``).

Only the environment variables a config names (``ray_env``) are forwarded to the workers: a cluster address in a
config must not receive every token of the submitting shell.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable, Iterator

import pyterrier as pt

from ..core.build_options import BuildOptions, build_options, current_build_options, forwarded_env, init_ray

__all__ = ["forwarded_env", "prepare_side_by_side", "ray_map"]


def ray_map(fn: Callable[..., Any], calls: list[tuple], address: str | None, env: dict[str, str]) -> Iterator[Any]:
    """``fn(*args)`` for each ``args`` of ``calls`` as Ray tasks (workers get ``env``), yielding results as they
    finish."""
    ray = init_ray(address, env)
    task = ray.remote(fn)
    pending = [task.remote(*args) for args in calls]
    while pending:
        ready, pending = ray.wait(pending, num_returns=1)
        yield ray.get(ready[0])


def prepare_side_by_side(stages: Iterable[pt.Transformer], options: BuildOptions | None = None) -> dict[str, str]:
    """Build the indexes of ``stages`` that are not built yet, one Ray task per index, all at once (their encoding
    shards, in turn, are Ray tasks: ``options``, default the current ones). Stages sharing an index are prepared
    one after another in its task. Returns ``{index path: error}`` for the builds that failed (the stages raise
    the same error again when prepared where they run)."""
    options = options or current_build_options()
    groups: dict[str, list[pt.Transformer]] = {}
    for stage in stages:
        path = _unbuilt_index(stage)
        if path is not None and not any(s is stage for s in groups.get(path, [])):
            groups.setdefault(path, []).append(stage)
    if not groups:
        return {}
    env = forwarded_env(options.ray_env)
    ray = init_ray(options.ray_address, env)
    task = ray.remote(_prepare_in_turn).options(num_cpus=1, max_retries=options.max_retries)
    refs = {path: task.remote(group, options, env) for path, group in groups.items()}
    return {path: error for path, ref in refs.items() if (error := ray.get(ref))}


def _unbuilt_index(stage: pt.Transformer) -> str | None:
    """The path of the index ``stage.prepare()`` would build, when it has one that is not built yet."""
    if not callable(getattr(stage, "prepare", None)):
        return None
    try:
        index = getattr(stage, "index", None)
        built = index.built()
    except Exception:  # no index (or none without more input): nothing to build ahead
        return None
    return None if built or not hasattr(index, "path") else str(index.path)


def _prepare_in_turn(stages: list[pt.Transformer], options: BuildOptions, env: dict[str, str]) -> str | None:
    """A Ray task: prepare ``stages`` (which share an index) under ``options`` and the forwarded ``env``; the
    first error as text."""
    import os
    os.environ.update(env)
    with build_options(**options.model_dump()):
        for stage in stages:
            try:
                stage.prepare()
            except Exception as e:
                return f"{type(e).__name__}: {e}"
    return None
