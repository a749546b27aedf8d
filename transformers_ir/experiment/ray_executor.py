"""Running grid points as Ray tasks, on a local ``ray.init()`` or an existing cluster (``ray_address``).

Only the environment variables a config names (``ray_env``) are forwarded to the workers: a cluster address in a
config must not receive every token of the submitting shell.
"""
from __future__ import annotations

import os
from typing import Any, Callable, Iterable, Iterator

def forwarded_env(names: Iterable[str]) -> dict[str, str]:
    """The variables of this process named in ``names`` (those that are set)."""
    return {name: os.environ[name] for name in names if name in os.environ}


def ray_map(fn: Callable[..., Any], calls: list[tuple], address: str | None, env: dict[str, str]) -> Iterator[Any]:
    """``fn(*args)`` for each ``args`` of ``calls`` as Ray tasks (workers get ``env``), yielding results as they
    finish."""
    import ray
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, log_to_driver=False, runtime_env={"env_vars": env})
    task = ray.remote(fn)
    pending = [task.remote(*args) for args in calls]
    while pending:
        ready, pending = ray.wait(pending, num_returns=1)
        yield ray.get(ready[0])
