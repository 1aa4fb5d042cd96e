"""Reproducible execution: one call at the top of every notebook and test."""
from __future__ import annotations

import os
import random

import numpy as np
import torch


def setup(seed: int = 0, threads: int = 2) -> torch.device:
    """Seed Python, NumPy and torch, fix the thread count, make kernels deterministic.

    Returns ``cuda`` when a GPU is present, else ``cpu``. Two threads match the 2-core
    machines the book is tested on, so CPU reductions happen in the same order everywhere.
    """
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    if not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads must be a positive int, got {threads!r}")
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    # Filling fresh tensors with NaN costs time and buys nothing: we never read them unset.
    torch.utils.deterministic.fill_uninitialized_memory = False
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
