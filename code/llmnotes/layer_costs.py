"""Table 1 of Vaswani et al., measured: compute per layer and maximum path length.

Two sequence-mixing layers of width d over n positions:

* self-attention (no projections, as in Table 1's count): ``softmax(X Xᵀ/√d) X``,
  cost O(n²·d), every output one step away from every input;
* an Elman recurrent layer ``h_t = tanh(W_x x_t + W_h h_{t-1} + b)``, cost O(n·d²), the last
  output n steps away from the first input.

FLOPs come from ``torch.utils.flop_counter`` (matrix products only, 2 FLOPs per
multiply-add); path lengths from the autograd graph the layer actually builds.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def attention_mixing(x: torch.Tensor | Sequence[torch.Tensor]) -> torch.Tensor:
    """Self-attention of a sequence ``(n, d)`` with itself (Q = K = V = X).

    ``x`` may also be a list of n position vectors: they are stacked, every output reads all.
    """
    if not isinstance(x, torch.Tensor):
        x = torch.stack(list(x))
    if x.dim() != 2:
        raise ValueError(f"x must have shape (n, d), got {tuple(x.shape)}")
    weights = torch.softmax(x @ x.T / math.sqrt(x.shape[1]), dim=-1)
    return weights @ x


class ElmanRNN(nn.Module):
    """The simplest recurrent layer, run one position at a time as recurrence requires."""

    def __init__(self, d: int):
        super().__init__()
        if d < 1:
            raise ValueError(f"d must be >= 1, got {d}")
        self.d = d
        self.w_x = nn.Linear(d, d)
        self.w_h = nn.Linear(d, d, bias=False)

    def step(self, x_t: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.w_x(x_t) + self.w_h(h))

    def states(self, x: torch.Tensor | Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """The hidden state after each position; ``x`` is ``(n, d)`` or a list of n vectors."""
        positions = list(x)
        if not positions or any(p.shape != (self.d,) for p in positions):
            raise ValueError(f"x must be n >= 1 positions of size {self.d}, got shapes "
                             f"{[tuple(p.shape) for p in positions][:3]}")
        h = positions[0].new_zeros(self.d)
        outputs = []
        for x_t in positions:
            h = self.step(x_t, h)
            outputs.append(h)
        return outputs

    def forward(self, x: torch.Tensor | Sequence[torch.Tensor]) -> torch.Tensor:
        return torch.stack(self.states(x))


def count_flops(layer, n: int, d: int) -> int:
    """Matrix-product FLOPs of one forward pass of ``layer`` over an ``(n, d)`` input."""
    if n < 1 or d < 1:
        raise ValueError(f"n and d must be >= 1, got {n}, {d}")
    x = torch.randn(n, d)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        layer(x)
    return counter.get_total_flops()


def shortest_path_length(layer, n: int, d: int) -> int:
    """Operations on the shortest path from the first input position to the last output.

    Each position is a separate leaf tensor handed to ``layer`` as a list, and ``layer``
    returns per-position outputs (``ElmanRNN.states`` rather than its stacked ``forward``),
    so the graph holds only the dependencies the layer itself creates. We walk it backwards
    from ``output[-1]`` and count the nodes (operations) until we reach position 0's leaf.
    """
    if n < 1 or d < 1:
        raise ValueError(f"n and d must be >= 1, got {n}, {d}")
    leaves = [torch.randn(d, requires_grad=True) for _ in range(n)]
    last = layer(leaves)[-1]
    target = leaves[0]
    frontier, seen, depth = [last.grad_fn], set(), 0
    while frontier:
        next_frontier = []
        for node in frontier:
            if node is None or node in seen:
                continue
            seen.add(node)
            if getattr(node, "variable", None) is target:
                return depth
            next_frontier += [child for child, _ in node.next_functions]
        frontier, depth = next_frontier, depth + 1
    raise ValueError("the last output does not depend on the first input")


def power_law(xs: list[float], ys: list[float]) -> tuple[float, float]:
    """Least-squares fit of y = c · x^a on a log-log scale; returns (a, c)."""
    if len(xs) != len(ys) or len(xs) < 2:
        raise ValueError("need two equally long lists with at least 2 points")
    lx = torch.tensor(xs, dtype=torch.float64).log()
    ly = torch.tensor(ys, dtype=torch.float64).log()
    lx_c = lx - lx.mean()
    slope = (lx_c * (ly - ly.mean())).sum() / (lx_c ** 2).sum()
    return float(slope), float((ly.mean() - slope * lx.mean()).exp())


def crossover(xs: list[float], ys_a: list[float], ys_b: list[float]) -> float:
    """The x where the fitted power laws of two cost curves are equal."""
    (a_a, c_a), (a_b, c_b) = power_law(xs, ys_a), power_law(xs, ys_b)
    if math.isclose(a_a, a_b):
        raise ValueError("the two curves grow at the same rate; they do not cross")
    return (c_b / c_a) ** (1 / (a_a - a_b))
