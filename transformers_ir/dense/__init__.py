"""Dense retrieval: bi-encoder vectors of a corpus, FAISS indexes, a forward index for re-scoring."""
from .index import INDEX_TYPES, DenseIndex
from .retriever import Dense
from .scorer import DenseScorer

__all__ = ["INDEX_TYPES", "DenseIndex", "Dense", "DenseScorer"]
