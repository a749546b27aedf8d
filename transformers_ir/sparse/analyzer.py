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

    @cached_property
    def _stemmed_stops(self) -> frozenset[str]:
        import pyterrier_pisa
        return frozenset(t for s in self._stops for t in pyterrier_pisa.tokenize(s, self.pisa_stemmer))

    def terms(self, text: str) -> list[str]:
        """The terms of ``text`` as the index holds them and a query matches them, stopwords removed. With PISA's
        own stemmers a term is dropped when it is a stemmed stopword, as PISA does at query time ("difference"
        -> "differ", the stem of the stopword "different")."""
        import pyterrier_pisa
        if self.pretokenised:
            return [self._stem(t) for t in pyterrier_pisa.tokenize(text, "none") if t not in self._stops]
        return [t for t in pyterrier_pisa.tokenize(text, self.pisa_stemmer) if t not in self._stemmed_stops]

    def toks(self, text: str) -> dict[str, int]:
        """Term counts of ``text`` (used as the query of the pre-tokenised ``porter`` analyzer)."""
        return dict(Counter(self.terms(text)))

    def as_dict(self) -> dict:
        return asdict(self)
