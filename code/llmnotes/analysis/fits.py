"""Least-squares fits of power laws: ``y = c·x^a`` on a log-log scale, with its uncertainty, and
with an irreducible offset ``y = E + c·x^a``. Used by the scaling-law chapters and by the
cost measurements (a cost that grows as ``n^2`` has slope 2)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np


def _positive_array(name: str, values: Sequence[float]) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if array.ndim != 1:
        raise ValueError(f"{name} must be a 1-D sequence of numbers, got shape {array.shape}")
    if not np.all(np.isfinite(array)) or np.any(array <= 0):
        raise ValueError(f"{name} must be finite and > 0, got {array.tolist()}")
    return array


def power_law(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float]:
    """Least-squares fit of y = c · x^a on a log-log scale; returns (a, c)."""
    if len(xs) != len(ys) or len(xs) < 2:
        raise ValueError("need two equally long sequences with at least 2 points")
    lx, ly = np.log(_positive_array("xs", xs)), np.log(_positive_array("ys", ys))
    lx_c = lx - lx.mean()
    slope = float((lx_c * (ly - ly.mean())).sum() / (lx_c ** 2).sum())
    return slope, float(np.exp(ly.mean() - slope * lx.mean()))


def golden_section_minimum(f: Callable[[float], float], lo: float, hi: float, tol: float = 1e-12) -> float:
    """The minimiser of a unimodal ``f`` on ``[lo, hi]``, by golden-section search to width ``tol``."""
    if not lo < hi:
        raise ValueError(f"need lo < hi, got {lo}, {hi}")
    ratio = (math.sqrt(5) - 1) / 2
    x1, x2 = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
    f1, f2 = f(x1), f(x2)
    while hi - lo > tol:
        if f1 < f2:                                  # the minimum lies left of x2
            hi, x2, f2 = x2, x1, f1
            x1 = hi - ratio * (hi - lo)
            f1 = f(x1)
        else:
            lo, x1, f1 = x1, x2, f2
            x2 = lo + ratio * (hi - lo)
            f2 = f(x2)
    return (lo + hi) / 2


def crossover(xs: list[float], ys_a: list[float], ys_b: list[float]) -> float:
    """The x where the fitted power laws of two cost curves are equal."""
    (a_a, c_a), (a_b, c_b) = power_law(xs, ys_a), power_law(xs, ys_b)
    if math.isclose(a_a, a_b):
        raise ValueError("the two curves grow at the same rate; they do not cross")
    return (c_b / c_a) ** (1 / (a_a - a_b))


@dataclass(frozen=True)
class PowerLawFit:
    """``L(N) = (N_c / N)**alpha`` fitted by least squares on ``log L`` against ``log N``.

    ``alpha_se`` is the standard error of the slope (ordinary least squares,
    ``sqrt(s² / Σ(x - x̄)²)`` with ``s²`` the residual variance on ``n - 2`` degrees of
    freedom); ``r2`` the coefficient of determination of the log-log fit.
    """

    alpha: float
    n_c: float
    alpha_se: float
    r2: float
    n_points: int

    def __call__(self, n_params):
        n = np.asarray(n_params, dtype=float)
        loss = (self.n_c / n) ** self.alpha
        return float(loss) if loss.ndim == 0 else loss


def fit_power_law(n_params: Sequence[float], losses: Sequence[float]) -> PowerLawFit:
    """Fit Eq. 1.1, ``L = (N_c / N)**alpha_N``, to (size, loss) points; at least 3 points.

    ``log L = alpha log N_c - alpha log N`` is a straight line in log-log space, so the fit
    is :func:`power_law` (``L = c N**a``) with ``alpha = -a`` and
    ``N_c = c**(1/alpha)``. A loss that does not fall with ``N`` (``alpha <= 0``) has no
    ``N_c``, and raises ``ValueError``.
    """
    n = _positive_array("n_params", n_params)
    loss = _positive_array("losses", losses)
    if len(n) != len(loss):
        raise ValueError(f"n_params and losses must have the same length, got {len(n)} and {len(loss)}")
    if len(n) < 3:
        raise ValueError(f"need at least 3 points for a slope with an uncertainty, got {len(n)}")
    if len(set(n.tolist())) < 2:
        raise ValueError("need at least 2 distinct model sizes")
    slope, coefficient = power_law(n.tolist(), loss.tolist())
    alpha = -slope
    if alpha <= 0:
        raise ValueError(f"the loss does not fall with N (fitted slope {slope:.3g}); no power law L = (N_c/N)^alpha")
    x, y = np.log(n), np.log(loss)
    residuals = y - (math.log(coefficient) + slope * x)
    sxx = float(np.sum((x - x.mean()) ** 2))
    ss_res, ss_tot = float(np.sum(residuals ** 2)), float(np.sum((y - y.mean()) ** 2))
    alpha_se = math.sqrt(ss_res / (len(n) - 2) / sxx)
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else 1.0
    return PowerLawFit(alpha=alpha, n_c=coefficient ** (1 / alpha), alpha_se=alpha_se, r2=r2, n_points=len(n))


@dataclass(frozen=True)
class OffsetPowerLawFit:
    """``L(N) = E + (N_c / N)**alpha``: a power law above an irreducible loss ``E``.

    Kaplan et al.'s Eq. 1.1 has no ``E`` (their losses were far above it); a fit over a small
    range of tiny models needs one, as Chinchilla's ``L = E + A / N**alpha`` (Hoffmann et
    al., Eq. 2) has.
    """

    E: float
    alpha: float
    n_c: float
    r2: float

    def __call__(self, n_params):
        n = np.asarray(n_params, dtype=float)
        loss = self.E + (self.n_c / n) ** self.alpha
        return float(loss) if loss.ndim == 0 else loss


def fit_power_law_with_offset(n_params: Sequence[float], losses: Sequence[float],
                              tol: float = 1e-10) -> OffsetPowerLawFit:
    """Fit ``L = E + (N_c/N)**alpha`` by profiling over ``E``; at least 4 points.

    For a fixed ``E`` the rest is the log-log line of :func:`fit_power_law` on ``L - E``;
    a golden-section search over ``E`` in ``[0, min L)`` picks the ``E`` whose fitted curve has
    the smallest squared error in ``L``. ``r2`` is measured on ``L`` itself.
    """
    n = _positive_array("n_params", n_params)
    loss = _positive_array("losses", losses)
    if len(n) != len(loss):
        raise ValueError(f"n_params and losses must have the same length, got {len(n)} and {len(loss)}")
    if len(n) < 4:
        raise ValueError(f"need at least 4 points to fit three constants, got {len(n)}")

    def fitted(e: float):
        try:
            fit = fit_power_law(n, loss - e)
        except ValueError:
            return None, math.inf
        return fit, float(np.sum((e + fit(n) - loss) ** 2))

    e = golden_section_minimum(lambda e: fitted(e)[1], 0.0, float(loss.min()) * (1 - 1e-6), tol)
    best, sse = fitted(e)
    if best is None:
        raise ValueError("the loss does not fall with N; no power law above an offset")
    ss_tot = float(np.sum((loss - loss.mean()) ** 2))
    return OffsetPowerLawFit(E=e, alpha=best.alpha, n_c=best.n_c, r2=1.0 - sse / ss_tot if ss_tot > 0 else 1.0)
