"""Recurrent networks: the Elman RNN (Elman, 1990), run one position at a time as recurrence requires."""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from llmnotes.checks import positive_int


class ElmanRNN(nn.Module):
    """The simplest recurrent layer: ``h_t = tanh(W_x x_t + W_h h_{t-1} + b)``, ``h_0 = 0``."""

    def __init__(self, d: int):
        super().__init__()
        self.d = positive_int("d", d)
        self.w_x = nn.Linear(d, d)
        self.w_h = nn.Linear(d, d, bias=False)

    def step(self, x_t: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.w_x(x_t) + self.w_h(h))

    def states(self, x: torch.Tensor | Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """The hidden state after each position; ``x`` is ``(n, d)`` or a list of n vectors."""
        positions = list(x)
        if not positions or any(p.shape != (self.d,) for p in positions):
            raise ValueError(f"x must be n >= 1 positions of size {self.d}, got shapes "
                             f"{[tuple(p.shape) for p in positions][:3]}")
        h = positions[0].new_zeros(self.d)
        outputs = []
        for x_t in positions:
            h = self.step(x_t, h)
            outputs.append(h)
        return outputs

    def forward(self, x: torch.Tensor | Sequence[torch.Tensor]) -> torch.Tensor:
        return torch.stack(self.states(x))
