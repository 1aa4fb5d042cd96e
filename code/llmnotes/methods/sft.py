"""Supervised fine-tuning on prompt → response pairs, and the per-token log-probabilities that
SFT and every RL method of the book (PPO, DPO, GRPO, ...) share.

A training sequence is ``prompt + response`` in one tensor ``(B, P + T)``; the model is given
the prompt and learns (or is scored on) the ``T`` response tokens only. Responses are padded
after their first stop token (:mod:`llmnotes.data.sequences`) and a mask marks their real tokens.
"""
from __future__ import annotations

import torch

from llmnotes.data.sequences import pad_after_stop
from llmnotes.decoding import generate


def token_logprobs(model, seqs: torch.Tensor, prompt_len: int) -> torch.Tensor:
    """``log π(y_t | x, y_<t)`` of every response token, ``(B, T)`` where ``T = n - prompt_len``."""
    if seqs.dim() != 2 or not 0 < prompt_len < seqs.shape[1]:
        raise ValueError(f"need seqs (batch, n) with 0 < prompt_len < n, got {tuple(seqs.shape)}, {prompt_len}")
    logits = model(seqs[:, :-1])[:, prompt_len - 1:]                         # (B, T, V): predicts y_1..y_T
    return torch.log_softmax(logits, -1).gather(-1, seqs[:, prompt_len:].unsqueeze(-1)).squeeze(-1)


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``x`` over the positions where ``mask`` is true."""
    return (x * mask).sum() / mask.sum().clamp(min=1)


def sft_loss(model, seqs: torch.Tensor, mask: torch.Tensor, prompt_len: int) -> torch.Tensor:
    """Cross-entropy on the response tokens only (the prompt is given, not learned)."""
    return -masked_mean(token_logprobs(model, seqs, prompt_len), mask)


@torch.no_grad()
def sample_responses(policy, prompts: torch.Tensor, length: int, stop: int, pad: int,
                     generator: torch.Generator, temperature: float = 1.0) -> torch.Tensor:
    """A batch of sampled responses ``(B, length)``, padded with ``pad`` after the first ``stop``."""
    if prompts.dim() != 2:
        raise ValueError(f"prompts must have shape (batch, prompt_len), got {tuple(prompts.shape)}")
    out = generate(policy, prompts, length, temperature=temperature, generator=generator)[:, prompts.shape[1]:]
    return pad_after_stop(out, stop, pad)
