"""uniCOIL / DeepImpact-style impacts: a weight per document token (no expansion), on the PISA impact index."""
from __future__ import annotations

import functools
from pathlib import Path
from typing import Literal, Sequence

from ..core.stage import Count, ParameterError, Positive
from ..data import DatasetLike
from ..encoders import choose_device, model_identity, resolve_model
from .impact_index import ImpactIndex, SparseVector
from .impact_stage import MODES, ImpactStageBase

HEAD_FILE = "unicoil_head.safetensors"


class UniCoilEncoder:
    """Token weights ``relu(w · h_t + b)`` from a transformer's last hidden states ``h_t``, max-aggregated per
    token; special tokens dropped. The linear head is read from ``unicoil_head.safetensors`` in the model folder;
    without one it is ``w = 0, b = 1`` (every token weighs 1: a binary bag of WordPieces until trained)."""

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
        from safetensors.torch import load_file
        from transformers import AutoModel, AutoTokenizer
        folder = resolve_model(self.model_name)
        device = choose_device(self.device)
        encoder = AutoModel.from_pretrained(folder).to(device).eval()
        head = torch.nn.Linear(encoder.config.hidden_size, 1).to(device)
        if (Path(folder) / HEAD_FILE).exists():
            head.load_state_dict(load_file(str(Path(folder) / HEAD_FILE)))
        else:
            torch.nn.init.zeros_(head.weight)
            torch.nn.init.ones_(head.bias)
        return AutoTokenizer.from_pretrained(folder), encoder, head, device

    def load(self) -> None:
        """Load the model (not part of query time)."""
        _ = self._parts

    def identity(self) -> dict:
        ident = model_identity(self.model_name)
        return {"name": ident["name"], "weights_sha256": ident["weights_sha256"], "max_length": self.max_length,
                "head": (Path(resolve_model(self.model_name)) / HEAD_FILE).exists()}

    def _encode(self, texts: Sequence[str]) -> list[SparseVector]:
        import torch
        tokenizer, encoder, head, device = self._parts
        special = set(tokenizer.all_special_ids)
        out: list[SparseVector] = []
        for start in range(0, len(texts), self.batch_size):
            batch = ["" if t is None else str(t) for t in texts[start:start + self.batch_size]]
            features = tokenizer(batch, padding=True, truncation=self.max_length is not None,
                                 max_length=self.max_length, return_tensors="pt").to(device)
            with torch.inference_mode():
                weights = torch.relu(head(encoder(**features).last_hidden_state)).squeeze(-1).cpu().numpy()
            for ids, mask, row in zip(features["input_ids"].cpu().tolist(), features["attention_mask"].cpu().tolist(),
                                      weights):
                vector: SparseVector = {}
                for token_id, on, weight in zip(ids, mask, row):
                    if on and token_id not in special and weight > 0:
                        token = tokenizer.convert_ids_to_tokens(token_id)
                        vector[token] = max(vector.get(token, 0.0), float(weight))
                out.append(vector)
        return out

    def encode_documents(self, texts: Sequence[str]) -> list[SparseVector]:
        return self._encode(texts)

    def encode_queries(self, texts: Sequence[str]) -> list[SparseVector]:
        return self._encode(texts)


class UniCOIL(ImpactStageBase):
    """uniCOIL over ``dataset`` with encoder ``model`` (a folder or Hugging Face name, plus its linear head):
    the same quantised PISA impact index and modes as :class:`~transformers_ir.sparse.splade.SPLADE`."""

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
