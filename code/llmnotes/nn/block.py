"""The Transformer block: attention and a feed-forward layer, each in a residual connection with
LayerNorm, before the sub-layer (pre-norm: GPT-2, GPT-3) or after the sum (post-norm: the
original Transformer, BERT, GPT-1)."""
from __future__ import annotations

import torch
from torch import nn

from llmnotes.nn.attention import MultiHeadAttention
from llmnotes.nn.feedforward import FeedForward
from llmnotes.nn.kv_cache import LayerCache


class TransformerBlock(nn.Module):
    """``pre_norm``: ``x + Attn(LN(x))`` then ``x + FFN(LN(x))`` (Radford et al., 2019, Section 2.3).
    Otherwise ``LN(x + Attn(x))`` then ``LN(x + FFN(x))`` (Vaswani et al., 2017, Section 5.4).

    Residual dropout is applied to each sub-layer's output before it is added (Section 5.4).
    """

    def __init__(self, d_model: int, n_head: int, d_ff: int, activation: str = "gelu", pre_norm: bool = True,
                 norm_eps: float = 1e-5, dropout: float = 0.0):
        super().__init__()
        self.pre_norm = pre_norm
        self.attn = MultiHeadAttention(d_model, n_head, dropout=dropout)
        self.ffn = FeedForward(d_model, d_ff, activation)
        self.attn_norm = nn.LayerNorm(d_model, eps=norm_eps)
        self.ffn_norm = nn.LayerNorm(d_model, eps=norm_eps)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None,
                cache: LayerCache | None = None) -> torch.Tensor:
        if self.pre_norm:                                                        # x: (B, T, d_model)
            x = x + self.drop(self.attn(self.attn_norm(x), mask=mask, cache=cache))
            return x + self.drop(self.ffn(self.ffn_norm(x)))
        x = self.attn_norm(x + self.drop(self.attn(x, mask=mask, cache=cache)))
        return self.ffn_norm(x + self.drop(self.ffn(x)))
