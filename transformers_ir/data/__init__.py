"""Datasets: local folders, names on ``TIR_DATA_PATH``, ``irds:<id>``, PyTerrier and ir_datasets objects; TREC
file IO; document text."""
from __future__ import annotations

from .corpus import CorpusError, checked_documents, document_text, document_texts
from .dataset import Dataset
from .docstore import DocStore
from .folder import FolderDataset, write_folder
from .irds import IrdsDataset
from .load import DatasetLike, data_search_path, load_dataset
from .pt_dataset import PtDataset
from .run_file import RunFile
from .text_loader import TextLoader
from .trec import add_ranks, read_qrels, read_run, read_topics, write_run

__all__ = ["CorpusError", "checked_documents", "document_text", "document_texts", "Dataset", "DocStore", "RunFile", "TextLoader",
           "FolderDataset", "IrdsDataset", "PtDataset", "DatasetLike", "load_dataset", "data_search_path", "read_topics",
           "read_qrels", "read_run", "write_run", "write_folder", "add_ranks"]
