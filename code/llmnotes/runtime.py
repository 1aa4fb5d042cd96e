"""Reproducible execution: one call at the top of every notebook, one generator per experiment.

``setup()`` seeds everything, fixes the thread count, makes kernels deterministic and pins the
CPU numerics (:mod:`llmnotes.numerics`), so that the numbers a chapter prints are the numbers
its tests compare, on any x86-64 machine. ``experiment(name)`` starts one experiment from its
own seed, so re-running any cell reproduces its output whatever ran before it.
"""
from __future__ import annotations

import functools
import hashlib
import os
import random
import warnings

import numpy as np
import torch

from llmnotes import numerics
from llmnotes.checks import non_negative_int, positive_int

SEED_VARIABLE = "LLMNOTES_SEED"
"""When set, overrides the seed passed to :func:`setup` (the robustness record re-runs notebooks with other seeds)."""
_session = {"seed": 0}


def setup(seed: int = 0, threads: int = 1) -> torch.device:
    """Seed Python, NumPy and torch, fix the thread count, pin the numerics; return the device.

    ``LLMNOTES_SEED`` in the environment replaces ``seed``. One thread by default: the book's
    models are small, one thread is nearly as fast as two, and the tests run two notebooks
    side by side on a 2-core machine. Returns ``cuda`` when a GPU is present, else ``cpu``.
    """
    non_negative_int("seed", seed)
    positive_int("threads", threads)
    if SEED_VARIABLE in os.environ:
        seed = non_negative_int(SEED_VARIABLE, int(os.environ[SEED_VARIABLE]))
    _session["seed"] = seed
    if numerics.pin():                 # in time for any library not loaded yet
        _portable_kernels()
        _warn_if_not_pinned()
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    # Filling fresh tensors with NaN costs time and buys nothing: we never read them unset.
    torch.utils.deterministic.fill_uninitialized_memory = False
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def session_seed() -> int:
    """The seed of the last :func:`setup` (after any ``LLMNOTES_SEED`` override)."""
    return _session["seed"]


def derived_seed(name: str, seed: int | None = None) -> int:
    """A 63-bit seed for ``name`` under the session seed, the same on every machine and run."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"an experiment needs a non-empty name, got {name!r}")
    base = session_seed() if seed is None else non_negative_int("seed", seed)
    digest = hashlib.sha256(f"{base}/{name}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def experiment(name: str) -> torch.Generator:
    """Start the experiment ``name``: reseed the global generators and return its own generator.

    Models built after this call (their initial weights come from torch's global generator)
    and the returned generator (for batches and samples) depend only on the session seed and
    ``name``, so re-running the cell that calls ``experiment("sft")`` reproduces its output,
    whatever other cells ran in between. ``LLMNOTES_SEED`` changes every experiment at once.
    """
    seed = derived_seed(name)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


# ----------------------------------------------------------------------------------------------
# Pinned kernels: MKL's vendor-dependent vector math, and fast portable matrix products


_NUMPY_UFUNCS = {"sqrt": np.sqrt, "tan": np.tan, "asin": np.arcsin, "acos": np.arccos, "atan": np.arctan}
"""ATen ops whose float kernels call MKL vector-math routines that use approximate-reciprocal
instructions even in MKL's COMPATIBLE branch: measured to differ between CPUs (see
:mod:`llmnotes.numerics`). NumPy's loops for them are pinned and exact."""


def _numpy_array(x: torch.Tensor) -> np.ndarray:
    """A NumPy view of a CPU tensor; float16/bfloat16 (which NumPy's BLAS lacks) as float32."""
    x = x.detach().resolve_conj().resolve_neg()
    return (x.float() if x.dtype in (torch.float16, torch.bfloat16) else x).numpy()


def _numpy_unary(ufunc, x: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """``out = ufunc(x)`` through NumPy."""
    if not (out.is_floating_point() or out.is_complex()):
        raise RuntimeError(f"result type {torch.get_default_dtype()} can't be cast to the desired output type {out.dtype}")
    source = x if x.is_floating_point() or x.is_complex() else x.to(torch.get_default_dtype())
    result = torch.from_numpy(np.asarray(ufunc(_numpy_array(source))))
    if out.shape != x.shape:
        out.resize_(x.shape)
    return out.copy_(result)


def _result_dtype(x: torch.Tensor) -> torch.dtype:
    return x.dtype if x.is_floating_point() or x.is_complex() else torch.get_default_dtype()


def _matmul(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``a @ b`` (``mm`` or ``bmm``) by NumPy's OpenBLAS, pinned to its Haswell kernels and one thread."""
    if a.dim() != b.dim() or a.dim() not in (2, 3) or a.shape[-1] != b.shape[-2] or a.shape[:-2] != b.shape[:-2]:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({'x'.join(map(str, a.shape))} and "
                           f"{'x'.join(map(str, b.shape))})")
    if a.dtype != b.dtype:
        raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: {a.dtype} != {b.dtype}")
    return torch.from_numpy(np.matmul(_numpy_array(a), _numpy_array(b))).to(a.dtype)


def _addmm(bias: torch.Tensor, a: torch.Tensor, b: torch.Tensor, *, beta=1, alpha=1) -> torch.Tensor:
    """``beta · bias + alpha · (a @ b)``, as ``torch.addmm`` (``bias`` is ignored when ``beta`` is 0)."""
    product = _matmul(a, b)
    if alpha != 1:
        product.mul_(alpha)
    return product if beta == 0 else product.add_(bias, alpha=beta)


@functools.cache
def _portable_kernels() -> torch.library.Library:
    """Register the pinned CPU kernels on torch's CPU backend (once per process).

    * :data:`_NUMPY_UFUNCS` in their functional, in-place and ``out=`` forms, so torch's own
      callers (Adam's ``exp_avg_sq.sqrt()``, norms, ...) use them too;
    * the matrix products behind ``nn.Linear``, ``@`` and their gradients (``mm``, ``addmm``,
      ``bmm``), through NumPy's OpenBLAS: MKL's COMPATIBLE branch is portable but runs SSE2
      code, 2-3× slower; OpenBLAS's Haswell kernels are the same on every AVX2 CPU and as fast
      as MKL's own. What is not listed here stays in MKL's COMPATIBLE branch: portable too.

    Autograd is unaffected: derivatives are defined above the CPU kernels.
    """
    library = torch.library.Library("aten", "IMPL")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"(?s).*Overriding a previously registered kernel")
        for name, ufunc in _NUMPY_UFUNCS.items():
            library.impl(name, lambda x, f=ufunc: _numpy_unary(f, x, torch.empty_like(x, dtype=_result_dtype(x))), "CPU")
            library.impl(f"{name}_", lambda x, f=ufunc: _numpy_unary(f, x, x), "CPU")
            library.impl(f"{name}.out", lambda x, *, out, f=ufunc: _numpy_unary(f, x, out), "CPU")
        library.impl("mm", _matmul, "CPU")
        library.impl("bmm", _matmul, "CPU")
        library.impl("addmm", _addmm, "CPU")
    return library


def _warn_if_not_pinned() -> None:
    """Warn when a library was loaded before the pins were set (they then do not hold)."""
    problems = numerics.unpinned()
    if torch.backends.cpu.get_cpu_capability() != "AVX2":
        problems.append(f"torch dispatches {torch.backends.cpu.get_cpu_capability()} kernels")
    if problems:
        warnings.warn("CPU numerics are not pinned (" + "; ".join(problems) + "): printed numbers may "
                      "differ from the stored outputs. Start Python with the llmnotes kernel or "
                      "through code/bin, or set the variables of llmnotes.numerics.PINS before "
                      "torch and NumPy are imported.", RuntimeWarning, stacklevel=3)
