"""Compute-optimal model size and data (Hoffmann et al., 2022, the Chinchilla paper).

Training a model with ``N`` parameters on ``D`` tokens costs about ``C = 6ND`` FLOPs
(Kaplan et al., 2020; Hoffmann et al., Section 3.3 and Appendix F). For a fixed budget
``C``, which split between ``N`` and ``D`` gives the lowest loss? The paper answers three
ways; this module implements the two that need no training curves:

* **Approach 3** (Section 3.3): fit the parametric loss
  ``L(N, D) = E + A / N**alpha + B / D**beta`` (Eq. 2) and minimise it along ``6ND = C``.
  :func:`derive_frontier` derives the minimiser with sympy; :func:`n_opt` and
  :func:`d_opt` evaluate it. With the fitted constants of Appendix D.2 (Eq. 10),
  :data:`CHINCHILLA_FIT`.
* **Approach 2** (Section 3.2, IsoFLOP profiles): for each budget, train several model
  sizes on ``C / 6N`` tokens each, fit a parabola to loss against ``log N`` and read off
  its minimum (:func:`isoflop_minima`); then fit ``N_opt ∝ C**a`` across budgets
  (:func:`scaling_exponent`).
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import numpy as np
import sympy as sp

from llmnotes.analysis.fits import golden_section_minimum, power_law
from llmnotes.checks import positive

GOPHER_FLOPS = 5.76e23
"""The training budget of Gopher (and of Chinchilla), the row of Table 3 with 1 Gopher unit."""


@dataclass(frozen=True)
class ParametricLoss:
    """``L(N, D) = E + A / N**alpha + B / D**beta`` (Eq. 2 of Hoffmann et al.).

    ``E`` is the entropy of natural text (the loss of an ideal model), ``A / N**alpha`` what
    a finite model of ``N`` parameters loses, ``B / D**beta`` what training on only ``D``
    tokens loses (Appendix D.2).
    """

    E: float
    A: float
    B: float
    alpha: float
    beta: float

    def __post_init__(self):
        if isinstance(self.E, bool) or not isinstance(self.E, (int, float)) or not math.isfinite(self.E) or self.E < 0:
            raise ValueError(f"ParametricLoss.E must be a finite number >= 0, got {self.E!r}")
        for name in ("A", "B", "alpha", "beta"):
            positive(f"ParametricLoss.{name}", getattr(self, name))

    def __call__(self, n_params, n_tokens):
        """The predicted loss; ``n_params`` and ``n_tokens`` may be numbers or NumPy arrays."""
        n, d = np.asarray(n_params, dtype=float), np.asarray(n_tokens, dtype=float)
        if np.any(~np.isfinite(n)) or np.any(n <= 0) or np.any(~np.isfinite(d)) or np.any(d <= 0):
            raise ValueError("n_params and n_tokens must be finite and > 0")
        loss = self.E + self.A / n ** self.alpha + self.B / d ** self.beta
        return float(loss) if loss.ndim == 0 else loss

    @property
    def constants(self) -> dict[str, float]:
        return {"E": self.E, "A": self.A, "B": self.B, "alpha": self.alpha, "beta": self.beta}


CHINCHILLA_FIT = ParametricLoss(E=1.69, A=406.4, B=410.7, alpha=0.34, beta=0.28)
"""The fitted constants reported in Appendix D.2, Eq. (10) (rounded as printed in the paper)."""


def training_flops(n_params: float, n_tokens: float) -> float:
    """``C = 6ND``: 2 FLOPs per parameter per token forward, 4 backward (Section 3.3, Appendix F)."""
    return 6.0 * positive("n_params", n_params) * positive("n_tokens", n_tokens)


@dataclass(frozen=True)
class Frontier:
    """The efficient frontier of Eq. (4), as sympy expressions in ``C`` and the fit constants."""

    symbols: dict[str, sp.Symbol]
    loss: sp.Expr          # L(N, D), Eq. (2)
    loss_on_budget: sp.Expr  # L(N, C / 6N)
    n_opt: sp.Expr         # N_opt(C)
    d_opt: sp.Expr         # D_opt(C) = C / (6 N_opt)
    a: sp.Expr             # d log N_opt / d log C
    b: sp.Expr             # d log D_opt / d log C
    G: sp.Expr             # the paper's G = (alpha A / beta B)^(1 / (alpha + beta))


@functools.lru_cache(maxsize=None)
def derive_frontier() -> Frontier:
    """Minimise ``L(N, D)`` subject to ``6ND = C`` symbolically (Section 3.3, Eq. 4).

    Substitute ``D = C / 6N``, set ``dL/dN = 0`` and solve for ``N``; the exponents are the
    log-log slopes of the solution. The result equals the paper's
    ``N_opt = G (C/6)^a``, ``D_opt = G^-1 (C/6)^b`` with ``a = beta / (alpha + beta)``,
    ``b = alpha / (alpha + beta)``.
    """
    N, D, C = sp.symbols("N D C", positive=True)
    E, A, B, alpha, beta = sp.symbols("E A B alpha beta", positive=True)
    loss = E + A / N ** alpha + B / D ** beta
    on_budget = loss.subs(D, C / (6 * N))
    solutions = sp.solve(sp.diff(on_budget, N), N)
    if len(solutions) != 1:
        raise ArithmeticError(f"expected one stationary point of L along 6ND = C, got {solutions}")
    n_opt = solutions[0]
    d_opt = C / (6 * n_opt)
    slope = lambda expr: sp.simplify(sp.expand_log(sp.diff(sp.log(expr), C) * C, force=True))
    return Frontier(
        symbols={"N": N, "D": D, "C": C, "E": E, "A": A, "B": B, "alpha": alpha, "beta": beta},
        loss=loss, loss_on_budget=on_budget, n_opt=n_opt, d_opt=d_opt,
        a=slope(n_opt), b=slope(d_opt), G=(alpha * A / (beta * B)) ** (1 / (alpha + beta)),
    )


@functools.lru_cache(maxsize=None)
def _numeric(name: str) -> Callable:
    frontier = derive_frontier()
    s = frontier.symbols
    return sp.lambdify((s["C"], s["A"], s["B"], s["alpha"], s["beta"]), getattr(frontier, name), "math")


def n_opt(flops: float, law: ParametricLoss = CHINCHILLA_FIT) -> float:
    """The loss-minimising model size for a budget of ``flops`` (the derived Eq. 4)."""
    return float(_numeric("n_opt")(positive("flops", flops), law.A, law.B, law.alpha, law.beta))


def d_opt(flops: float, law: ParametricLoss = CHINCHILLA_FIT) -> float:
    """The loss-minimising number of training tokens for a budget of ``flops`` (Eq. 4)."""
    return float(_numeric("d_opt")(positive("flops", flops), law.A, law.B, law.alpha, law.beta))


def frontier_exponents(law: ParametricLoss = CHINCHILLA_FIT) -> tuple[float, float]:
    """``(a, b)`` with ``N_opt ∝ C^a`` and ``D_opt ∝ C^b`` (Table 2, Approach 3)."""
    frontier = derive_frontier()
    values = {frontier.symbols[k]: v for k, v in law.constants.items()}
    return float(frontier.a.subs(values)), float(frontier.b.subs(values))


def minimise_on_budget(flops: float, law: ParametricLoss = CHINCHILLA_FIT,
                       bracket: tuple[float, float] = (1e-6, 1e6), tol: float = 1e-12) -> float:
    """The model size minimising ``law(N, flops / 6N)``, by golden-section search on ``log N``.

    A numerical cross-check of :func:`n_opt` that uses no calculus. ``bracket`` gives the
    search interval as multiples of the size with ``N = D`` (i.e. ``sqrt(flops / 6)``).
    """
    flops = positive("flops", flops)
    low, high = bracket
    if not 0 < low < high:
        raise ValueError(f"bracket must satisfy 0 < low < high, got {bracket}")
    centre = math.log(math.sqrt(flops / 6))
    f = lambda log_n: law(math.exp(log_n), flops / (6 * math.exp(log_n)))
    return math.exp(golden_section_minimum(f, centre + math.log(low), centre + math.log(high), tol))


# --- IsoFLOP profiles (Approach 2) ---------------------------------------------------------

def tokens_for_budget(flops: float, n_params: float) -> float:
    """Tokens a model of ``n_params`` parameters can train on with ``flops``: ``C / 6N``."""
    return positive("flops", flops) / (6.0 * positive("n_params", n_params))


def steps_for_budget(flops: float, n_params: float, tokens_per_step: int) -> int:
    """Optimiser steps that spend ``flops`` on a model of ``n_params`` parameters.

    Each step processes ``tokens_per_step`` tokens (batch size x sequence length); the count
    is rounded to the nearest integer, so the budget is met to within half a step.
    """
    if isinstance(tokens_per_step, bool) or not isinstance(tokens_per_step, int) or tokens_per_step < 1:
        raise ValueError(f"tokens_per_step must be a positive int, got {tokens_per_step!r}")
    steps = round(tokens_for_budget(flops, n_params) / tokens_per_step)
    if steps < 1:
        raise ValueError(f"a budget of {flops:.3g} FLOPs buys less than one step of {tokens_per_step} tokens "
                         f"for a model of {n_params:.3g} parameters")
    return steps


@dataclass(frozen=True)
class IsoFLOPFit:
    """A parabola ``loss = c2 (log N)^2 + c1 log N + c0`` through one IsoFLOP profile."""

    n_opt: float       # the model size at the vertex
    loss_min: float    # the fitted loss there
    coefficients: tuple[float, float, float]  # (c2, c1, c0), natural log of N
    sizes: tuple[float, float]                # the smallest and largest size tried

    def __call__(self, n_params):
        x = np.log(np.asarray(n_params, dtype=float))
        c2, c1, c0 = self.coefficients
        return c2 * x ** 2 + c1 * x + c0

    @property
    def interior(self) -> bool:
        """Whether the vertex lies within the sizes tried (otherwise it is an extrapolation)."""
        return self.sizes[0] <= self.n_opt <= self.sizes[1]


def isoflop_minima(profiles: Mapping[float, tuple[Sequence[float], Sequence[float]]]) -> dict[float, IsoFLOPFit]:
    """Fit a parabola to loss against ``log N`` at every budget and return each one's minimum.

    Approach 2 of Hoffmann et al. (Section 3.2, Figure 3 left): "We fit a parabola to each
    IsoFLOPs curve to directly estimate at what model size the minimum loss is achieved."
    ``profiles`` maps each budget to its ``(n_params, losses)``. The parabolas share one
    curvature ``c2`` (one linear least-squares fit over all points): with a handful of noisy
    runs per budget, a free curvature per budget lets one noisy point swing a vertex far
    away; with a single budget the fit is the paper's own parabola. Raises ``ValueError`` when
    a budget has fewer than 3 distinct sizes or the shared parabola curves downwards (no
    minimum). A vertex outside the sizes tried is returned with ``interior`` False.
    """
    if not profiles:
        raise ValueError("need at least one IsoFLOP profile")
    rows, targets, ranges = [], [], []
    for i, (budget, (n_params, losses)) in enumerate(profiles.items()):
        positive("budget", budget)
        if len(n_params) != len(losses):
            raise ValueError(f"budget {budget:.3g}: {len(n_params)} sizes but {len(losses)} losses")
        x = np.log(np.array([positive("n_params", n) for n in n_params]))
        y = np.asarray(losses, dtype=float)
        if not np.all(np.isfinite(y)):
            raise ValueError(f"budget {budget:.3g}: losses must be finite")
        if len(set(x.tolist())) < 3:
            raise ValueError(f"budget {budget:.3g}: need at least 3 distinct model sizes")
        for xj, yj in zip(x, y):
            row = np.zeros(1 + 2 * len(profiles))
            row[0], row[1 + 2 * i], row[2 + 2 * i] = xj ** 2, xj, 1.0   # c2 (shared), c1, c0 (per budget)
            rows.append(row)
            targets.append(yj)
        ranges.append((math.exp(x.min()), math.exp(x.max())))
    coef = np.linalg.lstsq(np.array(rows), np.array(targets), rcond=None)[0]
    c2 = float(coef[0])
    if c2 <= 0:
        raise ValueError("the IsoFLOP profiles curve downwards: they have no minimum (try a wider range of sizes)")
    fits = {}
    for i, budget in enumerate(profiles):
        c1, c0 = float(coef[1 + 2 * i]), float(coef[2 + 2 * i])
        vertex = -c1 / (2 * c2)
        fits[budget] = IsoFLOPFit(n_opt=math.exp(vertex), loss_min=c0 - c1 ** 2 / (4 * c2),
                                  coefficients=(c2, c1, c0), sizes=ranges[i])
    return fits


def scaling_exponent(budgets: Sequence[float], optimal_sizes: Sequence[float]) -> tuple[float, float]:
    """Fit ``N_opt = k · C^a`` over budgets (least squares in log-log space); returns ``(a, k)``."""
    if len(budgets) != len(optimal_sizes) or len(budgets) < 2:
        raise ValueError("need two equally long sequences with at least 2 budgets")
    for name, values in (("budgets", budgets), ("optimal_sizes", optimal_sizes)):
        for v in values:
            positive(name, v)
    return power_law(list(budgets), list(optimal_sizes))
