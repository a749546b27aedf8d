"""Column contracts of stages (PyTerrier's data model)."""
from __future__ import annotations

from typing import Iterable, Sequence

from .errors import MissingColumnError

QUERY_COLUMNS = ("qid", "query")
RESULT_COLUMNS = ("qid", "docno", "score", "rank")


def require_columns(stage: object, columns: Iterable[str], needed: Sequence[str], hint: str = "") -> None:
    """Raise :class:`MissingColumnError` naming ``stage`` when ``columns`` lacks one of ``needed``."""
    present = list(columns)
    missing = [c for c in needed if c not in present]
    if missing:
        raise MissingColumnError(stage, missing, present, hint)
