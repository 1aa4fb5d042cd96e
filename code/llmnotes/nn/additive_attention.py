"""Attention over the states of an RNN encoder: Bahdanau's additive score and Luong's dot scores.

Bahdanau, Cho & Bengio (2015), "Neural Machine Translation by Jointly Learning to Align and
Translate", ICLR 2015: at every target step ``i`` the decoder scores each source annotation
``h_j`` against its previous state ``s_{i-1}`` with a one-hidden-layer network (the *alignment
model*, Eq. 6 and Appendix A.1.2), ``e_ij = v_a^T tanh(W_a s_{i-1} + U_a h_j)``, turns the scores
into weights ``alpha_ij = softmax_j(e_ij)`` (Eq. 6) and reads the context
``c_i = sum_j alpha_ij h_j`` (Eq. 5). Luong, Pham & Manning (2015) replaced the network by a dot
product ``s^T h_j`` ("dot") or a bilinear form ``s^T W h_j`` ("general").

Both modules share one interface: ``forward(query (B, d_query), keys (B, S, d_key), mask (B, S))``
returns the context ``(B, d_key)`` and the weights ``(B, S)``; ``mask`` is boolean, True where a
source position is real, False on padding (padding gets weight exactly 0).
"""
from __future__ import annotations

import torch
from torch import nn

from llmnotes.checks import positive_int, shape


def _check(query: torch.Tensor, keys: torch.Tensor, mask: torch.Tensor | None, d_query: int, d_key: int) -> None:
    shape("query", query, ("batch", d_query))
    shape("keys", keys, (query.shape[0], "source", d_key))
    if mask is not None:
        shape("mask", mask, (query.shape[0], keys.shape[1]))
        if mask.dtype != torch.bool:
            raise ValueError(f"mask must be boolean (True = a real source position), got {mask.dtype}")
        if not mask.any(dim=1).all():
            raise ValueError("mask hides every source position of some sequence: nothing to attend to")


class _EncoderAttention(nn.Module):
    """Scores ``(B, S)`` -> masked softmax over source positions -> weighted sum of the keys."""

    d_query: int
    d_key: int

    def scores(self, query: torch.Tensor, keys: torch.Tensor, projected_keys: torch.Tensor | None = None) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, query: torch.Tensor, keys: torch.Tensor, mask: torch.Tensor | None = None,
                projected_keys: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Context ``c = sum_j alpha_j h_j`` (Eq. 5) and weights ``alpha`` (Eq. 6) for one decoder step."""
        _check(query, keys, mask, self.d_query, self.d_key)
        e = self.scores(query, keys, projected_keys)               # (B, S) energies e_ij
        if mask is not None:
            e = e.masked_fill(~mask, float("-inf"))                # padding: exp(-inf) = 0
        alpha = torch.softmax(e, dim=-1)                           # (B, S), each row sums to 1
        context = (alpha.unsqueeze(-1) * keys).sum(dim=1)          # (B, d_key)
        return context, alpha


class AdditiveAttention(_EncoderAttention):
    """Bahdanau's alignment model: ``e_j = v_a^T tanh(W_a s + U_a h_j)`` (Appendix A.1.2).

    ``W_a`` is ``d_attn x d_query``, ``U_a`` is ``d_attn x d_key``, ``v_a`` has ``d_attn`` entries, as
    in the paper (no biases). ``U_a h_j`` does not depend on the decoder step, so a decoder
    computes it once per sentence (:meth:`project_keys`; the paper's footnote in A.1.2) and passes
    it as ``projected_keys``.
    """

    def __init__(self, d_query: int, d_key: int, d_attn: int):
        super().__init__()
        self.d_query, self.d_key = positive_int("d_query", d_query), positive_int("d_key", d_key)
        self.d_attn = positive_int("d_attn", d_attn)
        self.w_a = nn.Linear(d_query, d_attn, bias=False)
        self.u_a = nn.Linear(d_key, d_attn, bias=False)
        self.v_a = nn.Linear(d_attn, 1, bias=False)

    def project_keys(self, keys: torch.Tensor) -> torch.Tensor:
        """``U_a h_j`` for every source position: ``(B, S, d_key) -> (B, S, d_attn)``."""
        return self.u_a(keys)

    def scores(self, query: torch.Tensor, keys: torch.Tensor, projected_keys: torch.Tensor | None = None) -> torch.Tensor:
        if projected_keys is None:
            projected_keys = self.u_a(keys)                                   # (B, S, d_attn)
        else:
            shape("projected_keys", projected_keys, (keys.shape[0], keys.shape[1], self.d_attn))
        ws = self.w_a(query).unsqueeze(1)                                     # (B, 1, d_attn)
        return (torch.tanh(ws + projected_keys) * self.v_a.weight[0]).sum(dim=-1)   # (B, S): v_a^T tanh(.)


class DotProductAttention(_EncoderAttention):
    """Luong's multiplicative scores: ``e_j = s^T h_j`` ("dot") or ``s^T W h_j`` ("general").

    With ``d_query == d_key`` and ``general=False`` the score is the plain dot product, unscaled
    (the Transformer's 1/sqrt(d) came later). ``general=True`` (needed when the sizes differ)
    learns ``W`` (``d_query x d_key``), applied as a projection of the query: ``(W^T s)^T h_j``.
    """

    def __init__(self, d_query: int, d_key: int, general: bool = False):
        super().__init__()
        self.d_query, self.d_key = positive_int("d_query", d_query), positive_int("d_key", d_key)
        if not general and d_query != d_key:
            raise ValueError(f"a dot score needs d_query == d_key, got {d_query} and {d_key}; "
                             "use general=True for a learned bilinear score")
        self.w = nn.Linear(d_query, d_key, bias=False) if general else None

    def project_keys(self, keys: torch.Tensor) -> None:
        """Nothing to precompute for a dot score."""
        return None

    def scores(self, query: torch.Tensor, keys: torch.Tensor, projected_keys: torch.Tensor | None = None) -> torch.Tensor:
        if projected_keys is not None:
            raise ValueError("a dot-product score takes no projected_keys")
        q = query if self.w is None else self.w(query)           # (B, d_key)
        return (keys * q.unsqueeze(1)).sum(dim=-1)               # (B, S): s^T h_j for every j
