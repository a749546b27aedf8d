"""Sparse retrieval: BM25 and (later) learned-sparse indexes on PISA."""
from .analyzer import Analyzer
from .bm25 import BM25
from .pisa_index import PisaTextIndex

__all__ = ["Analyzer", "BM25", "PisaTextIndex"]
