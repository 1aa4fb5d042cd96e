"""FlashAttention (Dao et al., 2022): exact attention that never stores the N×N matrix.

The forward pass is Algorithm 1 of the paper (with the softmax scale τ and the mask of its
full version, Algorithm 2 in Appendix B.3): queries, keys and values are cut into blocks,
and each row keeps a running maximum ``m`` and a running normaliser ``ℓ`` so that the softmax
can be computed one key block at a time (the "online softmax" of Section 3.1). The backward
pass is Algorithm 4 (Appendix B.4): it recomputes every attention block from Q, K, V and the
saved per-row statistics instead of reading a stored N×N matrix.

On a GPU the blocks live in on-chip SRAM and the loops run inside one CUDA kernel. Here
they are plain PyTorch on whatever device the tensors are on: the *algorithm* is exact and
its memory use is the paper's, its speed is not (see the chapter). :class:`HBMCounter`
records how many tensor elements each loop iteration moves from and to slow memory, so the
IO analysis of Theorem 2 can be counted rather than assumed.

Shapes follow :mod:`llmnotes.nn.attention`: ``q (..., n_q, d)``, ``k (..., n_k, d)``,
``v (..., n_k, d_v)``, with identical leading (batch, head) dimensions. ``causal=True``
lets query i attend to keys j <= i (top-left aligned, as ``torch``'s ``is_causal``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from llmnotes.checks import positive_int

DEFAULT_BLOCK = 64


@dataclass
class HBMCounter:
    """Tensor elements read from (``reads``) and written to (``writes``) slow memory (HBM).

    ``read`` and ``write`` take tensors or shapes (tuples), so the same bookkeeping serves the
    real computation and a shape-only simulation of its loops.
    """

    reads: int = 0
    writes: int = 0

    @staticmethod
    def _size(items) -> int:
        return sum(x.numel() if isinstance(x, torch.Tensor) else math.prod(x) for x in items)

    def read(self, *items) -> None:
        self.reads += self._size(items)

    def write(self, *items) -> None:
        self.writes += self._size(items)

    @property
    def total(self) -> int:
        return self.reads + self.writes


def _check_inputs(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, block_rows, block_cols) -> None:
    for name, x in (("q", q), ("k", k), ("v", v)):
        if not isinstance(x, torch.Tensor):
            raise ValueError(f"{name} must be a tensor, got {type(x).__name__}")
        if x.dim() < 2:
            raise ValueError(f"{name} needs at least 2 dimensions (..., n, d), got shape {tuple(x.shape)}")
        if not x.is_floating_point():
            raise ValueError(f"{name} must be a floating-point tensor, got {x.dtype}")
        if 0 in x.shape:
            raise ValueError(f"{name} must not be empty, got shape {tuple(x.shape)}")
    if not (q.shape[:-2] == k.shape[:-2] == v.shape[:-2]):
        raise ValueError("q, k and v must share their leading (batch, head) dimensions, got "
                         f"{tuple(q.shape[:-2])}, {tuple(k.shape[:-2])} and {tuple(v.shape[:-2])}")
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"q and k must share d_k, got {q.shape[-1]} and {k.shape[-1]}")
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(f"k and v must have the same length, got {k.shape[-2]} and {v.shape[-2]}")
    if not (q.dtype == k.dtype == v.dtype):
        raise ValueError(f"q, k and v must share a dtype, got {q.dtype}, {k.dtype} and {v.dtype}")
    positive_int("block_rows", block_rows)
    positive_int("block_cols", block_cols)


def _block_mask(i0: int, n_rows: int, j0: int, n_cols: int, device) -> torch.Tensor:
    """``True`` where key j lies after query i inside the block at (i0, j0): masked out."""
    rows = torch.arange(i0, i0 + n_rows, device=device)
    cols = torch.arange(j0, j0 + n_cols, device=device)
    return cols[None, :] > rows[:, None]


def _skip(causal: bool, i0: int, n_rows: int, j0: int) -> bool:
    """A causal block whose first key comes after its last query holds only masked scores."""
    return causal and j0 > i0 + n_rows - 1


def _partly_masked(causal: bool, i0: int, j0: int, n_cols: int) -> bool:
    """A causal block that crosses the diagonal: some of its keys come after some of its queries."""
    return causal and j0 + n_cols - 1 > i0


def _flat(x: torch.Tensor) -> torch.Tensor:
    """``(..., n, d)`` as ``(batch, n, d)``: the loops below index blocks along dimension 1."""
    return x.reshape(-1, *x.shape[-2:])


@torch.no_grad()
def flash_attention_forward(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool = False,
    block_rows: int = DEFAULT_BLOCK, block_cols: int = DEFAULT_BLOCK, scale: float | None = None,
    io: HBMCounter | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Algorithm 1: tiled attention with online softmax. Returns ``(O, L)``, not differentiable.

    ``L = m + log ℓ`` is the log-sum-exp of each row of the scaled scores: the one number per
    row the backward pass needs to rebuild ``P = exp(S - L)`` (Algorithm 4, line 13, writes it
    as ``diag(ℓ)⁻¹ exp(S - m)``). ``block_rows`` is B_r and ``block_cols`` is B_c; the last
    block of a length that is not a multiple of the block size is simply shorter. The row
    statistics ℓ, m are kept as columns ``(batch, n, 1)``, the ``diag(·)`` of the paper.
    """
    _check_inputs(q, k, v, block_rows, block_cols)
    io = HBMCounter() if io is None else io
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    batch_shape, (n_q, n_k) = q.shape[:-2], (q.shape[-2], k.shape[-2])
    q, k, v = _flat(q), _flat(k), _flat(v)
    out = q.new_zeros(q.shape[0], n_q, v.shape[-1])                       # line 2: O = 0,
    row_sum = q.new_zeros(q.shape[0], n_q, 1)                             #   ℓ = 0,
    row_max = q.new_full((q.shape[0], n_q, 1), -math.inf)                 #   m = -inf
    io.write(out, row_sum, row_max)
    for j0 in range(0, n_k, block_cols):                                  # line 5
        k_j, v_j = k[:, j0:j0 + block_cols], v[:, j0:j0 + block_cols]
        io.read(k_j, v_j)                                                 # line 6
        for i0 in range(0, n_q, block_rows):                              # line 7
            rows = slice(i0, i0 + block_rows)
            q_i, o_i, l_i, m_i = q[:, rows], out[:, rows], row_sum[:, rows], row_max[:, rows]
            if _skip(causal, i0, q_i.shape[1], j0):
                continue
            io.read(q_i, o_i, l_i, m_i)                                   # line 8
            s_ij = torch.bmm(q_i, k_j.transpose(1, 2)).mul_(scale)        # line 9
            if _partly_masked(causal, i0, j0, k_j.shape[1]):
                s_ij.masked_fill_(_block_mask(i0, q_i.shape[1], j0, k_j.shape[1], q.device), -math.inf)
            m_tilde = s_ij.amax(dim=-1, keepdim=True)                     # line 10
            # A row masked out in this whole block has m̃ = -inf: shift it by 0, so exp gives 0, not NaN.
            p_tilde = torch.exp(s_ij - m_tilde.nan_to_num(neginf=0.0))
            l_tilde = p_tilde.sum(dim=-1, keepdim=True)
            m_new = torch.maximum(m_i, m_tilde)                           # line 11
            old, new = torch.exp(m_i - m_new), torch.exp(m_tilde - m_new)
            l_new = old * l_i + new * l_tilde
            out[:, rows] = (l_i * old * o_i + new * torch.bmm(p_tilde, v_j)) / l_new   # line 12
            row_sum[:, rows], row_max[:, rows] = l_new, m_new             # line 13
            io.write(o_i, l_new, m_new)
    io.read(row_sum, row_max)
    lse = row_max + torch.log(row_sum)
    io.write(lse)
    return out.reshape(*batch_shape, n_q, -1), lse.reshape(*batch_shape, n_q)


@torch.no_grad()
def flash_attention_backward(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, out: torch.Tensor, lse: torch.Tensor,
    grad_out: torch.Tensor, causal: bool = False, block_rows: int = DEFAULT_BLOCK,
    block_cols: int = DEFAULT_BLOCK, scale: float | None = None, io: HBMCounter | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Algorithm 4: gradients of Q, K, V, recomputing each block ``P_ij`` from Q, K and ``L``.

    The softmax gradient uses Eq. 4 of Appendix B.2, ``D_i = rowsum(dO_i ∘ O_i)`` (a dot
    product of length d instead of a reduction over a whole row of P), so that
    ``dS_ij = P_ij ∘ (dP_ij - D_i)`` needs only the current block (lines 19-20).
    """
    _check_inputs(q, k, v, block_rows, block_cols)
    if out.shape != (*q.shape[:-1], v.shape[-1]) or grad_out.shape != out.shape:
        raise ValueError(f"out and grad_out must have shape {(*q.shape[:-1], v.shape[-1])}, "
                         f"got {tuple(out.shape)} and {tuple(grad_out.shape)}")
    if lse.shape != q.shape[:-1]:
        raise ValueError(f"lse must have shape {tuple(q.shape[:-1])}, got {tuple(lse.shape)}")
    io = HBMCounter() if io is None else io
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    shapes, (n_q, n_k) = (q.shape, k.shape, v.shape), (q.shape[-2], k.shape[-2])
    q, k, v, out, grad_out = _flat(q), _flat(k), _flat(v), _flat(out), _flat(grad_out)
    lse = lse.reshape(q.shape[0], n_q, 1)
    dq, dk, dv = torch.zeros_like(q), torch.zeros_like(k), torch.zeros_like(v)   # line 5
    io.write(dq, dk, dv)
    for j0 in range(0, n_k, block_cols):                                  # line 6
        cols = slice(j0, j0 + block_cols)
        k_j, v_j = k[:, cols], v[:, cols]
        io.read(k_j, v_j)                                                 # line 7
        dk_j, dv_j = torch.zeros_like(k_j), torch.zeros_like(v_j)         # line 8 (on chip)
        for i0 in range(0, n_q, block_rows):                              # line 9
            rows = slice(i0, i0 + block_rows)
            q_i, o_i, do_i, dq_i, lse_i = q[:, rows], out[:, rows], grad_out[:, rows], dq[:, rows], lse[:, rows]
            if _skip(causal, i0, q_i.shape[1], j0):
                continue
            io.read(q_i, o_i, do_i, dq_i, lse_i)                          # line 10
            s_ij = torch.bmm(q_i, k_j.transpose(1, 2)).mul_(scale)        # line 11
            if _partly_masked(causal, i0, j0, k_j.shape[1]):              # line 12
                s_ij.masked_fill_(_block_mask(i0, q_i.shape[1], j0, k_j.shape[1], q.device), -math.inf)
            p_ij = torch.exp(s_ij - lse_i)                                # line 13
            dv_j += torch.bmm(p_ij.transpose(1, 2), do_i)                 # line 16
            dp_ij = torch.bmm(do_i, v_j.transpose(1, 2))                  # line 17
            d_i = (do_i * o_i).sum(dim=-1, keepdim=True)                  # line 19
            ds_ij = p_ij * (dp_ij - d_i)                                  # line 20
            dq[:, rows] = dq_i + scale * torch.bmm(ds_ij, k_j)            # line 21
            io.write(dq_i)
            dk_j += scale * torch.bmm(ds_ij.transpose(1, 2), q_i)         # line 22
        dk[:, cols], dv[:, cols] = dk_j, dv_j                             # line 24
        io.write(dk_j, dv_j)
    return dq.reshape(shapes[0]), dk.reshape(shapes[1]), dv.reshape(shapes[2])


class FlashAttentionFunction(torch.autograd.Function):
    """Autograd wrapper: the forward saves only Q, K, V, O and L (O(N) extra), never P."""

    @staticmethod
    def forward(ctx, q, k, v, causal: bool, block_rows: int, block_cols: int, scale: float | None):
        out, lse = flash_attention_forward(q, k, v, causal, block_rows, block_cols, scale)
        ctx.save_for_backward(q, k, v, out, lse)
        ctx.options = (causal, block_rows, block_cols, scale)
        ctx.mark_non_differentiable(lse)
        return out, lse

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out, grad_lse):
        q, k, v, out, lse = ctx.saved_tensors
        dq, dk, dv = flash_attention_backward(q, k, v, out, lse, grad_out.contiguous(), *ctx.options)
        return dq, dk, dv, None, None, None, None


def flash_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool = False,
    block_size: int | tuple[int, int] = DEFAULT_BLOCK, scale: float | None = None,
) -> torch.Tensor:
    """Exact ``softmax(Q Kᵀ · scale) V`` by FlashAttention, differentiable.

    ``block_size`` is one int (B_r = B_c) or a pair ``(B_r, B_c)``; ``scale`` defaults to
    ``1/√d``. Drop-in for ``F.scaled_dot_product_attention(q, k, v, is_causal=causal)``.
    """
    if isinstance(block_size, tuple) and len(block_size) != 2:
        raise ValueError(f"block_size must be an int or a pair (B_r, B_c), got {block_size!r}")
    rows, cols = block_size if isinstance(block_size, tuple) else (block_size, block_size)
    _check_inputs(q, k, v, rows, cols)
    out, _ = FlashAttentionFunction.apply(q, k, v, causal, rows, cols, scale)
    return out


# ----------------------------------------------------------------------------------------
# IO complexity (Section 3.2, Theorem 2; backward: Theorem 5), counted by walking the loops.


def block_sizes(sram: int, d: int) -> tuple[int, int]:
    """Algorithm 1, line 1: ``B_c = ⌈M/4d⌉``, ``B_r = min(⌈M/4d⌉, d)`` for an SRAM of M elements."""
    positive_int("d", d)
    if isinstance(sram, bool) or not isinstance(sram, int) or sram < d:
        raise ValueError(f"sram (M, in elements) must be an int >= d = {d} (Theorem 2 needs d <= M), got {sram!r}")
    b_c = math.ceil(sram / (4 * d))
    return min(b_c, d), b_c


def standard_attention_io(n: int, d: int, backward: bool = False) -> HBMCounter:
    """HBM element accesses of standard attention (Algorithm 0; with ``backward``, Algorithm 3).

    Each line of the algorithm is one kernel that reads its operands from HBM and writes its
    result back, so the N×N matrices S, P (and dP, dS) each cross the bus several times.
    """
    positive_int("n", n)
    positive_int("d", d)
    q = k = v = o = do = dq = dk = dv = (n, d)
    s = p = dp = ds = (n, n)
    steps = [                            # (read, written), one kernel per line
        ((q, k), s),                     # Alg. 0, line 1: S = Q Kᵀ
        ((s,), p),                       # line 2: P = softmax(S)
        ((p, v), o),                     # line 3: O = P V
    ]
    if backward:
        steps += [
            ((p, do), dv),               # Alg. 3, line 1: dV = Pᵀ dO
            ((do, v), dp),               # line 2: dP = dO Vᵀ
            ((p, dp), ds),               # line 3: dS = P ∘ (dP - rowsum(P ∘ dP))
            ((ds, k), dq),               # line 4: dQ = dS K
            ((ds, q), dk),               # line 5: dK = dSᵀ Q
        ]
    io = HBMCounter()
    for operands, result in steps:
        io.read(*operands)
        io.write(result)
    return io


def flash_attention_io(n: int, d: int, sram: int, causal: bool = False, backward: bool = False) -> HBMCounter:
    """HBM element accesses of FlashAttention for one head of length n, by simulating its loops.

    The loops, blocks and reads/writes are exactly those of :func:`flash_attention_forward`
    (and, with ``backward``, :func:`flash_attention_backward`), with block sizes from
    :func:`block_sizes`; only the arithmetic is left out. Theorem 2 predicts Θ(N²d²/M).
    """
    positive_int("n", n)
    b_r, b_c = block_sizes(sram, d)
    io = HBMCounter()
    row_blocks = [(i0, min(b_r, n - i0)) for i0 in range(0, n, b_r)]
    col_blocks = [(j0, min(b_c, n - j0)) for j0 in range(0, n, b_c)]
    io.write((n, d), (n,), (n,))                                   # O, ℓ, m initialised
    for j0, cols in col_blocks:
        io.read((cols, d), (cols, d))                              # K_j, V_j
        for i0, rows in row_blocks:
            if _skip(causal, i0, rows, j0):
                continue
            io.read((rows, d), (rows, d), (rows,), (rows,))        # Q_i, O_i, ℓ_i, m_i
            io.write((rows, d), (rows,), (rows,))                  # O_i, ℓ_i, m_i
    io.read((n,), (n,))                                            # ℓ, m
    io.write((n,))                                                 # L = m + log ℓ
    if backward:
        io.write((n, d), (n, d), (n, d))                           # dQ, dK, dV initialised
        for j0, cols in col_blocks:
            io.read((cols, d), (cols, d))                          # K_j, V_j
            for i0, rows in row_blocks:
                if _skip(causal, i0, rows, j0):
                    continue
                io.read((rows, d), (rows, d), (rows, d), (rows, d), (rows,))   # Q_i, O_i, dO_i, dQ_i, L_i
                io.write((rows, d))                                # dQ_i
            io.write((cols, d), (cols, d))                         # dK_j, dV_j
    return io
