"""What a run records about where it ran: package versions, git commit, Python, platform and hardware."""
from __future__ import annotations

import platform
import subprocess
from functools import lru_cache
from importlib import metadata
from pathlib import Path

from .timing import hardware

PACKAGES = ("transformers-ir", "pyterrier", "pyterrier-pisa", "ir-measures", "ir-datasets", "pandas", "numpy",
            "torch", "sentence-transformers", "transformers", "faiss-cpu")


@lru_cache(maxsize=1)
def versions() -> dict[str, str]:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def git_commit() -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True,
                              cwd=Path(__file__).parent).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def environment() -> dict:
    """Everything above, as the manifest records it (``hardware``: CPU model, cores, torch threads, BLAS, GPU)."""
    return {"git_commit": git_commit(), "packages": dict(versions()), "python": platform.python_version(),
            "platform": platform.platform(), "hardware": hardware()}
