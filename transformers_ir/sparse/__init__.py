"""Sparse retrieval: BM25 on PISA (or Lucene), learned-sparse impacts (SPLADE, uniCOIL) on PISA."""
from .analyzer import Analyzer
from .bm25 import BM25
from .impact_index import ImpactIndex
from .lucene import LuceneBM25, LuceneIndex
from .pisa_index import PisaTextIndex
from .splade import SPLADE
from .splade_encoder import MissingMLMHeadError, SpladeEncoder, init_splade_from_mlm
from .unicoil import UniCOIL

__all__ = ["Analyzer", "BM25", "ImpactIndex", "LuceneBM25", "LuceneIndex", "MissingMLMHeadError", "PisaTextIndex",
           "SPLADE", "SpladeEncoder", "UniCOIL", "init_splade_from_mlm"]
