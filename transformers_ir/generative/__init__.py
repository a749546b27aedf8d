"""Generative retrieval: DSI docid schemes, indexing by training, decoding constrained by a docid trie."""
from .docids import (DocidMapping, MissingDocidsError, UnknownDocnoError, atomic_docids, extend_docids, make_docids,
                     naive_docids, semantic_docids)
from .index import DSIIndex
from .model import DocidModel, DocidVocabulary
from .stage import DSI
from .training import TrainingConfig, train_dsi
from .trie import DocidTrie

__all__ = ["DocidMapping", "MissingDocidsError", "UnknownDocnoError", "atomic_docids", "extend_docids", "make_docids",
           "naive_docids", "semantic_docids", "DSIIndex", "DocidModel", "DocidVocabulary", "DSI", "TrainingConfig",
           "train_dsi", "DocidTrie"]
