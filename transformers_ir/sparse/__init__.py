"""Sparse retrieval: BM25 on PISA (or Lucene), RM3 query expansion, learned-sparse impacts (SPLADE, uniCOIL) on PISA."""
from .analyzer import Analyzer
from .bm25 import BM25
from .impact_index import ImpactIndex
from .lucene import LuceneBM25, LuceneIndex
from .pisa_index import PisaTextIndex
from .rm3 import RM3
from .splade import SPLADE
from .splade_encoder import MissingMLMHeadError, SpladeEncoder, init_splade_from_mlm
from .unicoil import UniCOIL

__all__ = ["Analyzer", "BM25", "ImpactIndex", "LuceneBM25", "LuceneIndex", "MissingMLMHeadError", "PisaTextIndex",
           "RM3", "SPLADE", "SpladeEncoder", "UniCOIL", "init_splade_from_mlm"]
