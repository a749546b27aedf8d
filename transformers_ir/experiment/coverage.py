"""Which topics an evaluation can score: topics without qrels, and qrels for topics that were not run.

qids are compared as strings, exactly (``"01"`` is not ``"1"``). A topic without qrels is not evaluated (as in
``pt.Experiment`` and trec_eval); qrels of a topic that was not run do not count. Both are reported where every
evaluation starts; ``strict`` makes either an error.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import pandas as pd

from ..core import TirError

SHOWN = 10


class CoverageError(TirError, ValueError):
    """Topics and qrels do not match and the evaluation is strict."""


@dataclass(frozen=True)
class Coverage:
    topics: int
    evaluated: int
    without_qrels: list[str]
    qrels_without_topics: list[str]

    @property
    def complete(self) -> bool:
        return not self.without_qrels and not self.qrels_without_topics

    def messages(self) -> list[str]:
        """One line per gap, naming (up to ten of) its qids."""
        def listed(qids: list[str]) -> str:
            return ", ".join(qids[:SHOWN]) + (f", ... ({len(qids) - SHOWN} more)" if len(qids) > SHOWN else "")
        out = []
        if self.without_qrels:
            out.append(f"{len(self.without_qrels)} topic(s) without qrels, not evaluated: {listed(self.without_qrels)}")
        if self.qrels_without_topics:
            out.append(f"qrels for {len(self.qrels_without_topics)} qid(s) not in the topics: "
                       f"{listed(self.qrels_without_topics)}")
        return out

    def as_dict(self) -> dict:
        return asdict(self)


def coverage(topics: pd.DataFrame, qrels: pd.DataFrame) -> Coverage:
    """Compare the qids of ``topics`` and ``qrels`` (both already with string qids)."""
    topic_qids = list(dict.fromkeys(topics["qid"]))
    judged = set(qrels["qid"])
    asked = set(topic_qids)
    return Coverage(len(topic_qids), sum(q in judged for q in topic_qids), [q for q in topic_qids if q not in judged],
                    sorted(judged - asked))


def check_coverage(found: Coverage, strict: bool) -> None:
    """Raise :class:`CoverageError` when ``strict`` and topics and qrels do not match, or when no topic has qrels."""
    if found.evaluated == 0:
        raise CoverageError("no topic has qrels: nothing can be evaluated (qids are compared as strings, exactly: "
                            "'01' is not '1'). " + " ".join(found.messages()))
    if strict and not found.complete:
        raise CoverageError("strict: topics and qrels do not match: " + "; ".join(found.messages()))
