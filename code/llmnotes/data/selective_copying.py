"""The selective-copying task of Gu & Dao (2023), Section 3.1 and 4.1.1 (Figure 2, Table 1).

A sequence of ``seq_len`` positions holds ``n_tokens`` data tokens at random positions, in
order, among noise tokens; then ``n_tokens`` copy markers follow, and at the markers the model
must output the data tokens in order. Because the positions vary, a fixed (time-invariant)
filter cannot pick the data out: the model has to decide by *content* what to keep.

Token ids: ``0`` noise, ``1`` the copy marker, ``2 .. 2 + n_symbols - 1`` the data symbols.
"""
from __future__ import annotations

import torch

from llmnotes.checks import positive_int

NOISE, MARKER, FIRST_SYMBOL = 0, 1, 2


def selective_copying(n_examples: int, seq_len: int = 32, n_tokens: int = 4, n_symbols: int = 8,
                      generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``(inputs, targets)``, each ``(n_examples, seq_len + n_tokens)``; ``targets`` is ``-100`` except
    at the ``n_tokens`` marker positions, where it holds the data tokens in order (the vocabulary
    has ``n_symbols + 2`` tokens)."""
    positive_int("n_examples", n_examples)
    positive_int("seq_len", seq_len)
    positive_int("n_tokens", n_tokens)
    positive_int("n_symbols", n_symbols)
    if n_tokens > seq_len:
        raise ValueError(f"n_tokens ({n_tokens}) must be <= seq_len ({seq_len})")
    data = torch.randint(FIRST_SYMBOL, FIRST_SYMBOL + n_symbols, (n_examples, n_tokens), generator=generator)
    # n_tokens distinct positions per row, sorted: the order of the data is the order of recall
    positions = torch.rand(n_examples, seq_len, generator=generator).argsort(dim=1)[:, :n_tokens].sort(dim=1).values
    context = torch.full((n_examples, seq_len), NOISE, dtype=torch.long).scatter(1, positions, data)
    inputs = torch.cat([context, torch.full((n_examples, n_tokens), MARKER, dtype=torch.long)], dim=1)
    targets = torch.full_like(inputs, -100)
    targets[:, seq_len:] = data
    return inputs, targets
