"""Length-sorted batching (less padding), a single truncation warning, optional bf16 autocast."""
from __future__ import annotations

import contextlib
import warnings
from typing import Iterator, Sequence

import numpy as np


def token_lengths(tokenizer, texts: Sequence[str], pairs: Sequence[str] | None = None) -> np.ndarray:
    """Tokens per input (special tokens included, nothing truncated); ``pairs`` gives second segments."""
    encoded = tokenizer(list(texts), list(pairs) if pairs is not None else None, add_special_tokens=True,
                        truncation=False, return_attention_mask=False, return_token_type_ids=False, verbose=False)
    return np.fromiter((len(ids) for ids in encoded["input_ids"]), dtype=np.int64, count=len(texts))


def length_batches(lengths: np.ndarray, batch_size: int, sort: bool = True) -> list[np.ndarray]:
    """Index batches, longest first when ``sort`` (so each batch pads to similar lengths); else input order.

    Writing each batch's outputs at its indices restores the input order.
    """
    order = np.argsort(-lengths, kind="stable") if sort else np.arange(len(lengths))
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]


def warn_truncated(owner: str, lengths: np.ndarray, max_length: int | None) -> None:
    """One warning per call, counting inputs longer than ``max_length`` tokens (they are truncated)."""
    if max_length is None:
        return
    longer = int((lengths > max_length).sum())
    if longer:
        warnings.warn(f"{owner}: {longer} of {len(lengths)} inputs are longer than max_length={max_length} tokens "
                      f"and were truncated (longest: {int(lengths.max())})", stacklevel=3)


def autocast(device: str, bf16: bool) -> contextlib.AbstractContextManager:
    """``torch.autocast`` to bfloat16 on ``device`` when ``bf16``, else nothing."""
    if not bf16:
        return contextlib.nullcontext()
    import torch
    return torch.autocast(device_type=str(device).split(":")[0], dtype=torch.bfloat16)


def progress(batches: list[np.ndarray], desc: str, enabled: bool) -> Iterator[np.ndarray]:
    """A tqdm bar over ``batches`` counting inputs, shown when ``enabled``."""
    from tqdm.auto import tqdm
    with tqdm(total=sum(len(b) for b in batches), desc=desc, unit="input", disable=not enabled) as bar:
        for batch in batches:
            yield batch
            bar.update(len(batch))
