"""Tiny random checkpoints built on the fly in published layouts (no real weights exist offline for these)."""
from __future__ import annotations

from pathlib import Path
from typing import Iterable


def tiny_splade(folder: Path, texts: Iterable[str]) -> Path:
    """A tiny random BERT masked LM with MiniLM's tokenizer under ``folder``, made sparse on ``texts`` by
    ``init_splade_from_mlm``; returns the SPLADE model folder."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForMaskedLM

    from transformers_ir.encoders import bundled_minilm
    from transformers_ir.sparse.splade_encoder import init_splade_from_mlm
    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(str(bundled_minilm()))
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128, initializer_range=0.5)
    BertForMaskedLM(config).save_pretrained(str(folder / "mlm"))
    tokenizer.save_pretrained(str(folder / "mlm"))
    return init_splade_from_mlm(folder / "mlm", folder / "model", list(texts), max_length=64)
