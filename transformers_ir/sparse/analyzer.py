"""Text analysis choices for PISA indexes: stemmer and stopwords."""
from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from functools import cached_property

STEMMERS = ("porter2", "porter", "krovetz", "none")


@dataclass(frozen=True)
class Analyzer:
    """PISA's tokenizer, then a stemmer (``porter2``, ``porter``, ``krovetz`` or ``none``) and Terrier's stopwords.

    ``porter2`` and ``krovetz`` run inside PISA. ``porter`` (Porter's original algorithm, as in Terrier)
    is applied here with PyStemmer, so documents and queries reach PISA as pre-tokenised term counts.
    """

    stemmer: str = "porter2"
    stopwords: bool = True

    def __post_init__(self):
        if self.stemmer not in STEMMERS:
            raise ValueError(f"unknown stemmer {self.stemmer!r}; choose from {list(STEMMERS)}")

    @property
    def pretokenised(self) -> bool:
        return self.stemmer == "porter"

    @property
    def pisa_stemmer(self) -> str:
        return "none" if self.pretokenised else self.stemmer

    @property
    def pisa_stops(self) -> str:
        return "terrier" if self.stopwords and not self.pretokenised else "none"

    @cached_property
    def _stops(self) -> frozenset[str]:
        from pyterrier_pisa.stopwords import _STOPWORDS
        return frozenset(_STOPWORDS["terrier"]) if self.stopwords else frozenset()

    @cached_property
    def _stem(self):
        import Stemmer
        return Stemmer.Stemmer("porter").stemWord

    def toks(self, text: str) -> dict[str, int]:
        """Term counts of ``text`` (only used for the pre-tokenised ``porter`` analyzer)."""
        import pyterrier_pisa
        terms = (t for t in pyterrier_pisa.tokenize(text, "none") if t not in self._stops)
        return dict(Counter(self._stem(t) for t in terms))

    def as_dict(self) -> dict:
        return asdict(self)
