"""Native engines (PISA, Lucene's JVM) print to the process's file descriptors: keep that in logs, and quote
their last lines when they fail."""
from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Iterator


@contextlib.contextmanager
def redirect_native_output(log_path: Path) -> Iterator[None]:
    """Send what native code prints to file descriptors 1 and 2 to ``log_path`` (appended) instead of the terminal."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    saved = [os.dup(1), os.dup(2)]
    with open(log_path, "ab") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)


def log_tail(path: Path, lines: int = 15) -> str:
    """The last ``lines`` lines of a log, indented, for an error message ('' when there is no log)."""
    try:
        text = Path(path).read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join("    " + line for line in text[-lines:])
