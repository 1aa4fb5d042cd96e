"""Portable CPU numerics: the settings under which a notebook gives the same bits on any x86-64 CPU.

The stored outputs of every chapter are compared exactly on every test run (nbval), and a
training run amplifies a difference in the last bit of one operation into a different loss
a few hundred steps later. The libraries under torch and NumPy choose their kernels by the
CPU they find (AVX2 or AVX-512, Intel or AMD, its cache sizes), so without pins the same
notebook prints different numbers on different machines. Measured on an AMD EPYC (AVX-512)
and, under QEMU, an Intel Haswell and an AMD EPYC (AVX2), the smallest set of settings that
makes them agree is:

=========================  ==============  ===================================================
variable                   value           what it pins
=========================  ==============  ===================================================
ATEN_CPU_CAPABILITY        avx2            torch's own vectorised kernels (softmax, reductions)
ONEDNN_MAX_CPU_ISA         AVX2            oneDNN's JIT kernels (torch's GELU)
MKL_CBWR                   COMPATIBLE      MKL's BLAS, LAPACK and vector math: the one
                                           reproducibility branch MKL honours on AMD CPUs too
                                           (it ignores ``AVX2`` there and dispatches freely)
OPENBLAS_CORETYPE          Haswell         the OpenBLAS kernels of NumPy and SciPy
OPENBLAS_NUM_THREADS       1               and their thread count
NPY_DISABLE_CPU_FEATURES   X86_V4 ...      NumPy's own AVX-512 loops (exp, log, ...)
=========================  ==============  ===================================================

They are environment variables because each library reads them once, when it loads: the
``code/bin`` commands export them, the ``.venv`` Jupyter kernel (:mod:`llmnotes.kernel`) sets
them before Python starts its work, and ``import llmnotes`` sets any that are missing (in
time for libraries not yet loaded). Five of MKL's vector-math functions (sqrt, tan, asin,
acos, atan) still use the CPU's approximate-reciprocal instructions in that branch, whose
results differ between CPU vendors; :func:`llmnotes.runtime.setup` routes those through NumPy.

Strict (bit-identical) comparison needs an x86-64 CPU with AVX2 and FMA (every Intel CPU
since 2013, every AMD Zen). Elsewhere (arm64, older x86, a CUDA device) the pins cannot hold
and :func:`mode` says ``lax``: the tests then execute every notebook and assert every claim,
but do not compare printed outputs digit by digit.

``LLMNOTES_NUMERICS=native`` turns the pins off (the robustness record runs each notebook
that way once, to show that its claims do not depend on them). This module imports no torch.
"""
from __future__ import annotations

import os
import platform
from pathlib import Path

PINS: dict[str, str] = {
    "ATEN_CPU_CAPABILITY": "avx2",
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    "MKL_CBWR": "COMPATIBLE",
    "OPENBLAS_CORETYPE": "Haswell",
    "OPENBLAS_NUM_THREADS": "1",
    "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR",
}
SWITCH = "LLMNOTES_NUMERICS"
"""``pinned`` (the default) or ``native`` (no pins: each library picks its kernels for this CPU)."""
REQUIRED_FLAGS = ("avx2", "fma")


def requested() -> str:
    value = os.environ.get(SWITCH, "pinned")
    if value not in ("pinned", "native"):
        raise ValueError(f"{SWITCH} must be 'pinned' or 'native', got {value!r}")
    return value


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> set[str]:
    """The feature flags of the first CPU in ``/proc/cpuinfo`` (empty where there is none)."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def mode(flags: set[str] | None = None, machine: str | None = None) -> tuple[str, str]:
    """``("strict", "")`` where the pins make outputs bit-identical, else ``("lax", reason)``.

    Strict needs Linux on x86-64 with AVX2 and FMA and ``LLMNOTES_NUMERICS`` not ``native``.
    A GPU is not detected here (that needs torch); the test command checks it separately.
    """
    machine = platform.machine().lower() if machine is None else machine.lower()
    if machine not in ("x86_64", "amd64"):
        return "lax", f"{machine} CPU: bit-identical outputs are only possible on x86-64"
    flags = cpu_flags() if flags is None else flags
    missing = [f for f in REQUIRED_FLAGS if f not in flags]
    if missing:
        return "lax", f"this CPU lacks {', '.join(missing)} (or /proc/cpuinfo is unreadable)"
    if requested() == "native":
        return "lax", f"{SWITCH}=native: numerics are not pinned"
    return "strict", ""


def pin(environ: os._Environ | dict | None = None) -> dict[str, str]:
    """Set every pin that is not already set, where pins apply; return the pins now in force."""
    environ = os.environ if environ is None else environ
    if mode()[0] != "strict":
        return {}
    for name, value in PINS.items():
        environ.setdefault(name, value)
    return {name: environ[name] for name in PINS}


def unpinned() -> list[str]:
    """The pins missing or overridden in this process's environment (empty when all hold)."""
    return [name for name, value in PINS.items() if os.environ.get(name) != value]
