"""A deterministic synthetic collection with MS MARCO passage statistics, to test and measure at scale.

Words are made up (consonant-vowel syllables: frequent ranks get short words) and drawn from a Zipf distribution
over ``vocabulary`` ranks; passage and query lengths are log-normal. The statistics were fitted on the real MS MARCO
texts in ``../shared/data``: the 7,230 passages of ``msmarco-dl19-subset`` (words per passage: mean 59.6, median 52;
rank-frequency exponent 1.04 over ranks 10-10,000) and the 6,980 dev-small queries (mean 5.9 words). Query terms
skip the 100 most frequent ranks (the function words a stopword list removes). The same ``seed`` and sizes give the
same bytes.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .folder import FolderDataset

PASSAGE_WORDS = (4.013, 0.387)  # log-normal (mu, sigma) of words per passage
QUERY_WORDS = (1.692, 0.422)  # log-normal (mu, sigma) of words per query
ZIPF_S = 1.04
VOCABULARY = 3_000_000
FUNCTION_WORDS = 100
CHUNK = 10_000
_CONSONANTS, _VOWELS = "bcdfghjklmnpqrstvwxyz", "aeiou"
_SYLLABLES = [c + v for c in _CONSONANTS for v in _VOWELS]


def made_up_words(count: int) -> np.ndarray:
    """The word of each rank ``0..count-1`` (bytes): the rank's digits in base 105 as consonant-vowel syllables."""
    syllables = np.array(_SYLLABLES, dtype="S2")
    ranks = np.arange(count, dtype=np.int64)
    words = syllables[ranks % len(syllables)].astype("S16")
    rest = ranks // len(syllables)
    while rest.any():
        more = rest > 0
        words[more] = np.char.add(syllables[(rest[more] - 1) % len(syllables)], words[more])
        rest = np.where(more, (rest - 1) // len(syllables), 0)
    return words


class _Zipf:
    """Ranks drawn with probability proportional to ``1 / (rank + 1) ** s`` (inverse of the cumulative weights)."""

    def __init__(self, vocabulary: int, s: float, skip: int = 0):
        weights = 1.0 / np.arange(skip + 1, vocabulary + 1, dtype=np.float64) ** s
        self.cdf = np.cumsum(weights)
        self.cdf /= self.cdf[-1]
        self.skip = skip

    def draw(self, rng: np.random.Generator, count: int) -> np.ndarray:
        return np.searchsorted(self.cdf, rng.random(count), side="right") + self.skip


def _lengths(rng: np.random.Generator, count: int, mu_sigma: tuple[float, float], low: int, high: int) -> np.ndarray:
    return np.clip(np.rint(rng.lognormal(*mu_sigma, size=count)), low, high).astype(np.int64)


def _texts(words: np.ndarray, ranks: np.ndarray, lengths: np.ndarray) -> list[str]:
    tokens = words[ranks].tolist()
    ends = np.cumsum(lengths)
    return [b" ".join(tokens[end - n:end]).decode() for end, n in zip(ends.tolist(), lengths.tolist())]


def write_synthetic_collection(folder: str | Path, documents: int, queries: int = 1_000, seed: int = 0,
                               vocabulary: int = VOCABULARY) -> FolderDataset:
    """Write ``documents`` passages (``corpus.jsonl``, docnos ``p0``, ``p1``, ...) and ``queries`` queries
    (``topics.tsv``, qids ``q0``, ...) drawn as the module says into ``folder``, and open it (there are no qrels).
    Each block of ``CHUNK`` passages has its own seeded generator: a smaller collection is the first passages of a
    larger one, and the queries do not depend on the corpus size."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    words = made_up_words(vocabulary)
    zipf = _Zipf(vocabulary, ZIPF_S)
    with open(folder / "corpus.jsonl", "w", encoding="utf-8") as f:
        for block, first in enumerate(range(0, documents, CHUNK)):
            rng = np.random.default_rng([seed, block])
            lengths = _lengths(rng, CHUNK, PASSAGE_WORDS, 3, 250)
            texts = _texts(words, zipf.draw(rng, int(lengths.sum())), lengths)[:documents - first]
            f.writelines(f'{{"docno": "p{first + i}", "text": "{text}"}}\n' for i, text in enumerate(texts))
    rng = np.random.default_rng([seed, 1 << 32])
    lengths = _lengths(rng, queries, QUERY_WORDS, 1, 30)
    texts = _texts(words, _Zipf(vocabulary, ZIPF_S, FUNCTION_WORDS).draw(rng, int(lengths.sum())), lengths)
    with open(folder / "topics.tsv", "w", encoding="utf-8") as f:
        f.writelines(f"q{i}\t{text}\n" for i, text in enumerate(texts))
    return FolderDataset(folder)
