"""SPLADE vectors from a masked-LM checkpoint (sentence-transformers ``SparseEncoder``), and an MLM-head init."""
from __future__ import annotations

import functools
import json
import math
from collections import Counter
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from ..core import TirError
from ..encoders import choose_device, model_identity, resolve_model

SparseVector = dict[str, float]


class MissingMLMHeadError(TirError, ValueError):
    """A checkpoint without a trained masked-LM head (SPLADE needs one)."""

    def __str__(self) -> str:
        return self.args[0]


def _missing_mlm_head(folder: str) -> list[str]:
    """Names of masked-LM head parameters that ``folder``'s weights lack (freshly initialised on load)."""
    from transformers import AutoModelForMaskedLM
    _, info = AutoModelForMaskedLM.from_pretrained(folder, output_loading_info=True)
    return list(info["missing_keys"])


def _is_sparse_encoder(folder: str) -> bool:
    modules = Path(folder) / "modules.json"
    return modules.exists() and "SpladePooling" in modules.read_text()


def load_splade(name_or_path: str | Path, device: str | None = None, max_length: int | None = 256):
    """A ``SparseEncoder`` (MLM transformer + SPLADE max pooling) for a masked-LM checkpoint.

    Raises :class:`MissingMLMHeadError` when the checkpoint has no trained MLM head (e.g. a plain
    bi-encoder such as all-MiniLM-L6-v2: make one with :func:`init_splade_from_mlm` first).
    """
    from sentence_transformers.sparse_encoder import SparseEncoder
    from sentence_transformers.sparse_encoder.modules import SpladePooling, Transformer
    folder = resolve_model(name_or_path)
    device = choose_device(device)
    if _is_sparse_encoder(folder):
        model = SparseEncoder(folder, device=device)
    else:
        missing = _missing_mlm_head(folder)
        if missing:
            raise MissingMLMHeadError(
                f"{name_or_path}: no trained masked-LM head in this checkpoint (missing {missing[:4]}"
                f"{'…' if len(missing) > 4 else ''}); SPLADE needs one. Use a SPLADE or MLM checkpoint (e.g. "
                f"naver/splade-cocondenser-ensembledistil), or initialise one with "
                f"transformers_ir.sparse.init_splade_from_mlm({str(name_or_path)!r}, output_dir, texts) and train it.")
        model = SparseEncoder(modules=[Transformer(folder, transformer_task="fill-mask"), SpladePooling("max")],
                              device=device)
    if max_length is not None:
        model.max_seq_length = max_length
    return model


def init_splade_from_mlm(base: str | Path, output_dir: str | Path, texts: Sequence[str], *, percentile: float = 99.0,
                         max_length: int = 256, batch_size: int = 32) -> Path:
    """Save a SPLADE ``SparseEncoder`` built on ``base`` whose MLM head is set so untrained vectors are sparse.

    A checkpoint without a trained head gets freshly initialised MLM transform and bias (the decoder is tied to
    the input embeddings), which makes every vocabulary term active. Here the transform becomes the identity
    (dense = I, LayerNorm = 1/0) and each term's bias is minus the ``percentile`` of its max-pooled logit over
    ``texts``: a term is then active in about ``100 - percentile`` % of such texts, and special tokens never are.
    """
    import torch
    from sentence_transformers.sparse_encoder import SparseEncoder
    from sentence_transformers.sparse_encoder.modules import SpladePooling, Transformer
    folder = resolve_model(base)
    module = Transformer(folder, transformer_task="fill-mask", max_seq_length=max_length)
    mlm = module.auto_model
    head = mlm.get_output_embeddings()
    transform = getattr(getattr(mlm, "cls", None), "predictions", None)
    if transform is None or not hasattr(transform, "transform"):
        raise MissingMLMHeadError(f"{base}: init_splade_from_mlm supports BERT-style heads (cls.predictions), "
                                  f"not {type(mlm).__name__}")
    with torch.no_grad():
        dense, norm = transform.transform.dense, transform.transform.LayerNorm
        dense.weight.copy_(torch.eye(dense.weight.shape[0]))
        dense.bias.zero_()
        norm.weight.fill_(1.0)
        norm.bias.zero_()
        model = SparseEncoder(modules=[module, SpladePooling("max", activation_function="relu")], device="cpu")
        model.eval()
        pooled = []
        tokenizer = module.tokenizer
        for start in range(0, len(texts), batch_size):
            features = tokenizer(list(texts[start:start + batch_size]), padding=True, truncation=True,
                                 max_length=max_length, return_tensors="pt")
            logits = mlm(**features).logits
            logits = logits.masked_fill(~features["attention_mask"].bool()[..., None], -1e4)
            pooled.append(logits.max(dim=1).values)
        bias = -torch.quantile(torch.cat(pooled).float(), percentile / 100.0, dim=0)
        bias[tokenizer.all_special_ids] = -1e4
        transform.bias.copy_(bias)
        head.bias.copy_(bias)
    output_dir = Path(output_dir)
    model.save(str(output_dir))
    (output_dir / "splade_init.json").write_text(json.dumps(
        {"base": str(base), "percentile": percentile, "texts": len(texts), "max_length": max_length}, indent=2))
    return output_dir


def top_k_terms(indices: np.ndarray, values: np.ndarray, k: int | None) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` largest (index, value) pairs (all when ``k`` is None), largest first, ties by index."""
    order = np.lexsort((indices, -values))
    if k is not None:
        order = order[:k]
    return indices[order], values[order]


class SpladeEncoder:
    """Encodes texts to ``{token: weight}`` with a SPLADE model (``log(1 + relu(logits))`` max-pooled).

    Special tokens are never terms; ``doc_top_k`` keeps each document's largest terms (pruning);
    ``query_encoder="idf"`` makes the query side inference-free: a query's vector is its WordPiece tokens
    weighted by IDF (see :meth:`fit_idf`), with no model run at query time.
    """

    def __init__(self, model: str | Path, *, batch_size: int = 32, max_length: int | None = 256,
                 doc_top_k: int | None = None, query_encoder: str = "model", device: str | None = None,
                 show_progress: bool = False):
        if query_encoder not in ("model", "idf"):
            raise ValueError(f"query_encoder must be 'model' or 'idf', not {query_encoder!r}")
        self.model_name = str(model)
        self.batch_size, self.max_length, self.doc_top_k = int(batch_size), max_length, doc_top_k
        self.query_encoder, self.device, self.show_progress = query_encoder, device, show_progress
        self._model = None
        self.idf: dict[str, float] | None = None

    def __repr__(self) -> str:
        return f"SpladeEncoder({self.model_name!r})"

    @property
    def model(self):
        if self._model is None:
            self._model = load_splade(self.model_name, self.device, self.max_length)
        return self._model

    def load(self) -> None:
        """Load what query time needs (the model, or only the tokenizer for inference-free queries)."""
        _ = self.tokenizer if self.query_encoder == "idf" else self.model

    @functools.cached_property
    def tokenizer(self):
        """The model's tokenizer (loaded alone, without the model, for inference-free queries)."""
        if self._model is None and self.query_encoder == "idf":
            from transformers import AutoTokenizer
            return AutoTokenizer.from_pretrained(resolve_model(self.model_name))
        return self.model.tokenizer

    def identity(self) -> dict:
        """Model weights and encoding choices (what an index built with this encoder records)."""
        ident = model_identity(self.model_name)
        return {"name": ident["name"], "weights_sha256": ident["weights_sha256"], "max_length": self.max_length,
                "doc_top_k": self.doc_top_k}

    @functools.cached_property
    def _vocab(self) -> tuple[list[str], np.ndarray]:
        """Token of each output dimension, and the dimensions of special tokens (never terms)."""
        tokenizer = self.model.tokenizer
        return (tokenizer.convert_ids_to_tokens(list(range(self.model.get_embedding_dimension()))),
                np.array(sorted(tokenizer.all_special_ids)))

    def _to_terms(self, embeddings, top_k: int | None) -> list[SparseVector]:
        vocab, special = self._vocab
        coo = embeddings.coalesce().cpu()
        rows, cols = coo.indices().numpy()
        values = coo.values().float().numpy()
        out: list[SparseVector] = []
        bounds = np.searchsorted(rows, np.arange(embeddings.shape[0] + 1))
        for r in range(embeddings.shape[0]):
            idx, val = cols[bounds[r]:bounds[r + 1]], values[bounds[r]:bounds[r + 1]]
            keep = (val > 0) & ~np.isin(idx, special)
            idx, val = top_k_terms(idx[keep], val[keep], top_k)
            out.append({vocab[i]: float(v) for i, v in zip(idx, val)})
        return out

    def _encode(self, texts: Sequence[str], document: bool) -> list[SparseVector]:
        texts = ["" if t is None else str(t) for t in texts]
        if not texts:
            return []
        encode = self.model.encode_document if document else self.model.encode_query
        embeddings = encode(texts, batch_size=self.batch_size, convert_to_sparse_tensor=True,
                            show_progress_bar=self.show_progress)
        return self._to_terms(embeddings, self.doc_top_k if document else None)

    def encode_documents(self, texts: Sequence[str]) -> list[SparseVector]:
        return self._encode(texts, document=True)

    def encode_queries(self, texts: Sequence[str]) -> list[SparseVector]:
        if self.query_encoder == "idf":
            return [self._idf_vector(t) for t in texts]
        return self._encode(texts, document=False)

    def fit_idf(self, texts: Iterable[str]) -> dict[str, float]:
        """IDF of each WordPiece token over ``texts`` (the inference-free query weights): ``log(N / df)``."""
        tokenizer, df, n = self.tokenizer, Counter(), 0
        for text in texts:
            df.update(set(tokenizer.tokenize(text or "")))
            n += 1
        self.idf = {t: math.log(n / c) for t, c in df.items() if c < n}
        return self.idf

    def _idf_vector(self, text: str) -> SparseVector:
        if self.idf is None:
            raise RuntimeError(f"{self}: query_encoder='idf' needs fit_idf(corpus texts) first")
        return {t: self.idf[t] for t in set(self.tokenizer.tokenize(text or "")) if t in self.idf}
