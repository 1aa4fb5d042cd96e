"""Position-wise feed-forward layers: the Transformer's two-layer MLP and LLaMA's SwiGLU."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from llmnotes.checks import one_of, positive_int

ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu}


class FeedForward(nn.Module):
    """Eq. 2 of Vaswani et al.: ``FFN(x) = act(x W_up + b) W_down + b``, applied at every position.

    ``activation`` is ``relu`` (the Transformer) or ``gelu`` (BERT, GPT). Width ``d_ff``, 4·d_model
    in all three papers.
    """

    def __init__(self, d_model: int, d_ff: int, activation: str = "relu", bias: bool = True, dropout: float = 0.0):
        super().__init__()
        self.act = ACTIVATIONS[one_of("activation", activation, ACTIVATIONS)]
        self.up_proj = nn.Linear(positive_int("d_model", d_model), positive_int("d_ff", d_ff), bias=bias)
        self.down_proj = nn.Linear(d_ff, d_model, bias=bias)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(self.dropout(self.act(self.up_proj(x))))    # (..., d_model) -> (..., d_model)


def ffn_hidden_size(d_model: int, multiple_of: int = 256) -> int:
    """SwiGLU hidden width: ``2/3 · 4d`` rounded *up* to a multiple of ``multiple_of``.

    Section 2.2 of the LLaMA paper ("we use a dimension of 2/3·4d instead of 4d"); the rounding is
    that of Meta's reference code (``multiple_of=256``), e.g. 4096 → 11008 for LLaMA-7B.
    """
    hidden = int(2 * (4 * positive_int("d_model", d_model)) / 3)
    multiple_of = positive_int("multiple_of", multiple_of)
    return multiple_of * ((hidden + multiple_of - 1) // multiple_of)


class SwiGLU(nn.Module):
    """Gated feed-forward ``W_down · (SiLU(W_gate x) ⊙ W_up x)`` (Shazeer, 2020), no biases.

    Three ``d×h`` matrices; with ``h = 2/3·4d`` that is ``8d²``, the cost of a ``4d`` MLP.
    """

    def __init__(self, d_model: int, d_ff: int):
        super().__init__()
        self.gate_proj = nn.Linear(positive_int("d_model", d_model), positive_int("d_ff", d_ff), bias=False)
        self.up_proj = nn.Linear(d_model, d_ff, bias=False)
        self.down_proj = nn.Linear(d_ff, d_model, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))   # (..., d_model)
