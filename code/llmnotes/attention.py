"""Scaled dot-product and multi-head attention (Vaswani et al., 2017, Section 3.2).

Shapes follow the batch-first convention: queries ``(..., n_q, d_k)``, keys ``(..., n_k, d_k)``,
values ``(..., n_k, d_v)``. Masks are boolean and broadcast to ``(..., n_q, n_k)``:
``True`` means "may attend", ``False`` means "blocked".
"""
from __future__ import annotations

import math

import torch
from torch import nn


def causal_mask(n: int, device: torch.device | None = None) -> torch.Tensor:
    """``(n, n)`` mask letting position i attend to positions j <= i (decoder self-attention)."""
    if n < 1:
        raise ValueError(f"causal_mask needs n >= 1, got {n}")
    return torch.ones(n, n, dtype=torch.bool, device=device).tril()


def padding_mask(lengths: torch.Tensor, n: int) -> torch.Tensor:
    """``(batch, 1, 1, n)`` mask hiding key positions at or beyond each sequence's length."""
    if lengths.dim() != 1:
        raise ValueError(f"lengths must be 1-D (batch,), got shape {tuple(lengths.shape)}")
    if (lengths < 1).any() or (lengths > n).any():
        raise ValueError(f"every length must be in [1, {n}], got {lengths.tolist()}")
    keep = torch.arange(n, device=lengths.device) < lengths[:, None]
    return keep[:, None, None, :]


def scaled_dot_product_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
    mask: torch.Tensor | None = None, scale: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Eq. 1: ``softmax(Q Kᵀ / √d_k) V``. Returns the output and the attention weights.

    ``scale`` defaults to ``1/√d_k``; pass ``scale=1.0`` to see what the paper avoids.
    """
    if q.dim() < 2 or k.dim() < 2 or v.dim() < 2:
        raise ValueError("q, k and v need at least 2 dimensions (..., n, d)")
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"q and k must share d_k, got {q.shape[-1]} and {k.shape[-1]}")
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(f"k and v must have the same length, got {k.shape[-2]} and {v.shape[-2]}")
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    scores = (q @ k.transpose(-2, -1)) * scale
    if mask is not None:
        if mask.dtype != torch.bool:
            raise ValueError(f"mask must be boolean (True = attend), got {mask.dtype}")
        try:
            torch.broadcast_shapes(mask.shape, scores.shape)
        except RuntimeError:
            raise ValueError(f"mask of shape {tuple(mask.shape)} does not broadcast to scores "
                             f"{tuple(scores.shape)}") from None
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    return weights @ v, weights


class MultiHeadAttention(nn.Module):
    """Section 3.2.2: h heads of size d_model/h, then an output projection.

    Parameters: four d_model×d_model projections with biases, 4·d² + 4·d in all, whatever h is.
    The attention weights of the last call are kept in ``self.last_weights`` for plotting.
    """

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0):
        super().__init__()
        if d_model < 1 or n_heads < 1:
            raise ValueError(f"d_model and n_heads must be positive, got {d_model} and {n_heads}")
        if d_model % n_heads:
            raise ValueError(f"d_model ({d_model}) must be divisible by n_heads ({n_heads})")
        self.d_model, self.n_heads, self.d_head = d_model, n_heads, d_model // n_heads
        self.w_q, self.w_k, self.w_v, self.w_o = (nn.Linear(d_model, d_model) for _ in range(4))
        self.dropout = nn.Dropout(dropout)
        self.last_weights: torch.Tensor | None = None

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        b, n, _ = x.shape
        return x.view(b, n, self.n_heads, self.d_head).transpose(1, 2)

    def forward(self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                mask: torch.Tensor | None = None) -> torch.Tensor:
        for name, x in (("query", query), ("key", key), ("value", value)):
            if x.dim() != 3 or x.shape[-1] != self.d_model:
                raise ValueError(f"{name} must have shape (batch, n, {self.d_model}), got {tuple(x.shape)}")
        q, k, v = self._split(self.w_q(query)), self._split(self.w_k(key)), self._split(self.w_v(value))
        out, weights = scaled_dot_product_attention(q, k, v, mask)
        self.last_weights = weights.detach()
        out = self.dropout(out).transpose(1, 2).reshape(query.shape[0], query.shape[1], self.d_model)
        return self.w_o(out)
