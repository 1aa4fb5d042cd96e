"""PPO with a per-token KL penalty, as InstructGPT fine-tunes its policy (Ouyang et al., 2022, Section 3.5).

The RL objective of InstructGPT (Eq. 2, without the pretraining term of PPO-ptx) is

    objective(φ) = E_{(x,y) ~ π_φ^RL} [ r_θ(x, y) - β log( π_φ^RL(y|x) / π^SFT(y|x) ) ].

As in Stiennon et al. (2020) and Ziegler et al. (2019), which the paper follows, the KL term is
paid token by token: a response of T tokens is an episode whose step t earns
``-β (log π(y_t) - log π_SFT(y_t))``, and whose last step also earns the reward model's score.
A value function (initialised from the reward model, as in the paper) gives
generalised advantage estimates (Schulman et al., 2016), and the policy is updated with
PPO's clipped surrogate (Schulman et al., 2017).

Sequences are ``prompt + response`` in one tensor of shape (batch, prompt_len + T), as in
:mod:`llmnotes.methods.sft`.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Callable

import torch

from llmnotes.checks import positive_fields
from llmnotes.data.sequences import response_mask
from llmnotes.methods.sft import masked_mean, sample_responses, token_logprobs
from llmnotes.models.gpt import GPT, ScalarHeadGPT


def kl_penalised_rewards(score: torch.Tensor, logp: torch.Tensor, ref_logp: torch.Tensor,
                         mask: torch.Tensor, beta: float) -> torch.Tensor:
    """Per-token rewards of Eq. 2: ``-β (log π - log π_SFT)`` at every token, plus the score at the last.

    Summed over a response they equal ``r(x, y) - β log(π(y|x) / π_SFT(y|x))``.
    """
    if not (logp.shape == ref_logp.shape == mask.shape and score.shape == logp.shape[:1]):
        raise ValueError(f"shapes do not match: score {tuple(score.shape)}, logp {tuple(logp.shape)}, "
                         f"ref_logp {tuple(ref_logp.shape)}, mask {tuple(mask.shape)}")
    if beta < 0:
        raise ValueError(f"beta must be >= 0, got {beta}")
    rewards = -beta * (logp - ref_logp) * mask
    last = mask.long().sum(1) - 1
    return rewards.scatter_add(1, last.unsqueeze(1), score.unsqueeze(1))


def gae(rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor,
        gamma: float = 1.0, lam: float = 0.95) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimation over the response tokens; returns (advantages, returns).

    δ_t = r_t + γ V_{t+1} - V_t (V after the last token is 0), A_t = Σ_k (γλ)^k δ_{t+k}.
    """
    if not rewards.shape == values.shape == mask.shape:
        raise ValueError(f"rewards, values and mask must share a shape, got {tuple(rewards.shape)}, "
                         f"{tuple(values.shape)}, {tuple(mask.shape)}")
    mask = mask.float()
    values = values * mask
    advantages = torch.zeros_like(rewards)
    running = torch.zeros_like(rewards[:, 0])
    for t in reversed(range(rewards.shape[1])):
        next_value = values[:, t + 1] if t + 1 < rewards.shape[1] else torch.zeros_like(running)
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        running = (delta + gamma * lam * running) * mask[:, t]
        advantages[:, t] = running
    return advantages, advantages + values


def clipped_surrogate(logp: torch.Tensor, old_logp: torch.Tensor, advantages: torch.Tensor,
                      mask: torch.Tensor, clip: float = 0.2) -> torch.Tensor:
    """PPO's loss: -E[min(ρ A, clip(ρ, 1-ε, 1+ε) A)] over real tokens, ρ = π / π_old."""
    ratio = torch.exp(logp - old_logp)
    unclipped = ratio * advantages
    clipped = ratio.clamp(1 - clip, 1 + clip) * advantages
    return -masked_mean(torch.minimum(unclipped, clipped), mask)


@dataclass(frozen=True)
class PPOConfig:
    steps: int = 60                 # PPO iterations (rollout + update)
    batch_size: int = 64            # prompts per rollout
    epochs: int = 4                 # passes over each rollout
    lr: float = 1e-3
    value_lr: float = 3e-3
    beta: float = 0.05              # KL coefficient of Eq. 2 (the paper uses 0.02)
    clip: float = 0.2
    gamma: float = 1.0
    lam: float = 0.95
    temperature: float = 1.0

    def __post_init__(self):
        positive_fields(self, "steps", "batch_size", "epochs")
        if self.lr <= 0 or self.value_lr <= 0 or self.beta < 0 or not 0 < self.clip < 1:
            raise ValueError("PPOConfig needs lr, value_lr > 0, beta >= 0 and 0 < clip < 1")


def ppo(policy: GPT, reference: GPT, reward_model: ScalarHeadGPT, prompts: torch.Tensor, config: PPOConfig,
        response_len: int, stop: int, pad: int, generator: torch.Generator,
        true_score: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None) -> dict[str, list[float]]:
    """Fine-tune ``policy`` in place with PPO against ``reward_model``, KL-penalised towards ``reference``.

    The value function starts as a copy of the reward model (Section 3.5). Returns, per step,
    the mean reward-model score of the rollout (``reward``), the mean summed KL to the
    reference, ``Σ_t log π(y_t) - log π_ref(y_t)`` (``kl``), and, if ``true_score(prompts,
    responses)`` is given, the mean ground-truth preference score (``true``).
    """
    if prompts.dim() != 2:
        raise ValueError(f"prompts must have shape (n, prompt_len), got {tuple(prompts.shape)}")
    prompt_len = prompts.shape[1]
    value_fn = copy.deepcopy(reward_model)
    reference.eval()
    reward_model.eval()
    opt = torch.optim.Adam(policy.parameters(), lr=config.lr, betas=(0.9, 0.95))
    value_opt = torch.optim.Adam(value_fn.parameters(), lr=config.value_lr, betas=(0.9, 0.95))
    history: dict[str, list[float]] = {"reward": [], "kl": [], "true": []}
    for _ in range(config.steps):
        batch = prompts[torch.randint(len(prompts), (config.batch_size,), generator=generator)]
        responses = sample_responses(policy, batch, response_len, stop, pad, generator, config.temperature)
        seqs = torch.cat([batch, responses], dim=1)
        mask = response_mask(responses, stop)
        last = prompt_len + mask.long().sum(1) - 1
        with torch.no_grad():
            old_logp = token_logprobs(policy, seqs, prompt_len)
            ref_logp = token_logprobs(reference, seqs, prompt_len)
            score = reward_model.score(seqs, last)
            values = value_fn(seqs)[:, prompt_len - 1:-1]
            rewards = kl_penalised_rewards(score, old_logp, ref_logp, mask, config.beta)
            advantages, returns = gae(rewards, values, mask, config.gamma, config.lam)
            mean = masked_mean(advantages, mask)
            std = masked_mean((advantages - mean) ** 2, mask).sqrt()
            advantages = (advantages - mean) / (std + 1e-8)
        history["reward"].append(score.mean().item())
        history["kl"].append(((old_logp - ref_logp) * mask).sum(1).mean().item())
        if true_score is not None:
            history["true"].append(true_score(batch, responses).mean().item())
        policy.train()
        value_fn.train()
        for _ in range(config.epochs):
            loss = clipped_surrogate(token_logprobs(policy, seqs, prompt_len), old_logp, advantages, mask, config.clip)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(policy.parameters(), 1.0)
            opt.step()
            value_loss = masked_mean((value_fn(seqs)[:, prompt_len - 1:-1] - returns) ** 2, mask)
            value_opt.zero_grad(set_to_none=True)
            value_loss.backward()
            torch.nn.utils.clip_grad_norm_(value_fn.parameters(), 1.0)
            value_opt.step()
    policy.eval()
    return history
