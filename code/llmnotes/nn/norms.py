"""Normalisation layers: LayerNorm, RMSNorm and Dynamic Tanh, each written from its paper's equation.

* :class:`LayerNorm` (Ba, Kiros & Hinton, 2016, Eqs. 3-4): re-centre and re-scale every
  vector by the mean and standard deviation of its own features, then a gain and a bias.
* :class:`RMSNorm` (Zhang & Sennrich, 2019, Eq. 4): re-scale only, by the root mean square.
* :class:`DyT` (Zhu, Chen, He, LeCun & Liu, 2025, Section 3): no statistics at all, an
  element-wise ``γ · tanh(α x) + β`` that squashes extreme values as LayerNorm does in
  trained Transformers.
"""
from __future__ import annotations

import torch
from torch import nn

from llmnotes.checks import positive, positive_int


def _last_dim(name: str, x: torch.Tensor, dim: int) -> None:
    if x.dim() < 1 or x.shape[-1] != dim:
        raise ValueError(f"{name} expects inputs whose last dimension is {dim}, got shape {tuple(x.shape)}")


class LayerNorm(nn.Module):
    """Layer normalisation (Ba et al., 2016): ``(x - μ) / √(σ² + ε) · g + b`` over the last dimension.

    The statistics are those of Eq. 3, computed over the ``dim`` features of one vector (one
    token), never over the batch: ``μ = mean(x)``, ``σ² = mean((x - μ)²)`` (the biased variance).
    The gain ``g`` (ones) and bias ``b`` (zeros) are the per-feature affine of Eq. 4. With
    the same ``eps`` it computes what ``torch.nn.LayerNorm`` computes.
    """

    def __init__(self, dim: int, eps: float = 1e-5):
        super().__init__()
        self.dim = positive_int("dim", dim)
        self.eps = positive("eps", eps)
        self.weight = nn.Parameter(torch.ones(dim))                      # g, Eq. 4
        self.bias = nn.Parameter(torch.zeros(dim))                       # b, Eq. 4

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _last_dim("LayerNorm", x, self.dim)
        mu = x.mean(-1, keepdim=True)                                    # (..., 1)  Eq. 3
        centred = x - mu                                                 # (..., dim)
        var = centred.pow(2).mean(-1, keepdim=True)                      # (..., 1)  σ², Eq. 3
        return centred * torch.rsqrt(var + self.eps) * self.weight + self.bias   # (..., dim)


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


class DyT(nn.Module):
    """Dynamic Tanh (Zhu et al., 2025, Section 3): ``γ · tanh(α x) + β``, a drop-in for a norm layer.

    ``α`` is one learnable scalar, initialised to ``alpha_init`` (the paper's default
    ``α₀ = 0.5``; Section 7 tunes it for LLMs); ``γ`` (ones) and ``β`` (zeros) are the same
    per-channel affine as LayerNorm's. There are no statistics: each element is squashed on
    its own, nearly linear for small ``α x`` and saturating at ``±1`` for outliers.
    """

    def __init__(self, dim: int, alpha_init: float = 0.5):
        super().__init__()
        self.dim = positive_int("dim", dim)
        self.alpha = nn.Parameter(torch.tensor(positive("alpha_init", alpha_init)))  # α, a scalar
        self.weight = nn.Parameter(torch.ones(dim))                      # γ
        self.bias = nn.Parameter(torch.zeros(dim))                       # β

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _last_dim("DyT", x, self.dim)
        return torch.tanh(self.alpha * x) * self.weight + self.bias     # (..., dim)
