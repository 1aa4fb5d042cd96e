"""Compute costs: Table 1 of Vaswani et al., measured (compute per layer and maximum path length),
and the forward FLOPs of whole models (Raffel et al., 2020, Section 3.2.2).

Two sequence-mixing layers of width d over n positions:

* self-attention (no projections, as in Table 1's count): ``softmax(X Xᵀ/√d) X``,
  cost O(n²·d), every output one step away from every input;
* an Elman recurrent layer (:class:`llmnotes.models.rnn.ElmanRNN`), cost O(n·d²), the last
  output n steps away from the first input.

FLOPs come from ``torch.utils.flop_counter`` (matrix products only, 2 FLOPs per
multiply-add); path lengths from the autograd graph the layer actually builds.
:func:`forward_flops` counts a whole model the same way and :func:`stack_flops` is its closed
form for a stack of Transformer layers, with or without encoder-decoder attention.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
from torch.utils.flop_counter import FlopCounterMode

from llmnotes.checks import positive_int


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


def count_flops(layer, n: int, d: int) -> int:
    """Matrix-product FLOPs of one forward pass of ``layer`` over an ``(n, d)`` input."""
    positive_int("n", n)
    positive_int("d", d)
    x = torch.randn(n, d)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        layer(x)
    return counter.get_total_flops()


def forward_flops(model: torch.nn.Module, *inputs, **kwargs) -> int:
    """Matrix-product FLOPs of one forward pass ``model(*inputs, **kwargs)``, attention included.

    torch's fused attention kernel on CPU is invisible to the FLOP counter, so every
    :class:`~llmnotes.nn.attention.MultiHeadAttention` runs its explicit formula (two counted
    batched products, ``Q Kᵀ`` and ``weights · V``) for the count and is set back afterwards.
    """
    layers = [m for m in model.modules() if hasattr(m, "fused")]
    fused = [m.fused for m in layers]
    try:
        for m in layers:
            m.fused = False
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(*inputs, **kwargs)
    finally:
        for m, f in zip(layers, fused):
            m.fused = f
    return counter.get_total_flops()


def stack_flops(n_layer: int, d_model: int, d_ff: int, n: int, n_context: int = 0) -> int:
    """Forward FLOPs of ``n_layer`` Transformer layers over ``n`` positions (2 per multiply-add).

    Per layer: the ``Q, K, V, O`` projections (``2·n·4d²``), the feed-forward layer
    (``2·n·2·d·d_ff``) and self-attention over all ``n`` keys, ``Q Kᵀ`` and ``weights · V``
    (``2·2·n²·d``; a causal mask hides half the scores but the product is still computed).
    With ``n_context > 0`` each layer also attends to that many encoder outputs (a decoder's
    encoder-decoder attention): ``Q, O`` on the ``n`` positions, ``K, V`` on the context
    (``2·(2n + 2·n_context)·d²``) and the products (``2·2·n·n_context·d``).
    """
    for name, value in (("n_layer", n_layer), ("d_model", d_model), ("d_ff", d_ff), ("n", n)):
        positive_int(name, value)
    d = d_model
    per_layer = 2 * n * (4 * d * d + 2 * d * d_ff) + 4 * n * n * d
    if n_context:
        per_layer += 2 * (2 * n + 2 * positive_int("n_context", n_context)) * d * d + 4 * n * n_context * d
    return n_layer * per_layer


def shortest_path_length(layer, n: int, d: int) -> int:
    """Operations on the shortest path from the first input position to the last output.

    Each position is a separate leaf tensor handed to ``layer`` as a list, and ``layer``
    returns per-position outputs (``ElmanRNN.states`` rather than its stacked ``forward``),
    so the graph holds only the dependencies the layer itself creates. We walk it backwards
    from ``output[-1]`` and count the nodes (operations) until we reach position 0's leaf.
    """
    positive_int("n", n)
    positive_int("d", d)
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
