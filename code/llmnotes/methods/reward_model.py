"""The reward model of InstructGPT (Ouyang et al., 2022, Section 3.5).

A GPT whose output layer is replaced by a scalar head
(:class:`~llmnotes.models.gpt.ScalarHeadGPT`) reads a prompt and a response and returns one
number, the reward. It is trained on labeller rankings of K responses per prompt
with the pairwise loss (Eq. 1)

    loss(θ) = -1/C(K,2) · E_{(x, y_w, y_l)} [ log σ( r_θ(x, y_w) - r_θ(x, y_l) ) ],

where all C(K,2) pairs of one prompt form **one** batch element: each response goes through
the model once, and the pairs of a prompt are not spread over the epoch (which the paper
found to overfit, since every response would appear in K-1 separate updates).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def pairwise_ranking_loss(rewards: torch.Tensor, ranks: torch.Tensor) -> torch.Tensor:
    """Eq. 1 of the paper: mean over prompts and over all C(K,2) pairs of -log σ(r_w - r_l).

    ``rewards`` and ``ranks`` are (batch, K): the reward of each of K responses to a prompt and
    the labeller's rank of it (0 = best). Every ordered pair with ``rank_w < rank_l`` counts once.
    """
    if rewards.dim() != 2 or rewards.shape != ranks.shape:
        raise ValueError(f"rewards and ranks must both be (batch, K), got {tuple(rewards.shape)} and {tuple(ranks.shape)}")
    if rewards.shape[1] < 2:
        raise ValueError(f"need K >= 2 responses per prompt, got K = {rewards.shape[1]}")
    diff = rewards.unsqueeze(2) - rewards.unsqueeze(1)           # diff[b, i, j] = r_i - r_j
    better = ranks.unsqueeze(2) < ranks.unsqueeze(1)             # i ranked above j
    k = rewards.shape[1]
    return -(F.logsigmoid(diff) * better).sum() / (rewards.shape[0] * k * (k - 1) / 2)


def pairwise_accuracy(rewards: torch.Tensor, true_scores: torch.Tensor) -> float:
    """Fraction of pairs with different true scores that the rewards order the same way."""
    if rewards.shape != true_scores.shape or rewards.dim() != 2:
        raise ValueError(f"rewards and true_scores must both be (batch, K), got {tuple(rewards.shape)}, {tuple(true_scores.shape)}")
    true_diff = true_scores.unsqueeze(2) - true_scores.unsqueeze(1)
    pred_diff = rewards.unsqueeze(2) - rewards.unsqueeze(1)
    pairs = true_diff > 0
    if not pairs.any():
        raise ValueError("no pair of responses has different true scores")
    return ((pred_diff > 0) & pairs).sum().item() / pairs.sum().item()
