"""Position information: sinusoidal encodings (Vaswani et al., 2017, Section 3.5) and rotary
embeddings (RoPE, Su et al., 2021), the two schemes the book's models use."""
from __future__ import annotations

import torch

from llmnotes.checks import positive, positive_int


def _frequencies(d: int, base: float = 10000.0) -> torch.Tensor:
    """``base^(-2i/d)`` for ``i = 0 .. d/2 - 1``, in float64: the angle per position of pair ``i``."""
    if positive_int("d", d) % 2:
        raise ValueError(f"the dimension must be even (it is rotated in pairs), got {d}")
    return base ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)


def sinusoidal_positions(n_positions: int, d_model: int) -> torch.Tensor:
    """Section 3.5: PE(pos, 2i) = sin(pos / 10000^(2i/d)), PE(pos, 2i+1) = cos(same); ``(n, d)``."""
    pos = torch.arange(positive_int("n_positions", n_positions), dtype=torch.float64)[:, None]
    angles = pos * _frequencies(d_model)                        # (n, d/2)
    pe = torch.stack([angles.sin(), angles.cos()], dim=-1)       # (n, d/2, 2): sin and cos interleaved
    return pe.flatten(1).float()                                 # (n, d)


def position_shift_matrix(offset: int, d_model: int) -> torch.Tensor:
    """The fixed linear map M_k with PE(pos + k) = M_k · PE(pos) for every pos.

    Each (sin, cos) pair of frequency ω is rotated by the angle k·ω: a block-diagonal
    matrix of 2×2 rotations that depends on the offset k only, not on pos.
    """
    freq = _frequencies(d_model)
    m = torch.zeros(d_model, d_model, dtype=torch.float64)
    c, s = torch.cos(offset * freq), torch.sin(offset * freq)
    i = torch.arange(0, d_model, 2)
    m[i, i], m[i, i + 1] = c, s          # sin(a + b) = sin a cos b + cos a sin b
    m[i + 1, i], m[i + 1, i + 1] = -s, c  # cos(a + b) = cos a cos b - sin a sin b
    return m


def rope_cache(d_head: int, max_seq_len: int, theta: float = 10000.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Cosines and sines ``(max_seq_len, d_head/2)`` of the rotary angles ``m·θ^(-2i/d)``.

    Pair ``i`` of the head dimension at position ``m`` is rotated by ``m · theta^(-2i/d_head)``
    (Su et al., 2021, Eq. 15; Section 2.2 of the LLaMA paper).
    """
    positions = torch.arange(positive_int("max_seq_len", max_seq_len), dtype=torch.float64)
    angles = torch.outer(positions, _frequencies(d_head, positive("theta", theta)))   # (T, d_head/2)
    return angles.cos().float(), angles.sin().float()


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate adjacent pairs ``(x[2i], x[2i+1])`` of ``x (..., T, d_head)`` by the angles.

    ``cos`` and ``sin`` are ``(T, d_head/2)``: the rows of :func:`rope_cache` for the positions
    of ``x``. A rotation keeps every pair's norm, and ``q_m · k_n`` depends on ``m − n`` only.
    (Meta's reference code pairs adjacent dimensions, as here; HF transformers pairs the first
    half with the second and permutes the q/k weights to match.)
    """
    if cos.shape != sin.shape or cos.shape != (x.shape[-2], x.shape[-1] // 2) or x.shape[-1] % 2:
        raise ValueError(f"apply_rope: x {tuple(x.shape)} needs cos/sin of shape "
                         f"({x.shape[-2]}, {x.shape[-1] // 2}), got {tuple(cos.shape)}, {tuple(sin.shape)}")
    x1, x2 = x[..., 0::2].float(), x[..., 1::2].float()                  # (..., T, d_head/2) each
    rotated = torch.stack((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1)   # 2×2 rotation per pair
    return rotated.flatten(-2).to(x.dtype)                               # (..., T, d_head)
