"""uniCOIL impacts: a weight per document token (no expansion), on the PISA impact index; loads the published
castorini/unicoil-* checkpoints and weighs tokens as Pyserini does."""
from __future__ import annotations

import functools
import operator
from pathlib import Path
from typing import Literal, Sequence

from ..core.stage import Count, ParameterError, Positive
from ..data import DatasetLike
from ..encoders import ModelNotAvailableError, choose_device, model_identity, resolve_model
from .impact_index import ImpactIndex, SparseVector
from .impact_stage import MODES, ImpactStageBase

PREFIX = "coil_encoder."  # Pyserini's UniCoilEncoder (base_model_prefix), as castorini/unicoil-* checkpoints store it
HEAD = "tok_proj."


def load_unicoil_weights(folder: str) -> tuple[dict, dict]:
    """(BERT state dict, head state dict) of a checkpoint folder: ``model.safetensors`` or ``pytorch_model.bin``
    with keys ``[coil_encoder.]bert.*`` and ``[coil_encoder.]tok_proj.{weight,bias}`` (the published uniCOIL layout),
    or a plain encoder's keys (no head: ``{}``)."""
    import torch
    from safetensors.torch import load_file
    path = Path(folder)
    if (path / "model.safetensors").exists():
        state = load_file(str(path / "model.safetensors"))
    elif (path / "pytorch_model.bin").exists():
        state = torch.load(path / "pytorch_model.bin", map_location="cpu", weights_only=True)
    else:
        raise ModelNotAvailableError(f"{folder}: no model.safetensors or pytorch_model.bin")
    state = {k.removeprefix(PREFIX): v for k, v in state.items()}
    head = {k[len(HEAD):]: v for k, v in state.items() if k.startswith(HEAD)}
    bert = {k[len("bert."):]: v for k, v in state.items() if k.startswith("bert.")}
    return bert or {k: v for k, v in state.items() if not k.startswith(HEAD)}, head


class UniCoilEncoder:
    """uniCOIL token weights ``relu(w . h_t + b)`` on a BERT's last hidden states ``h_t``, aggregated as Pyserini's
    encoders do: ``[CLS]`` and padding dropped (``[SEP]`` kept), a document keeps a repeated token's largest weight,
    a query sums them. The head is the checkpoint's ``tok_proj`` (see :func:`load_unicoil_weights`); a plain encoder
    gets ``w = 0, b = 1`` (every token weighs 1: a binary bag of WordPieces until trained)."""

    query_encoder = "model"

    def __init__(self, model: str | Path, *, batch_size: int = 32, max_length: int | None = 256,
                 device: str | None = None):
        self.model_name = str(model)
        self.batch_size, self.max_length, self.device = int(batch_size), max_length, device

    def __repr__(self) -> str:
        return f"UniCoilEncoder({self.model_name!r})"

    @functools.cached_property
    def _parts(self):
        import torch
        from transformers import AutoConfig, AutoModel, AutoTokenizer
        folder = resolve_model(self.model_name)
        device = choose_device(self.device)
        bert, head_state = load_unicoil_weights(folder)
        encoder = AutoModel.from_config(AutoConfig.from_pretrained(folder))
        missing = [k for k in encoder.load_state_dict(bert, strict=False).missing_keys if not k.startswith("pooler.")]
        if missing:
            raise ModelNotAvailableError(f"{self.model_name}: the weights lack {missing[:4]}; expected a BERT under "
                                         f"'{PREFIX}bert.' / 'bert.' or a plain encoder checkpoint")
        head = torch.nn.Linear(encoder.config.hidden_size, 1)
        if head_state:
            head.load_state_dict(head_state)
        else:
            torch.nn.init.zeros_(head.weight)
            torch.nn.init.ones_(head.bias)
        return AutoTokenizer.from_pretrained(folder), encoder.to(device).eval(), head.to(device).eval(), device

    def load(self) -> None:
        """Load the model (not part of query time)."""
        _ = self._parts

    def identity(self) -> dict:
        ident = model_identity(self.model_name)
        return {"name": ident["name"], "weights_sha256": ident["weights_sha256"], "max_length": self.max_length}

    def _encode(self, texts: Sequence[str], combine) -> list[SparseVector]:
        import torch
        tokenizer, encoder, head, device = self._parts
        out: list[SparseVector] = []
        for start in range(0, len(texts), self.batch_size):
            batch = ["" if t is None else str(t) for t in texts[start:start + self.batch_size]]
            features = tokenizer(batch, padding=True, truncation=self.max_length is not None,
                                 max_length=self.max_length, return_tensors="pt").to(device)
            with torch.inference_mode():
                hidden = encoder(input_ids=features["input_ids"], attention_mask=features["attention_mask"])
                weights = torch.relu(head(hidden.last_hidden_state)).squeeze(-1).float().cpu().numpy()
            for ids, mask, row in zip(features["input_ids"].cpu().tolist(), features["attention_mask"].cpu().tolist(),
                                      weights):
                vector: SparseVector = {}
                for token, on, weight in zip(tokenizer.convert_ids_to_tokens(ids), mask, row.tolist()):
                    if on and token != tokenizer.cls_token:
                        vector[token] = combine(vector[token], weight) if token in vector else weight
                out.append({t: w for t, w in vector.items() if w > 0})
        return out

    def encode_documents(self, texts: Sequence[str]) -> list[SparseVector]:
        return self._encode(texts, max)

    def encode_queries(self, texts: Sequence[str]) -> list[SparseVector]:
        return self._encode(texts, operator.add)


class UniCOIL(ImpactStageBase):
    """uniCOIL over ``dataset`` with ``model``, a uniCOIL checkpoint (e.g. ``castorini/unicoil-msmarco-passage``) or
    any BERT encoder (untrained head): the same quantised PISA impact index and modes as
    :class:`~transformers_ir.sparse.splade.SPLADE`."""

    kind = "unicoil"

    def __init__(self, dataset: "DatasetLike | None" = None, model: str | Path = "", *,
                 mode: Literal[MODES] = "retrieve", index: "ImpactIndex | str | Path | None" = None,
                 num_results: Count = 1000, scale: Positive = 100.0, batch_size: Count = 32,
                 max_length: Count | None = 256, device: str | None = None, threads: Count = 1, verbose: bool = False):
        if not str(model):
            raise ParameterError("UniCOIL", "model", "is required (a transformer checkpoint name or folder)")
        self.model, self.batch_size, self.max_length, self.device = model, batch_size, max_length, device
        encoder = UniCoilEncoder(model, batch_size=batch_size, max_length=max_length, device=device)
        super().__init__(dataset, encoder, mode=mode, index=index, num_results=num_results, scale=scale,
                         threads=threads, verbose=verbose)
