"""FlashAttention's forward pass (Dao et al., 2022, Algorithm 1) as one fused Triton kernel.

:mod:`llmnotes.kernels.flash_attention` runs Algorithm 1 as a Python loop over PyTorch operators, so
every block goes through memory between operators. Here the whole loop is one GPU kernel
written in Triton: a program loads its query block once, streams the key/value blocks
through on-chip memory, keeps the running maximum ``m``, the running normaliser ``ℓ`` and
the output accumulator in registers, and writes its output block once. The N×N score
matrix never leaves the chip, which is the point of the paper (Section 3.1).

Without a GPU, Triton's *interpreter* runs the same kernel on the CPU with NumPy, one
program after another: the results are the kernel's, the speed is not (it is far slower
than PyTorch). The interpreter is chosen by the environment variable ``TRITON_INTERPRET=1``,
which Triton 3.9 reads whenever a function is decorated with ``triton.jit``, including the
helpers of ``triton.language`` (``tl.zeros``, ``tl.max``, ...) that are decorated when Triton
is *imported*. So the variable must be set before Triton is imported: ``import llmnotes`` sets it when the
machine has no NVIDIA device (no ``/dev/nvidiactl``), before any of its modules can import Triton.
Triton itself is imported lazily, on the first call of :func:`flash_attention_triton`, so
that ``import llmnotes`` (and this module) works where Triton is not installed.
"""
from __future__ import annotations

import math
import os

import torch

DEFAULT_BLOCK_M = 64
DEFAULT_BLOCK_N = 64
SUPPORTED_DTYPES = (torch.float32, torch.float16)

tl = None            # triton.language, bound by _import_triton() on first use (the kernel reads it)
_KERNEL = None       # triton.jit(flash_forward_kernel), compiled on first use


def _import_triton():
    """Import Triton (in interpreter mode when there is no GPU) and bind ``tl`` for the kernel."""
    global tl
    import triton
    import triton.language
    from triton.runtime.jit import JITFunction

    if interpreted() and isinstance(triton.language.zeros, JITFunction):     # compiled, not interpreted
        raise RuntimeError("Triton was imported before TRITON_INTERPRET=1 was set, so its kernels "
                           "cannot run in the interpreter: import llmnotes before triton, or set "
                           "TRITON_INTERPRET=1 in the environment")
    tl = triton.language
    return triton


def interpreted() -> bool:
    """True when the kernel runs in Triton's CPU interpreter rather than compiled for a GPU."""
    return os.environ.get("TRITON_INTERPRET", "0") == "1" or not torch.cuda.is_available()


def flash_forward_kernel(
    Q, K, V, O,                              # pointers to (batch·heads, n, d) tensors
    n_q, n_k, d, scale,
    stride_qb, stride_qn, stride_kb, stride_kn, stride_vb, stride_vn, stride_ob, stride_on,
    CAUSAL: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr,
    PRECISION: tl.constexpr,
):
    """One program computes one block of B_r = BLOCK_M output rows of one (batch, head).

    Algorithm 1 loops over key blocks outside and query blocks inside, reading and writing
    O_i, ℓ_i, m_i in HBM at every step (lines 8 and 13). Here the query blocks are spread
    over parallel programs instead, so each program keeps its O_i, ℓ_i, m_i on chip for the
    whole loop over key blocks and writes them once (the loop order of FlashAttention-2).
    The accumulator stays unnormalised and is divided by ℓ once at the end: the same
    algebra as line 12, with one division instead of one per key block. Rows and columns
    beyond n_q, n_k, d (the last, partial block) are masked on load and store.
    """
    bh = tl.program_id(0)                                   # which (batch, head)
    start_m = tl.program_id(1) * BLOCK_M                    # first query row of this block
    rows = start_m + tl.arange(0, BLOCK_M)
    dims = tl.arange(0, BLOCK_D)
    row_ok = rows < n_q
    dim_ok = dims < d

    q = tl.load(Q + bh * stride_qb + rows[:, None] * stride_qn + dims[None, :],     # line 8: Q_i
                mask=row_ok[:, None] & dim_ok[None, :], other=0.0)
    m_i = tl.full([BLOCK_M], float("-inf"), dtype=tl.float32)                        # line 2: m = -inf
    l_i = tl.zeros([BLOCK_M], dtype=tl.float32)                                      #   ℓ = 0
    acc = tl.zeros([BLOCK_M, BLOCK_D], dtype=tl.float32)                             #   O = 0

    end_n = n_k
    if CAUSAL:                          # key blocks after the last query of this block are all masked
        end_n = tl.minimum(n_k, start_m + BLOCK_M)
    for start_n in range(0, end_n, BLOCK_N):                                         # line 5
        keys = start_n + tl.arange(0, BLOCK_N)
        key_ok = keys < n_k
        kv_mask = key_ok[:, None] & dim_ok[None, :]
        k = tl.load(K + bh * stride_kb + keys[:, None] * stride_kn + dims[None, :], mask=kv_mask, other=0.0)
        v = tl.load(V + bh * stride_vb + keys[:, None] * stride_vn + dims[None, :], mask=kv_mask, other=0.0)  # line 6

        s = tl.dot(q, tl.trans(k), input_precision=PRECISION) * scale                # line 9: S_ij
        allowed = key_ok[None, :]
        if CAUSAL:
            allowed = allowed & (keys[None, :] <= rows[:, None])
        s = tl.where(allowed, s, float("-inf"))

        m_new = tl.maximum(m_i, tl.max(s, axis=1))                                   # lines 10-11
        p = tl.exp(s - m_new[:, None])                                               # P̃_ij
        alpha = tl.exp(m_i - m_new)                                                  # e^{m_old - m_new}
        l_i = alpha * l_i + tl.sum(p, axis=1)                                        # line 11: ℓ_new
        acc = acc * alpha[:, None] + tl.dot(p.to(v.dtype), v, input_precision=PRECISION)  # line 12
        m_i = m_new                                                                  # line 13

    out = acc / l_i[:, None]
    tl.store(O + bh * stride_ob + rows[:, None] * stride_on + dims[None, :],        # line 12: O_i
             out.to(O.dtype.element_ty), mask=row_ok[:, None] & dim_ok[None, :])


def _compiled_kernel():
    global _KERNEL
    if _KERNEL is None:
        triton = _import_triton()
        _KERNEL = triton.jit(flash_forward_kernel)
    return _KERNEL


def _power_of_two_block(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 16 or value & (value - 1):
        raise ValueError(f"{name} must be a power of two >= 16 (tl.dot needs it), got {value!r}")
    return value


def _check_inputs(q, k, v, block_m, block_n) -> None:
    for name, x in (("q", q), ("k", k), ("v", v)):
        if not isinstance(x, torch.Tensor):
            raise ValueError(f"{name} must be a tensor, got {type(x).__name__}")
        if x.dim() != 4:
            raise ValueError(f"{name} must have shape (batch, heads, n, d), got {tuple(x.shape)}")
        if x.dtype not in SUPPORTED_DTYPES:
            raise ValueError(f"{name} must be float32 or float16, got {x.dtype}")
        if 0 in x.shape:
            raise ValueError(f"{name} must not be empty, got shape {tuple(x.shape)}")
    if not (q.dtype == k.dtype == v.dtype):
        raise ValueError(f"q, k and v must share a dtype, got {q.dtype}, {k.dtype} and {v.dtype}")
    if not (q.shape[:2] == k.shape[:2] == v.shape[:2]):
        raise ValueError("q, k and v must share (batch, heads), got "
                         f"{tuple(q.shape[:2])}, {tuple(k.shape[:2])} and {tuple(v.shape[:2])}")
    if k.shape[2] != v.shape[2]:
        raise ValueError(f"k and v must have the same length, got {k.shape[2]} and {v.shape[2]}")
    if not (q.shape[3] == k.shape[3] == v.shape[3]):
        raise ValueError(f"q, k and v must share the head dimension d, got {q.shape[3]}, {k.shape[3]} and {v.shape[3]}")
    if q.shape[3] > 256:
        raise ValueError(f"head dimension d must be <= 256 (one block holds a whole row), got {q.shape[3]}")
    if not (q.device == k.device == v.device):
        raise ValueError(f"q, k and v must be on one device, got {q.device}, {k.device} and {v.device}")
    if interpreted() and q.device.type != "cpu":
        raise ValueError(f"without a GPU the Triton interpreter needs CPU tensors, got {q.device}")
    if not interpreted() and q.device.type != "cuda":
        raise ValueError(f"the compiled Triton kernel needs CUDA tensors, got {q.device}")
    _power_of_two_block("block_m", block_m)
    _power_of_two_block("block_n", block_n)


@torch.no_grad()
def flash_attention_triton(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool = False,
    block_m: int = DEFAULT_BLOCK_M, block_n: int = DEFAULT_BLOCK_N, scale: float | None = None,
) -> torch.Tensor:
    """Exact ``softmax(Q Kᵀ · scale) V`` by FlashAttention's forward pass (Algorithm 1), in Triton.

    ``q (batch, heads, n_q, d)``, ``k`` and ``v (batch, heads, n_k, d)``, float32 or float16;
    returns ``(batch, heads, n_q, d)`` in the input dtype. ``block_m`` is B_r (query rows per
    program) and ``block_n`` is B_c (keys per step), powers of two >= 16; lengths need not be
    multiples of them. ``causal=True`` lets query i attend to keys j <= i (top-left aligned,
    as ``torch``'s ``is_causal``). ``scale`` defaults to ``1/√d``. Float32 products are
    computed in IEEE float32 (no TF32), so the result matches standard attention to rounding.
    Forward only (no autograd). On a machine without a GPU the kernel runs in Triton's
    interpreter on CPU tensors (see the module docstring); it is exact there, and slow.
    """
    _check_inputs(q, k, v, block_m, block_n)
    kernel = _compiled_kernel()
    batch, heads, n_q, d = q.shape
    n_k = k.shape[2]
    scale = 1.0 / math.sqrt(d) if scale is None else float(scale)
    q3, k3, v3 = (x.reshape(batch * heads, x.shape[2], d).contiguous() for x in (q, k, v))
    out = torch.empty_like(q3)
    grid = (batch * heads, math.ceil(n_q / block_m))
    kernel[grid](
        q3, k3, v3, out, n_q, n_k, d, scale,
        q3.stride(0), q3.stride(1), k3.stride(0), k3.stride(1),
        v3.stride(0), v3.stride(1), out.stride(0), out.stride(1),
        CAUSAL=bool(causal), BLOCK_M=block_m, BLOCK_N=block_n,
        BLOCK_D=max(16, 1 << (d - 1).bit_length()),
        PRECISION="ieee" if q.dtype == torch.float32 else "tf32",
    )
    return out.reshape(batch, heads, n_q, d)
