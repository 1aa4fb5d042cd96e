"""Endless random batches: windows of a token stream, or indices into a set of examples."""
from __future__ import annotations

from typing import Iterator

import torch

from llmnotes.checks import positive_int


def lm_batches(data: torch.Tensor, seq_len: int, batch_size: int,
               generator: torch.Generator) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Random windows ``(x, y)`` of ``seq_len`` tokens, each ``(batch_size, seq_len)``, ``y`` shifted by one."""
    positive_int("seq_len", seq_len)
    positive_int("batch_size", batch_size)
    if data.dim() != 1 or len(data) <= seq_len:
        raise ValueError(f"need a 1-D token tensor longer than seq_len={seq_len}, got shape {tuple(data.shape)}")
    while True:
        starts = torch.randint(len(data) - seq_len, (batch_size,), generator=generator)
        windows = torch.stack([data[s:s + seq_len + 1] for s in starts.tolist()])
        yield windows[:, :-1], windows[:, 1:]


def random_batches(n: int, batch_size: int, generator: torch.Generator) -> Iterator[torch.Tensor]:
    """Random index batches over ``n`` examples, reshuffled every epoch (the last partial batch is dropped)."""
    positive_int("n", n)
    positive_int("batch_size", batch_size)
    while True:
        order = torch.randperm(n, generator=generator)
        for start in range(0, n - batch_size + 1 if n >= batch_size else 1, batch_size):
            yield order[start:start + batch_size]
