"""A prefix trie of valid docid token sequences, for decoding constrained to existing documents."""
from __future__ import annotations

from typing import Callable, Iterable, Sequence


class DocidTrie:
    """The token sequences of all docids, each followed by ``eos``; :meth:`allowed` gives the tokens that may
    follow a decoded prefix."""

    def __init__(self, sequences: Iterable[Sequence[int]], eos: int):
        self.eos = int(eos)
        self.root: dict[int, dict] = {}
        self.depth = 0
        for sequence in sequences:
            self.add(sequence)

    def add(self, sequence: Sequence[int]) -> None:
        """Add one docid's tokens (``eos`` is appended)."""
        node = self.root
        for token in (*map(int, sequence), self.eos):
            node = node.setdefault(token, {})
        self.depth = max(self.depth, len(sequence) + 1)

    def allowed(self, prefix: Sequence[int]) -> list[int]:
        """Tokens that extend ``prefix`` towards a docid; ``[eos]`` after a complete or invalid prefix (beam search
        needs some token: a finished beam is padded, an invalid one keeps its -inf score and is dropped later)."""
        node = self.root
        for token in prefix:
            node = node.get(int(token))
            if node is None:
                return [self.eos]
        return list(node) or [self.eos]

    def prefix_allowed_tokens_fn(self) -> Callable[[int, "object"], list[int]]:
        """For ``model.generate(prefix_allowed_tokens_fn=...)``: decoder inputs start with the decoder start token,
        which is not part of the docid."""
        def allowed(batch_id: int, input_ids) -> list[int]:
            return self.allowed(input_ids[1:].tolist())
        return allowed
