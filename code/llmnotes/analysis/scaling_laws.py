"""Scaling laws for neural language models (Kaplan et al., 2020).

The paper measures how the test loss of a Transformer language model falls with its size
``N``, its data ``D`` and its compute ``C``, and finds power laws (Section 1.2):

* ``L(N) = (N_c / N)**alpha_N`` with ``alpha_N ≈ 0.076`` and ``N_c ≈ 8.8e13`` (Eq. 1.1), for
  models trained to near-convergence on enough data, where ``N`` counts the **non-embedding**
  parameters (Section 2.1): ``N ≈ 12 n_layer d_model**2`` (Eq. 2.1).
* For a fixed compute budget, the optimal model grows as ``N_opt ∝ C_min**0.73`` (Eq. 1.7,
  Section 6.1, Eq. 6.1), with ``N_opt = 1.3e9 · (C_min / PF-day)**0.73`` (Table 6).

This module counts ``N`` for the book's models and evaluates Kaplan et al.'s constants and
compute-optimal allocation; the fits of ``L(N)`` are in :mod:`llmnotes.analysis.fits`, Chinchilla's
allocation in :mod:`llmnotes.analysis.compute_optimal`.
"""
from __future__ import annotations

import math

import numpy as np
from torch import nn

from llmnotes.models.gpt import gpt_non_embedding_count

KAPLAN_ALPHA_N = 0.076
"""Exponent of ``L(N)``, Eq. 1.1 (and Table 5)."""
KAPLAN_N_C = 8.8e13
"""Scale of ``L(N)`` in non-embedding parameters, Eq. 1.1 (and Table 5)."""
KAPLAN_EXPONENTS = {"alpha_N": 0.076, "alpha_D": 0.095, "alpha_C_min": 0.050, "alpha_B": 0.21, "alpha_S": 0.76}
"""The exponents of Table 5 (Appendix A): parameters, data, compute, critical batch, steps."""
PF_DAY = 1e15 * 24 * 3600
"""One petaflop/s-day in FLOPs (8.64e19), the paper's unit of compute (Section 1.3)."""
KAPLAN_N_OPT = (1.3e9, 0.73)
"""``N_opt = 1.3e9 · (C_min / PF-day)**0.73`` parameters (Table 6; Eq. 1.7 and Eq. 6.1)."""
KAPLAN_D_OPT = (2e10, 0.27)
"""``D_opt = 2e10 · (C_min / PF-day)**0.27`` tokens (Table 6)."""


# --- Counting N --------------------------------------------------------------------------------

def non_embedding_params(model: nn.Module) -> int:
    """Kaplan et al.'s ``N``: every parameter except those of embedding tables (Section 2.1).

    "We use N to denote the model size, which we define as the number of non-embedding
    parameters": token and position embeddings are left out. An output projection tied to the
    token embedding (as in :class:`llmnotes.models.gpt.GPT`) is the same tensor, so it is left out too;
    an untied output layer would count. Each shared tensor is counted once.
    """
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    embedding = {id(p) for m in model.modules() if isinstance(m, nn.Embedding) for p in m.parameters()}
    return sum(p.numel() for p in model.parameters() if id(p) not in embedding)


def kaplan_param_estimate(n_layer: int, d_model: int) -> int:
    """Eq. 2.1: ``N ≈ 12 n_layer d_model²`` (biases and LayerNorms neglected)."""
    gpt_non_embedding_count(n_layer, d_model)  # validates the arguments
    return 12 * n_layer * d_model ** 2


# --- Kaplan et al.'s L(N) --------------------------------------------------------------------

def kaplan_loss(n_params):
    """Eq. 1.1 with the paper's constants: ``(8.8e13 / N)**0.076`` nats per (BPE) token."""
    n = np.asarray(n_params, dtype=float)
    if np.any(~np.isfinite(n)) or np.any(n <= 0):
        raise ValueError(f"n_params must be finite and > 0, got {n_params!r}")
    loss = (KAPLAN_N_C / n) ** KAPLAN_ALPHA_N
    return float(loss) if loss.ndim == 0 else loss


# --- Compute-optimal allocation -------------------------------------------------------------

def kaplan_n_opt(flops, coefficient: float = KAPLAN_N_OPT[0], exponent: float = KAPLAN_N_OPT[1],
                 c_per_c_min: float = 2.0):
    """Kaplan et al.'s compute-optimal model size, ``1.3e9 · (C_min / PF-day)**0.73`` (Table 6).

    ``flops`` is the budget ``C`` in FLOPs (a number or an array). The paper's law is for
    ``C_min``, the compute a run would need at a batch far below the critical batch
    (Eq. 5.5); a compute-efficient run trains at the critical batch and spends
    ``C = 2 C_min`` (Eq. 6.7). ``c_per_c_min`` is that factor; the default 2 also reproduces
    the reading of Hoffmann et al. (Appendix D.4: 4.68B parameters at 1e21 FLOPs).
    """
    c = np.asarray(flops, dtype=float)
    if np.any(~np.isfinite(c)) or np.any(c <= 0):
        raise ValueError(f"flops must be finite and > 0, got {flops!r}")
    if not c_per_c_min >= 1:
        raise ValueError(f"c_per_c_min must be >= 1 (C >= C_min), got {c_per_c_min!r}")
    n = coefficient * (c / c_per_c_min / PF_DAY) ** exponent
    return float(n) if n.ndim == 0 else n


def kaplan_d_opt(flops, coefficient: float = KAPLAN_D_OPT[0], exponent: float = KAPLAN_D_OPT[1],
                 c_per_c_min: float = 2.0):
    """Kaplan et al.'s compute-optimal number of tokens, ``2e10 · (C_min / PF-day)**0.27`` (Table 6)."""
    return kaplan_n_opt(flops, coefficient, exponent, c_per_c_min)


def predicted_allocation_exponents(alpha_n: float = KAPLAN_EXPONENTS["alpha_N"],
                                   alpha_b: float = KAPLAN_EXPONENTS["alpha_B"],
                                   alpha_s: float = KAPLAN_EXPONENTS["alpha_S"]) -> dict[str, float]:
    """Eq. 1.7-1.8: the allocation implied by ``L(N, S)`` and the critical batch.

    ``alpha_C_min = 1 / (1/alpha_S + 1/alpha_B + 1/alpha_N)``, and ``N ∝ C**(alpha_C_min/alpha_N)``,
    ``B ∝ C**(alpha_C_min/alpha_B)``, ``S ∝ C**(alpha_C_min/alpha_S)``; the three exponents sum to 1
    because ``C = 6NBS``.
    """
    for name, value in (("alpha_n", alpha_n), ("alpha_b", alpha_b), ("alpha_s", alpha_s)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    alpha_c = 1.0 / (1.0 / alpha_s + 1.0 / alpha_b + 1.0 / alpha_n)
    return {"alpha_C_min": alpha_c, "N": alpha_c / alpha_n, "B": alpha_c / alpha_b, "S": alpha_c / alpha_s}
