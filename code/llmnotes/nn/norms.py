"""Normalisation layers beyond ``torch.nn.LayerNorm``."""
from __future__ import annotations

import torch
from torch import nn

from llmnotes.checks import positive, positive_int


class RMSNorm(nn.Module):
    """Root-mean-square normalisation (Zhang & Sennrich, 2019): ``x / √(mean(x²) + ε) · g``.

    Unlike LayerNorm there is no mean subtraction and no bias: only re-scaling, with one gain
    per feature. Computed in float32 whatever the input dtype.
    """

    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.eps = positive("eps", eps)
        self.weight = nn.Parameter(torch.ones(positive_int("dim", dim)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x32 = x.float()                                                  # (..., dim)
        normed = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * normed.to(x.dtype)                          # (..., dim)
