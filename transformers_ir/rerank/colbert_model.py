"""ColBERT models as sentence-transformers ``MultiVectorEncoder``s: checkpoints (native, PyLate, Stanford-NLP
``colbert-ir/colbertv2.0`` layout) load as they are; any other encoder gets ColBERT's recipe around it."""
from __future__ import annotations

import functools
import hashlib
import json
import string
from pathlib import Path

from ..encoders import choose_device, model_identity, resolve_model, weights_sha256

QUERY_MARKER, DOCUMENT_MARKER = "[unused0]", "[unused1]"
QUERY_LENGTH = 32
DOCUMENT_LENGTH = 180


def is_colbert_checkpoint(folder: str | Path) -> bool:
    """A saved ``MultiVectorEncoder`` / PyLate model, or a Stanford-NLP ColBERT folder (``HF_ColBERT`` with an
    inline ``linear.weight``)."""
    folder = Path(folder)
    for file, key, values in (("config_sentence_transformers.json", "model_type", ("MultiVectorEncoder", "ColBERT")),
                              ("config.json", "architectures", ("HF_ColBERT",))):
        try:
            found = json.loads((folder / file).read_text()).get(key) or ()
        except FileNotFoundError:
            continue
        if any(v in ([found] if isinstance(found, str) else found) for v in values):
            return True
    return False


def _fresh_colbert(folder: str, dim: int, seed: int, device: str):
    """ColBERT around a plain encoder: token embeddings, a seeded random ``dim`` projection, L2 norm,
    ``[unused0]``/``[unused1]`` markers, queries padded with ``[MASK]`` to 32 tokens, punctuation skipped."""
    from sentence_transformers import MultiVectorEncoder
    import torch
    from sentence_transformers.base.modules import Normalize, Transformer
    from sentence_transformers.base.modules.dense import Dense
    from sentence_transformers.multi_vector_encoder.modules import MultiVectorMask
    from torch import nn
    from transformers import AddedToken

    backbone = Transformer(folder, document_length=DOCUMENT_LENGTH,
                           query_expansion={"strategy": "fixed", "attend": False, "length": QUERY_LENGTH})
    with torch.random.fork_rng(devices=[]):  # seeded draw, global RNG untouched
        torch.manual_seed(seed)
        projection = Dense(backbone.get_embedding_dimension(), dim, bias=False, activation_function=nn.Identity(),
                           module_input_name="token_embeddings")
    model = MultiVectorEncoder(
        modules=[backbone, projection, MultiVectorMask(skiplist_words=list(string.punctuation)),
                 Normalize(module_input_name="token_embeddings")],
        prompts={"query": f"{QUERY_MARKER} ", "document": f"{DOCUMENT_MARKER} "}, device=device)
    markers = [AddedToken(m, normalized=False, special=True) for m in (QUERY_MARKER, DOCUMENT_MARKER)]
    model.tokenizer.add_special_tokens({"additional_special_tokens": markers})
    return model


@functools.lru_cache(maxsize=4)
def _load(resolved: str, weights: str, device: str, dim: int, seed: int, max_length: int | None):
    """Load (``weights``, the weights' hash, makes a rewritten checkpoint load afresh)."""
    from sentence_transformers import MultiVectorEncoder
    if is_colbert_checkpoint(resolved):
        model = MultiVectorEncoder(resolved, device=device, local_files_only=True)
    else:
        model = _fresh_colbert(resolved, dim, seed, device)
    if max_length is not None:
        model[0].document_length = max_length
    return model


def load_colbert(model: str | Path, device: str | None = None, dim: int = 128, seed: int = 42,
                 max_length: int | None = None, shared: bool = True):
    """A ``MultiVectorEncoder`` for ``model`` (a name or path, resolved offline-aware by ``encoders``), shared by
    stages asking for the same weights unless ``shared=False`` (a private copy, to train); ``dim`` and ``seed``
    only shape a fresh projection; ``max_length`` caps document tokens (default: the checkpoint's, else 180)."""
    resolved = resolve_model(model)
    load = _load if shared else _load.__wrapped__
    return load(resolved, weights_sha256(resolved), choose_device(device), int(dim), int(seed), max_length)


def projection_sha256(encoder) -> str:
    """sha256 of the token projection's weights (the part a fresh ColBERT draws at random)."""
    from sentence_transformers.base.modules.dense import Dense
    digest = hashlib.sha256()
    for module in encoder:
        if isinstance(module, Dense):
            digest.update(module.linear.weight.detach().float().cpu().numpy().tobytes())
    return digest.hexdigest()


def colbert_identity(model: str | Path, encoder) -> dict:
    """Name, folder and weights hash of ``model`` plus its projection hash and query/document lengths."""
    backbone = encoder[0]
    expansion = backbone.query_expansion or {}
    return {**model_identity(model), "projection_sha256": projection_sha256(encoder),
            "query_length": expansion.get("length", backbone.query_length),
            "document_length": backbone.document_length or encoder.max_seq_length}
