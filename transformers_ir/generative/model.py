"""The seq2seq model that maps texts to docid tokens: any Hugging Face seq2seq checkpoint (docid symbols added
as tokens), or an encoder-only checkpoint (e.g. the bundled MiniLM) under a small random BERT decoder whose
vocabulary is the docid symbols alone."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..core import atomic_write_text
from ..encoders import BUNDLED_MINILM_NAME, model_identity, resolve_model
from .docids import Docid
from .trie import DocidTrie

VOCABULARY = "docid_vocabulary.json"
DECODER_SPECIALS = ("[PAD]", "[START]", "[EOS]")  # tokens 0, 1, 2 of a docid-only decoder vocabulary


@dataclass(frozen=True)
class DocidVocabulary:
    """Where docid symbols live among the decoder's tokens: symbol ``s`` is token ``first_symbol + s``."""

    pad: int
    start: int
    eos: int
    first_symbol: int
    num_symbols: int
    in_tokenizer: bool  # symbols are tokens added to a seq2seq tokenizer (else a docid-only decoder vocabulary)

    def tokens(self, docid: Docid) -> list[int]:
        return [self.first_symbol + s for s in docid]

    def docid(self, tokens: Sequence[int]) -> Docid | None:
        """The docid of generated ``tokens`` (cut at the first eos), ``None`` if a token is not a symbol."""
        symbols = []
        for token in tokens:
            if token == self.eos:
                return tuple(symbols)
            symbol = token - self.first_symbol
            if not 0 <= symbol < self.num_symbols:
                return None
            symbols.append(symbol)
        return None  # no eos: not a complete docid


def base_identity(model: str | Path, decoder_layers: int) -> dict:
    """What a DSI model starts from: checkpoint name and weights, and the decoder built on an encoder-only one."""
    from transformers import AutoConfig
    identity = model_identity(model)
    seq2seq = bool(getattr(AutoConfig.from_pretrained(resolve_model(model)), "is_encoder_decoder", False))
    return {"name": identity["name"], "weights": identity["weights_sha256"] or identity["name"],
            "decoder": "pretrained" if seq2seq else f"random BERT, {decoder_layers} layers"}


class DocidModel:
    """A seq2seq model, its input tokenizer and its :class:`DocidVocabulary`."""

    def __init__(self, model, tokenizer, vocab: DocidVocabulary):
        self.model, self.tokenizer, self.vocab = model, tokenizer, vocab

    @classmethod
    def create(cls, base: str | Path | None, num_symbols: int, decoder_layers: int = 2, seed: int = 42) -> "DocidModel":
        """A fresh model from ``base`` (default: the bundled MiniLM) with ``num_symbols`` docid symbols."""
        import torch
        from transformers import (AutoConfig, AutoModel, AutoModelForSeq2SeqLM, AutoTokenizer, BertConfig,
                                  BertLMHeadModel, EncoderDecoderModel)
        path = resolve_model(base or BUNDLED_MINILM_NAME)
        tokenizer = AutoTokenizer.from_pretrained(path)
        torch.manual_seed(seed)
        if getattr(AutoConfig.from_pretrained(path), "is_encoder_decoder", False):
            model = AutoModelForSeq2SeqLM.from_pretrained(path)
            eos = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else tokenizer.sep_token_id
            start = model.generation_config.decoder_start_token_id
            start = start if start is not None else model.config.decoder_start_token_id
            vocab = DocidVocabulary(tokenizer.pad_token_id, start if start is not None else tokenizer.pad_token_id,
                                    eos, len(tokenizer), 0, True)
            docid_model = cls(model, tokenizer, vocab)
            docid_model.add_symbols(num_symbols)
            docid_model._plain_generation()
            return docid_model
        encoder = AutoModel.from_pretrained(path)
        config = encoder.config
        decoder = BertLMHeadModel(BertConfig(
            vocab_size=len(DECODER_SPECIALS) + num_symbols, hidden_size=config.hidden_size,
            num_hidden_layers=decoder_layers, num_attention_heads=config.num_attention_heads,
            intermediate_size=config.intermediate_size, max_position_embeddings=64, is_decoder=True,
            add_cross_attention=True, pad_token_id=0, bos_token_id=1, eos_token_id=2))
        model = EncoderDecoderModel(encoder=encoder, decoder=decoder)
        model.config.decoder_start_token_id, model.config.pad_token_id, model.config.eos_token_id = 1, 0, 2
        docid_model = cls(model, tokenizer, DocidVocabulary(0, 1, 2, len(DECODER_SPECIALS), num_symbols, False))
        docid_model._plain_generation()
        return docid_model

    def _plain_generation(self) -> None:
        """A generation config with the docid special tokens and nothing else (a checkpoint's own may force tokens
        or forbid repeated n-grams, which docids need)."""
        from transformers import GenerationConfig
        vocab = self.vocab
        self.model.generation_config = GenerationConfig(decoder_start_token_id=vocab.start, pad_token_id=vocab.pad,
                                                        eos_token_id=vocab.eos, bos_token_id=vocab.start)

    @classmethod
    def load(cls, folder: Path, device: str = "cpu") -> "DocidModel":
        from transformers import AutoModelForSeq2SeqLM, AutoTokenizer
        vocab = DocidVocabulary(**json.loads((folder / VOCABULARY).read_text()))
        model = AutoModelForSeq2SeqLM.from_pretrained(folder).to(device).eval()
        return cls(model, AutoTokenizer.from_pretrained(folder), vocab)

    def save(self, folder: Path) -> None:
        self.model.save_pretrained(folder)
        self.tokenizer.save_pretrained(folder)
        atomic_write_text(folder / VOCABULARY, json.dumps(asdict(self.vocab)))

    def add_symbols(self, count: int) -> None:
        """Grow the vocabulary by ``count`` docid symbols (atomic docids of new documents)."""
        vocab = self.vocab
        if vocab.in_tokenizer:
            start = vocab.num_symbols
            self.tokenizer.add_tokens([f"<docid_{i}>" for i in range(start, start + count)], special_tokens=True)
            if self.tokenizer.convert_tokens_to_ids(f"<docid_{start}>") != vocab.first_symbol + start:
                raise ValueError("DSI: the tokenizer did not give docid tokens consecutive ids")
            self.model.resize_token_embeddings(len(self.tokenizer))
        else:
            self.model.decoder.resize_token_embeddings(vocab.first_symbol + vocab.num_symbols + count)
        self.vocab = DocidVocabulary(vocab.pad, vocab.start, vocab.eos, vocab.first_symbol, vocab.num_symbols + count,
                                     vocab.in_tokenizer)

    def freeze_encoder(self) -> bool:
        """Stop training the encoder (parameters shared with the decoder, e.g. tied embeddings, stay trainable);
        True when the encoder is then entirely frozen, so its outputs can be cached."""
        for p in self.model.get_encoder().parameters():
            p.requires_grad_(False)
        for module in (self.model.get_decoder(), self.model.get_output_embeddings()):
            for p in module.parameters():
                p.requires_grad_(True)
        return not any(p.requires_grad for p in self.model.get_encoder().parameters())

    def size_bytes(self) -> int:
        return sum(p.numel() * p.element_size() for p in self.model.parameters())

    def tokenize(self, texts: Sequence[str], max_length: int) -> dict:
        """``input_ids`` and ``attention_mask`` of ``texts`` (truncated to ``max_length``), on the model's device."""
        batch = self.tokenizer(list(texts), padding=True, truncation=True, max_length=max_length, return_tensors="pt")
        return {k: batch[k].to(self.model.device) for k in ("input_ids", "attention_mask")}

    def decode(self, texts: Sequence[str], trie: DocidTrie, num_results: int, max_length: int, batch_size: int = 32,
               encode: Callable[[list[str]], dict] | None = None) -> list[list[tuple[Docid, float]]]:
        """Each text's ``num_results`` best docids (beam search constrained by ``trie``; greedy for 1) with their
        sequence log-probabilities, best first; docids outside the vocabulary are dropped, duplicates kept once.
        ``encode`` gives a batch's model inputs (e.g. cached encoder outputs) instead of tokenizing it."""
        import torch
        model, out = self.model, []
        model.eval()
        allowed = trie.prefix_allowed_tokens_fn()
        for start in range(0, len(texts), batch_size):
            batch = list(texts[start:start + batch_size])
            inputs = encode(batch) if encode else self.tokenize(batch, max_length)
            with torch.inference_mode():
                generated = model.generate(
                    **inputs, num_beams=num_results,
                    num_return_sequences=num_results, prefix_allowed_tokens_fn=allowed, max_new_tokens=trie.depth,
                    do_sample=False, output_scores=True, return_dict_in_generate=True,
                    **({"length_penalty": 0.0, "early_stopping": True} if num_results > 1 else {"output_logits": True}))
            sequences = generated.sequences[:, 1:].cpu()
            if num_results > 1:
                scores = generated.sequences_scores.float().cpu().numpy()
            else:  # greedy: sum the chosen tokens' log-probabilities up to the first eos
                logits = torch.stack(generated.logits, dim=1).float().log_softmax(dim=-1)
                steps = logits.gather(2, generated.sequences[:, 1:, None]).squeeze(2).cpu().numpy()
                eos = (sequences == self.vocab.eos).numpy()[:, :steps.shape[1]]
                scores = np.where(np.cumsum(eos, axis=1) - eos == 0, steps, 0.0).sum(axis=1)
            sequences = sequences.tolist()
            for i in range(len(sequences) // num_results):
                rows = range(i * num_results, (i + 1) * num_results)
                out.append(self._ranked([(sequences[r], float(scores[r])) for r in rows]))
        return out

    def _ranked(self, candidates: list[tuple[list[int], float]]) -> list[tuple[Docid, float]]:
        ranked, seen = [], set()
        for tokens, score in sorted(candidates, key=lambda c: -c[1]):
            docid = self.vocab.docid(tokens)
            if docid is not None and docid not in seen and np.isfinite(score):
                seen.add(docid)
                ranked.append((docid, score))
        return ranked
