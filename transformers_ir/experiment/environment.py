"""What a run records about where it ran: package versions, git commit, Python, CPU and GPU."""
from __future__ import annotations

import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

PACKAGES = ("transformers-ir", "pyterrier", "pyterrier-pisa", "ir-measures", "ir-datasets", "pandas", "numpy",
            "torch", "sentence-transformers", "transformers", "faiss-cpu")


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


def cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def gpu() -> str | None:
    torch = sys.modules.get("torch")
    return torch.cuda.get_device_name(0) if torch is not None and torch.cuda.is_available() else None


def environment() -> dict:
    """Everything above, as the manifest records it."""
    return {"git_commit": git_commit(), "packages": versions(), "python": platform.python_version(),
            "platform": platform.platform(), "cpu": cpu(), "cpu_count": os.cpu_count(), "gpu": gpu()}
