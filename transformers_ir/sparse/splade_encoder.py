"""SPLADE vectors from a masked-LM checkpoint (sentence-transformers ``SparseEncoder``, pooled on non-padding positions
with a fused, chunked vocabulary projection), and an MLM-head init."""
from __future__ import annotations

import functools
import json
import math
from collections import Counter
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from ..core import TirError
from ..encoders import choose_device, length_batches, model_identity, resolve_model, token_lengths
from ..encoders.batching import progress

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


BF16_ERROR = 2.0 ** -6  # |bf16 logit - float logit| <= BF16_ERROR * |h| * |w| (inputs and output rounded to 8 bits)


class MaxPooledMLM:
    """SPLADE max pooling ``log(1 + relu(max_t logit_t))`` of a masked LM computed on its non-padding positions only,
    the vocabulary projection taken in chunks with the max over positions fused into it (a text's
    tokens x vocabulary logits are never held at once). ``log(1 + relu(.))`` is monotone, so pooling the logits and
    transforming the pooled vector equals sentence-transformers' transform-then-pool.

    ``bf16``: the projection runs in bfloat16 (AMX on recent Xeons) to find each text's candidate terms, those whose
    bfloat16 pooled logit plus its rounding-error bound is positive; their weights are then recomputed in float32.
    No term is lost (the bound is rigorous), so the vectors are the float32 ones.
    """

    def __init__(self, body, transform, weight, bias, double_log: bool, bf16: bool = False):
        import torch
        self.body, self.transform, self.double_log, self.bf16 = body, transform, double_log, bf16
        self.weight = weight.detach()
        self.bias = bias.detach() if bias is not None else torch.zeros(weight.shape[0], device=weight.device)
        if bf16:
            self.weight_bf16 = self.weight.to(torch.bfloat16)
            self.weight_norms = self.weight.norm(dim=1)

    @classmethod
    def of(cls, model, bf16: bool = False) -> "MaxPooledMLM | None":
        """For a ``SparseEncoder`` made of a BERT / DistilBERT masked LM and SPLADE max pooling; None for any other
        (those are encoded by sentence-transformers itself)."""
        from sentence_transformers.base.modules import Transformer
        from sentence_transformers.sparse_encoder.modules import SpladePooling
        modules = list(model)
        if (len(modules) != 2 or not isinstance(modules[0], Transformer) or not isinstance(modules[1], SpladePooling)
                or modules[1].pooling_strategy != "max" or model.max_active_dims is not None):
            return None
        mlm = modules[0].auto_model
        predictions = getattr(getattr(mlm, "cls", None), "predictions", None)
        if predictions is not None and hasattr(predictions, "transform"):  # BERT family
            transform = predictions.transform
        elif hasattr(mlm, "vocab_transform"):  # DistilBERT
            def transform(hidden):
                return mlm.vocab_layer_norm(mlm.activation(mlm.vocab_transform(hidden)))
        else:
            return None
        projection = mlm.get_output_embeddings()
        return cls(mlm.base_model, transform, projection.weight, projection.bias,
                   modules[1].activation_function == "log1p_relu", bf16)

    def __call__(self, features: dict) -> list[tuple[np.ndarray, np.ndarray]]:
        """(term ids, weights) of each text in a batch of model inputs (``input_ids``, ``attention_mask``...)."""
        import torch
        inputs = {k: features[k] for k in ("input_ids", "attention_mask", "token_type_ids") if k in features}
        with torch.inference_mode():
            hidden = self.body(**inputs).last_hidden_state
            mask = features["attention_mask"].bool()
            tokens = self.transform(hidden[mask])
            return [self._pool(t) for t in tokens.split(mask.sum(dim=1).tolist())]

    def _max_logits(self, tokens, weight):
        import torch
        import torch.nn.functional as F
        chunk = max(1024, (1 << 19) // max(len(tokens), 1))
        return torch.cat([F.linear(tokens, weight[c:c + chunk]).amax(dim=0) for c in range(0, len(weight), chunk)])

    def _pool(self, tokens) -> tuple[np.ndarray, np.ndarray]:
        import torch
        import torch.nn.functional as F
        if self.bf16:
            approx = self._max_logits(tokens.to(torch.bfloat16), self.weight_bf16).float() + self.bias
            bound = BF16_ERROR * tokens.norm(dim=1).max() * self.weight_norms
            ids = torch.nonzero(approx + bound > 0).squeeze(1)
            logits = F.linear(tokens, self.weight[ids], self.bias[ids]).amax(dim=0)
        else:
            logits = self._max_logits(tokens, self.weight) + self.bias
            ids = None
        keep = logits > 0
        weights = torch.log1p(logits[keep])
        if self.double_log:
            weights = torch.log1p(weights)
        ids = torch.nonzero(keep).squeeze(1) if ids is None else ids[keep]
        return ids.cpu().numpy(), weights.float().cpu().numpy()


class SpladeEncoder:
    """Encodes texts to ``{token: weight}`` with a SPLADE model (``log(1 + relu(logits))`` max-pooled).

    Special tokens are never terms; ``doc_top_k`` keeps each document's largest terms (pruning);
    ``query_encoder="idf"`` makes the query side inference-free: a query's vector is its WordPiece tokens
    weighted by IDF (see :meth:`fit_idf`), with no model run at query time. Texts are batched by token length and
    BERT / DistilBERT masked LMs are pooled by :class:`MaxPooledMLM` (padding skipped; ``bf16`` projection);
    vectors equal sentence-transformers' ``encode_document`` / ``encode_query``, which encodes other models.
    """

    def __init__(self, model: str | Path, *, batch_size: int = 32, max_length: int | None = 256,
                 doc_top_k: int | None = None, query_encoder: str = "model", bf16: bool = False,
                 device: str | None = None, show_progress: bool = False):
        if query_encoder not in ("model", "idf"):
            raise ValueError(f"query_encoder must be 'model' or 'idf', not {query_encoder!r}")
        self.model_name = str(model)
        self.batch_size, self.max_length, self.doc_top_k = int(batch_size), max_length, doc_top_k
        self.query_encoder, self.bf16, self.device = query_encoder, bool(bf16), device
        self.show_progress = show_progress
        self._model = None
        self.idf: dict[str, float] | None = None

    def __repr__(self) -> str:
        return f"SpladeEncoder({self.model_name!r})"

    @property
    def model(self):
        if self._model is None:
            self._model = load_splade(self.model_name, self.device, self.max_length)
        return self._model

    @functools.cached_property
    def pooling(self) -> MaxPooledMLM | None:
        """The fast pooling for this model (None: sentence-transformers encodes it)."""
        return MaxPooledMLM.of(self.model, self.bf16)

    def load(self) -> None:
        """Load what query time needs (the model, or only the tokenizer for inference-free queries)."""
        _ = self.tokenizer if self.query_encoder == "idf" else self.pooling

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
        dimension = len(self.pooling.weight) if self.pooling is not None else self.model.get_embedding_dimension()
        return tokenizer.convert_ids_to_tokens(list(range(dimension))), np.array(sorted(tokenizer.all_special_ids))

    def _terms(self, idx: np.ndarray, val: np.ndarray, top_k: int | None) -> SparseVector:
        vocab, special = self._vocab
        keep = (val > 0) & ~np.isin(idx, special)
        idx, val = top_k_terms(idx[keep], val[keep], top_k)
        return {vocab[i]: float(v) for i, v in zip(idx, val)}

    def _prompt(self, document: bool) -> str | None:
        """The model's saved prompt for documents / queries, as ``encode_document`` / ``encode_query`` pick it."""
        prompts = self.model.prompts
        names = ("document", "passage", "corpus") if document else ("query",)
        return next((prompts[n] for n in names if n in prompts), None) or None

    def _pooled(self, texts: list[str], document: bool) -> list[tuple[np.ndarray, np.ndarray]]:
        """(term ids, weights) per text, in input order."""
        model = self.model
        if self.pooling is None:
            embeddings = (model.encode_document if document else model.encode_query)(
                texts, batch_size=self.batch_size, convert_to_sparse_tensor=True, show_progress_bar=self.show_progress)
            coo = embeddings.coalesce().cpu()
            rows, cols = coo.indices().numpy()
            values = coo.values().float().numpy()
            bounds = np.searchsorted(rows, np.arange(len(texts) + 1))
            return [(cols[a:b], values[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]
        from sentence_transformers.util import batch_to_device
        model.eval()
        prompt, task = self._prompt(document), "document" if document else "query"
        out: list = [None] * len(texts)
        batches = length_batches(token_lengths(model.tokenizer, texts), self.batch_size)
        for idx in progress(batches, f"SPLADE: encoding {task}s", self.show_progress):
            features = batch_to_device(model.preprocess([texts[i] for i in idx], prompt=prompt, task=task),
                                       model.device)
            for i, pooled in zip(idx, self.pooling(features)):
                out[i] = pooled
        return out

    def _encode(self, texts: Sequence[str], document: bool) -> list[SparseVector]:
        texts = ["" if t is None else str(t) for t in texts]
        if not texts:
            return []
        top_k = self.doc_top_k if document else None
        return [self._terms(idx, val, top_k) for idx, val in self._pooled(texts, document)]

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
