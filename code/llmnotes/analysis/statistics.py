"""Uncertainty of small evaluations: a proportion's interval and a paired difference's interval."""
from __future__ import annotations

import math

import torch


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (95% for ``z = 1.96``).

    Unlike the normal approximation p ± z·sqrt(p(1-p)/n) it stays inside [0, 1] and is
    sensible at p = 0 or 1, which matters for test sets of a few dozen examples.
    """
    if n < 1 or not 0 <= successes <= n:
        raise ValueError(f"need n >= 1 and 0 <= successes <= n, got successes={successes}, n={n}")
    if z <= 0:
        raise ValueError(f"z must be positive, got {z}")
    p = successes / n
    denom = 1 + z ** 2 / n
    centre = (p + z ** 2 / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z ** 2 / (4 * n ** 2)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def paired_bootstrap_difference(hits_a: torch.Tensor, hits_b: torch.Tensor, n_boot: int = 2000,
                                generator: torch.Generator | None = None,
                                level: float = 0.95) -> tuple[float, float, float]:
    """Accuracy difference ``mean(hits_a) - mean(hits_b)`` on the same test examples, with a
    percentile bootstrap interval (resampling examples, keeping the pairs together).

    Pairing removes the example-to-example variation that two separate intervals both carry,
    so it is the right test of "k-shot beats 0-shot" on one test set.
    """
    if hits_a.shape != hits_b.shape or hits_a.dim() != 1 or len(hits_a) == 0:
        raise ValueError(f"need two equal-length 1-D hit vectors, got {tuple(hits_a.shape)} and {tuple(hits_b.shape)}")
    if not 0 < level < 1 or n_boot < 1:
        raise ValueError(f"need 0 < level < 1 and n_boot >= 1, got {level}, {n_boot}")
    diff = hits_a.float() - hits_b.float()
    generator = torch.Generator().manual_seed(0) if generator is None else generator
    idx = torch.randint(len(diff), (n_boot, len(diff)), generator=generator)
    boot = diff[idx].mean(dim=1).sort().values
    lo = boot[int((1 - level) / 2 * n_boot)].item()
    hi = boot[min(n_boot - 1, int((1 + level) / 2 * n_boot))].item()
    return diff.mean().item(), lo, hi
