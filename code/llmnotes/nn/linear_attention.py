"""Causal linear attention (Katharopoulos et al., 2020, "Transformers are RNNs").

Softmax attention weighs value ``j`` for query ``i`` by ``exp(q_i·k_j/√d)``, a similarity that
does not factor, so every query meets every key: ``O(T²)`` time for a sequence and a cache of
all past keys and values for decoding. Linear attention replaces it by a kernel
``sim(q, k) = φ(q)ᵀφ(k)`` with the feature map ``φ(x) = elu(x) + 1`` (Section 3.2, Eq. 4-7).
By associativity, ``Σ_j φ(q_i)ᵀφ(k_j) v_jᵀ = φ(q_i)ᵀ (Σ_j φ(k_j) v_jᵀ)``: under a causal mask the
bracket is a running sum, so the layer is an RNN with a ``(d_k, d_v)`` matrix state ``S`` and a
``d_k`` normaliser ``z`` (Section 3.4, Eq. 16-20):

    S_t = S_{t-1} + φ(k_t) v_tᵀ,   z_t = z_{t-1} + φ(k_t),   y_t = φ(q_t)ᵀ S_t / φ(q_t)ᵀ z_t.

This module has both forms: :func:`causal_linear_attention` (parallel, the masked quadratic
form of Eq. 9, used for training) and :func:`linear_attention_step` / :func:`recurrent_linear_attention`
(the recurrence, used for decoding in constant time and memory per token), and a multi-head
layer :class:`LinearAttention` with the book's projection names.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from llmnotes.checks import divides, number, positive, positive_int
from llmnotes.nn.attention import causal_mask


def elu_feature_map(x: torch.Tensor) -> torch.Tensor:
    """``φ(x) = elu(x) + 1`` (Section 3.2, Eq. 7): positive, so the normaliser never vanishes."""
    return F.elu(x) + 1.0


def _check_qkv(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> None:
    if q.dim() < 2 or q.shape != k.shape or v.shape[:-1] != k.shape[:-1]:
        raise ValueError(f"need q and k (..., T, d_k) of one shape and v (..., T, d_v); got "
                         f"{tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}")


def causal_linear_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """The parallel form, Eq. 9: ``y_i = Σ_{j≤i} φ(q_i)ᵀφ(k_j) v_j / Σ_{j≤i} φ(q_i)ᵀφ(k_j)``.

    ``q, k``: ``(..., T, d_k)``, ``v``: ``(..., T, d_v)``; returns ``(..., T, d_v)``. It builds
    the ``T × T`` matrix of similarities, as softmax attention does: ``O(T²)`` time, written
    for training and as the reference for the recurrent form.
    """
    _check_qkv(q, k, v)
    number("eps", eps, low=0.0)
    fq, fk = elu_feature_map(q), elu_feature_map(k)                  # (..., T, d_k), φ > 0
    mask = causal_mask(q.shape[-2], q.device)                         # (T, T)
    sim = (fq @ fk.transpose(-2, -1)).masked_fill(~mask, 0.0)         # (..., T, T): φ(q_i)ᵀφ(k_j), j ≤ i
    return (sim @ v) / (sim.sum(-1, keepdim=True) + eps)              # (..., T, d_v)


@dataclass
class LinearAttentionState:
    """The RNN state of Eq. 18-19: ``s`` ``(..., d_k, d_v)`` and ``z`` ``(..., d_k)``; its size never grows."""

    s: torch.Tensor
    z: torch.Tensor

    @classmethod
    def zeros(cls, batch_shape: tuple[int, ...], d_k: int, d_v: int,
              dtype: torch.dtype = torch.float32, device: torch.device | None = None) -> "LinearAttentionState":
        return cls(torch.zeros(*batch_shape, d_k, d_v, dtype=dtype, device=device),
                   torch.zeros(*batch_shape, d_k, dtype=dtype, device=device))

    def nbytes(self) -> int:
        """Bytes of the state: ``(d_k·d_v + d_k)`` numbers per head, whatever the context length."""
        return self.s.numel() * self.s.element_size() + self.z.numel() * self.z.element_size()


def linear_attention_step(q_t: torch.Tensor, k_t: torch.Tensor, v_t: torch.Tensor,
                          state: LinearAttentionState, eps: float = 1e-6
                          ) -> tuple[torch.Tensor, LinearAttentionState]:
    """One position of the recurrent form (Eq. 18-20): update ``S, z`` and read them with ``φ(q_t)``.

    ``q_t, k_t``: ``(..., d_k)``, ``v_t``: ``(..., d_v)``; returns ``y_t`` ``(..., d_v)`` and the new state.
    """
    if q_t.shape != k_t.shape or v_t.shape[:-1] != k_t.shape[:-1] or state.s.shape != (*k_t.shape, v_t.shape[-1]):
        raise ValueError(f"need q_t, k_t (..., d_k), v_t (..., d_v) and a state (..., d_k, d_v); got "
                         f"{tuple(q_t.shape)}, {tuple(k_t.shape)}, {tuple(v_t.shape)}, {tuple(state.s.shape)}")
    fq, fk = elu_feature_map(q_t), elu_feature_map(k_t)                # (..., d_k)
    s = state.s + fk.unsqueeze(-1) * v_t.unsqueeze(-2)                 # (..., d_k, d_v): S_t = S_{t-1} + φ(k_t) v_tᵀ
    z = state.z + fk                                                   # (..., d_k):      z_t = z_{t-1} + φ(k_t)
    num = (fq.unsqueeze(-2) @ s).squeeze(-2)                           # (..., d_v):      φ(q_t)ᵀ S_t
    den = (fq * z).sum(-1, keepdim=True)                               # (..., 1):        φ(q_t)ᵀ z_t
    return num / (den + eps), LinearAttentionState(s, z)


def recurrent_linear_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """The recurrent form run over a whole sequence, one position at a time; equals :func:`causal_linear_attention`."""
    _check_qkv(q, k, v)
    state = LinearAttentionState.zeros(tuple(q.shape[:-2]), q.shape[-1], v.shape[-1], q.dtype, q.device)
    outputs = []
    for t in range(q.shape[-2]):
        y, state = linear_attention_step(q[..., t, :], k[..., t, :], v[..., t, :], state, eps)
        outputs.append(y)                                              # (..., d_v)
    return torch.stack(outputs, dim=-2)                                # (..., T, d_v)


class LinearAttention(nn.Module):
    """Multi-head causal linear attention: ``q_proj``, ``k_proj``, ``v_proj``, ``o_proj`` as in
    :class:`~llmnotes.nn.attention.MultiHeadAttention`, with ``elu + 1`` features and no softmax.

    ``forward(x)`` runs the parallel form over ``(B, T, d_model)``; ``step(x_t, state)`` runs one
    token ``(B, d_model)`` through the recurrence, with a state of constant size.
    """

    def __init__(self, d_model: int, n_head: int, bias: bool = True, eps: float = 1e-6):
        super().__init__()
        positive_int("d_model", d_model)
        positive_int("n_head", n_head)
        divides("n_head", n_head, "d_model", d_model)
        self.d_model, self.n_head, self.d_head = d_model, n_head, d_model // n_head
        self.eps = positive("eps", eps)
        self.q_proj = nn.Linear(d_model, d_model, bias=bias)
        self.k_proj = nn.Linear(d_model, d_model, bias=bias)
        self.v_proj = nn.Linear(d_model, d_model, bias=bias)
        self.o_proj = nn.Linear(d_model, d_model, bias=bias)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        return x.view(*x.shape[:-1], self.n_head, self.d_head).transpose(-3, -2) if x.dim() == 3 \
            else x.view(x.shape[0], self.n_head, self.d_head)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 3 or x.shape[-1] != self.d_model:
            raise ValueError(f"x must have shape (batch, n, {self.d_model}), got {tuple(x.shape)}")
        q, k, v = (self._heads(p(x)) for p in (self.q_proj, self.k_proj, self.v_proj))   # (B, H, T, d_head)
        out = causal_linear_attention(q, k, v, self.eps)                                 # (B, H, T, d_head)
        return self.o_proj(out.transpose(1, 2).reshape(x.shape))                         # (B, T, d_model)

    def new_state(self, batch_size: int, dtype: torch.dtype = torch.float32,
                  device: torch.device | None = None) -> LinearAttentionState:
        return LinearAttentionState.zeros((positive_int("batch_size", batch_size), self.n_head),
                                          self.d_head, self.d_head, dtype, device)

    def step(self, x_t: torch.Tensor, state: LinearAttentionState) -> tuple[torch.Tensor, LinearAttentionState]:
        """One token ``(B, d_model)`` → its output ``(B, d_model)`` and the updated state."""
        if x_t.dim() != 2 or x_t.shape[-1] != self.d_model:
            raise ValueError(f"x_t must have shape (batch, {self.d_model}), got {tuple(x_t.shape)}")
        q, k, v = (self._heads(p(x_t)) for p in (self.q_proj, self.k_proj, self.v_proj))  # (B, H, d_head)
        out, state = linear_attention_step(q, k, v, state, self.eps)                      # (B, H, d_head)
        return self.o_proj(out.reshape(x_t.shape)), state                                 # (B, d_model)
