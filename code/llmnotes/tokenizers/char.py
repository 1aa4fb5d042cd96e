"""Character-level tokenization: one token per character of the text it was fitted on."""
from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class CharTokenizer:
    """Characters to ids and back; the vocabulary is the sorted set of characters seen."""

    chars: str

    @classmethod
    def fit(cls, text: str) -> "CharTokenizer":
        if not text:
            raise ValueError("cannot fit a tokenizer on empty text")
        return cls("".join(sorted(set(text))))

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> torch.Tensor:
        index = {c: i for i, c in enumerate(self.chars)}
        unknown = sorted(set(text) - index.keys())
        if unknown:
            raise ValueError(f"characters not in the vocabulary: {unknown[:10]}")
        return torch.tensor([index[c] for c in text], dtype=torch.long)

    def decode(self, ids: torch.Tensor | list[int]) -> str:
        return "".join(self.chars[i] for i in (ids.tolist() if isinstance(ids, torch.Tensor) else ids))
