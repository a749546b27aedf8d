"""Where transformers-ir keeps what it builds (indexes, document stores)."""
from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """``$TIR_CACHE_DIR``, else ``~/.cache/transformers_ir``."""
    root = os.environ.get("TIR_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "transformers_ir")
    return Path(root)
