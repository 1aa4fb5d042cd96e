"""Attention: scaled dot-product and multi-head attention (Vaswani et al., 2017, Section 3.2),
with grouped key/value heads (Shazeer, 2019; Ainslie et al., 2023), rotary positions and a
key/value cache, so that every model of the book uses this one layer.

Shapes are batch-first: queries ``(B, H, T_q, d_head)``, keys and values ``(B, H, T_k, d_head)``.
Masks are boolean and broadcast to ``(B, H, T_q, T_k)``: ``True`` means "may attend". A query
row that may attend to nothing gets zero weights and a zero output (as torch's fused kernel
returns), never NaN.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from llmnotes.checks import divides, non_negative_int, positive_int, probability
from llmnotes.nn.kv_cache import LayerCache
from llmnotes.nn.positions import apply_rope


def causal_mask(n: int, device: torch.device | None = None, offset: int = 0) -> torch.Tensor:
    """``(n, offset + n)`` mask: query i (at position offset + i) may attend to keys j <= offset + i.

    ``offset`` is the number of earlier positions whose keys are already cached.
    """
    positive_int("n", n)
    return torch.ones(n, offset + n, dtype=torch.bool, device=device).tril(offset)


def prefix_lm_mask(prefix: int | torch.Tensor, n: int, device: torch.device | None = None) -> torch.Tensor:
    """"Causal with prefix" (Raffel et al., 2020, Section 3.2.1, Figure 3 right): query i may attend
    to key j if j <= i (causal) or if j lies in the prefix (j < prefix).

    Inside the prefix attention is therefore fully visible, after it causal. ``prefix`` is one
    length for every sequence, giving an ``(n, n)`` mask, or a 1-D tensor of per-sequence lengths,
    giving ``(B, 1, n, n)`` (broadcast over heads). ``prefix = 0`` is :func:`causal_mask`,
    ``prefix = n`` the fully visible mask of an encoder.
    """
    positive_int("n", n)
    if isinstance(prefix, torch.Tensor):
        if (prefix.dim() != 1 or prefix.is_floating_point() or prefix.dtype == torch.bool
                or (prefix < 0).any() or (prefix > n).any()):
            raise ValueError(f"prefix must be an int or a 1-D integer tensor of lengths in [0, {n}], "
                             f"got {prefix.tolist() if prefix.dim() == 1 else tuple(prefix.shape)}")
        device = prefix.device if device is None else device
        in_prefix = torch.arange(n, device=device) < prefix.to(device)[:, None]          # (B, n) keys
        return causal_mask(n, device) | in_prefix[:, None, None, :]                      # (B, 1, n, n)
    non_negative_int("prefix", prefix)
    if prefix > n:
        raise ValueError(f"prefix must be in [0, {n}], got {prefix}")
    return causal_mask(n, device) | (torch.arange(n, device=device) < prefix)           # (n, n)


def padding_mask(lengths: torch.Tensor, n: int) -> torch.Tensor:
    """``(B, 1, 1, n)`` mask hiding key positions at or beyond each sequence's length."""
    if lengths.dim() != 1 or (lengths < 1).any() or (lengths > n).any():
        raise ValueError(f"lengths must be a 1-D tensor of values in [1, {n}], got {lengths.tolist()}")
    keep = torch.arange(n, device=lengths.device) < lengths[:, None]
    return keep[:, None, None, :]


def _check_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None) -> None:
    if q.dim() < 2 or q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise ValueError(f"need q (..., T_q, d), k (..., T_k, d), v (..., T_k, d_v); got "
                         f"{tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}")
    if mask is not None:
        if mask.dtype != torch.bool:
            raise ValueError(f"mask must be boolean (True = attend), got {mask.dtype}")
        try:
            torch.broadcast_shapes(mask.shape, (*q.shape[:-1], k.shape[-2]))
        except RuntimeError:
            raise ValueError(f"mask {tuple(mask.shape)} does not broadcast to the scores "
                             f"{(*q.shape[:-1], k.shape[-2])}") from None


def scaled_dot_product_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
    mask: torch.Tensor | None = None, scale: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Eq. 1: ``softmax(Q Kᵀ / √d_k) V``. Returns the output and the attention weights.

    ``scale`` defaults to ``1/√d_k``; pass ``scale=1.0`` to see what the paper avoids.
    """
    _check_attention(q, k, v, mask)
    scale = q.shape[-1] ** -0.5 if scale is None else scale
    scores = (q @ k.transpose(-2, -1)) * scale                # (..., T_q, T_k)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))     # blocked pairs get weight 0
    weights = torch.softmax(scores, dim=-1)                   # each row sums to 1 ...
    if mask is not None:
        weights = weights.nan_to_num(0.0)                     # ... unless it may attend to nothing: all 0
    return weights @ v, weights                               # (..., T_q, d_v), (..., T_q, T_k)


class MultiHeadAttention(nn.Module):
    """Section 3.2.2: ``n_head`` heads of size ``d_model / n_head``, then an output projection.

    ``n_kv_head`` key/value heads are shared by groups of ``n_head / n_kv_head`` query heads:
    ``n_kv_head = n_head`` is multi-head attention, ``1`` multi-query attention (MQA), anything
    between grouped-query attention (GQA). Query head ``j`` reads key/value head
    ``j // (n_head / n_kv_head)``.

    ``forward`` computes self-attention over ``x``, or cross-attention when ``context`` (the
    encoder's output) is given. ``rope=(cos, sin)`` rotates queries and keys (RoPE);
    ``cache`` (a :class:`~llmnotes.nn.kv_cache.LayerCache`) keeps the keys and values of earlier
    positions for incremental decoding. By default the product runs in torch's fused kernel,
    tested equal to :func:`scaled_dot_product_attention`; set ``fused = False`` to run the
    explicit formula and keep the weights of the last call in ``last_weights``.
    """

    def __init__(self, d_model: int, n_head: int, n_kv_head: int | None = None,
                 bias: bool = True, dropout: float = 0.0):
        super().__init__()
        n_kv_head = n_head if n_kv_head is None else n_kv_head
        for name, value in (("d_model", d_model), ("n_head", n_head), ("n_kv_head", n_kv_head)):
            positive_int(name, value)
        divides("n_head", n_head, "d_model", d_model)
        divides("n_kv_head", n_kv_head, "n_head", n_head)
        self.d_model, self.n_head, self.n_kv_head = d_model, n_head, n_kv_head
        self.d_head = d_model // n_head
        self.q_proj = nn.Linear(d_model, n_head * self.d_head, bias=bias)
        self.k_proj = nn.Linear(d_model, n_kv_head * self.d_head, bias=bias)
        self.v_proj = nn.Linear(d_model, n_kv_head * self.d_head, bias=bias)
        self.o_proj = nn.Linear(n_head * self.d_head, d_model, bias=bias)
        self.dropout = probability("dropout", dropout)
        self.fused = True
        self.last_weights: torch.Tensor | None = None

    def _heads(self, x: torch.Tensor, n_head: int) -> torch.Tensor:
        b, t, _ = x.shape
        return x.view(b, t, n_head, self.d_head).transpose(1, 2)             # (B, H, T, d_head)

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None, mask: torch.Tensor | None = None,
                rope: tuple[torch.Tensor, torch.Tensor] | None = None,
                cache: LayerCache | None = None) -> torch.Tensor:
        if x.dim() != 3 or x.shape[-1] != self.d_model:
            raise ValueError(f"x must have shape (batch, n, {self.d_model}), got {tuple(x.shape)}")
        source = x if context is None else context                            # (B, T_k, d_model)
        q = self._heads(self.q_proj(x), self.n_head)                          # (B, H, T_q, d_head)
        k = self._heads(self.k_proj(source), self.n_kv_head)                  # (B, H_kv, T_k, d_head)
        v = self._heads(self.v_proj(source), self.n_kv_head)
        if rope is not None:
            q, k = apply_rope(q, *rope), apply_rope(k, *rope)
        if cache is not None:
            k, v = cache.update(k, v)                                         # prepend earlier positions
        p = self.dropout if self.training else 0.0
        if self.fused:
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p,
                                                 enable_gqa=self.n_kv_head != self.n_head)
        else:
            group = self.n_head // self.n_kv_head                             # query heads per key/value head
            k, v = k.repeat_interleave(group, dim=1), v.repeat_interleave(group, dim=1)   # (B, H, T_k, d_head)
            out, weights = scaled_dot_product_attention(q, k, v, mask)        # (B, H, T_q, d_head)
            self.last_weights = weights.detach()
            if p:
                out = F.dropout(weights, p) @ v                               # dropout on the weights, as the fused kernel
        out = out.transpose(1, 2).reshape(x.shape[0], x.shape[1], -1)          # (B, T_q, H·d_head)
        return self.o_proj(out)
