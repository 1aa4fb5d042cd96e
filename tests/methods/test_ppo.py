import copy

import pytest
import torch
from llmnotes import setup
from llmnotes.data.sequences import response_mask
from llmnotes.methods.ppo import (
    PPOConfig,
    clipped_surrogate,
    gae,
    kl_penalised_rewards,
    ppo,
)
from llmnotes.methods.sft import sample_responses, sft_loss, token_logprobs
from llmnotes.models.gpt import GPT, GPTConfig, ScalarHeadGPT

CFG = GPTConfig(vocab_size=6, max_seq_len=8, n_layer=1, n_head=2, d_model=16)
STOP, PAD = 1, 0


def test_response_mask_keeps_tokens_up_to_the_first_stop():
    responses = torch.tensor([[3, 4, STOP, 2, STOP], [3, 3, 3, 3, 3]])
    assert response_mask(responses, STOP).tolist() == [[True, True, True, False, False], [True] * 5]


def test_sampled_responses_are_padded_after_the_stop():
    setup(0, threads=1)
    responses = sample_responses(GPT(CFG), torch.full((50, 3), 2), 5, STOP, PAD, torch.Generator().manual_seed(0))
    mask = response_mask(responses, STOP)
    assert responses.shape == (50, 5)
    assert (responses[~mask] == PAD).all() and (responses[mask] != PAD).any()


def test_token_logprobs_match_the_cross_entropy_of_the_response():
    setup(0, threads=1)
    model = GPT(CFG)
    seqs = torch.randint(6, (4, 8))
    logits = model(seqs[:, :-1])
    expected = -torch.nn.functional.cross_entropy(logits[:, 2:].reshape(-1, 6), seqs[:, 3:].reshape(-1), reduction="none")
    assert torch.allclose(token_logprobs(model, seqs, 3), expected.reshape(4, 5), atol=1e-6)


def test_sft_loss_ignores_masked_tokens():
    setup(0, threads=1)
    model = GPT(CFG)
    seqs = torch.randint(6, (4, 8))
    mask = torch.zeros(4, 5, dtype=torch.bool)
    mask[:, :2] = True
    changed = seqs.clone()
    changed[:, 6:] = (changed[:, 6:] + 1) % 6
    assert sft_loss(model, seqs, mask, 3).item() == pytest.approx(sft_loss(model, changed, mask, 3).item())


def test_kl_penalised_rewards_sum_to_score_minus_beta_log_ratio():
    logp = torch.tensor([[-1.0, -0.5, -2.0, 0.0]])
    ref = torch.tensor([[-1.5, -0.5, -1.0, 0.0]])
    mask = torch.tensor([[True, True, True, False]])
    rewards = kl_penalised_rewards(torch.tensor([3.0]), logp, ref, mask, beta=0.1)
    assert rewards[0, 3] == 0 and rewards[0, 2].item() == pytest.approx(3.0 - 0.1 * (-1.0))
    assert rewards.sum().item() == pytest.approx(3.0 - 0.1 * ((logp - ref) * mask).sum().item())


def test_gae_with_lambda_one_and_zero_values_is_the_return_to_go():
    rewards = torch.tensor([[0.1, 0.2, 1.0, 5.0]])
    mask = torch.tensor([[True, True, True, False]])
    advantages, returns = gae(rewards, torch.zeros(1, 4), mask, gamma=1.0, lam=1.0)
    assert advantages.tolist()[0] == pytest.approx([1.3, 1.2, 1.0, 0.0])
    assert torch.equal(advantages, returns)


def test_gae_with_lambda_zero_is_the_one_step_td_error():
    rewards = torch.tensor([[0.0, 1.0]])
    values = torch.tensor([[0.5, 0.25]])
    advantages, _ = gae(rewards, values, torch.ones(1, 2, dtype=torch.bool), gamma=1.0, lam=0.0)
    assert advantages.tolist()[0] == pytest.approx([0.0 + 0.25 - 0.5, 1.0 - 0.25])


def test_clipped_surrogate_stops_the_gradient_beyond_the_clip():
    old = torch.zeros(1, 1)
    inside = torch.tensor([[0.1]], requires_grad=True)
    outside = torch.tensor([[0.5]], requires_grad=True)          # ratio e^0.5 > 1.2
    mask, adv = torch.ones(1, 1, dtype=torch.bool), torch.ones(1, 1)
    clipped_surrogate(inside, old, adv, mask, 0.2).backward()
    clipped_surrogate(outside, old, adv, mask, 0.2).backward()
    assert inside.grad.item() < 0 and outside.grad.item() == 0


def test_config_rejects_a_clip_outside_zero_one():
    with pytest.raises(ValueError, match="clip"):
        PPOConfig(clip=1.5)


class CountFours(ScalarHeadGPT):
    """A reward model that pays 1 for every token 4 in the response (its value head still learns)."""

    def score(self, seqs, last):
        return (seqs[:, 3:] == 4).float().sum(1)


def test_ppo_raises_the_reward_of_a_simple_preference():
    setup(0, threads=1)
    policy = GPT(CFG)
    history = ppo(policy, copy.deepcopy(policy), CountFours(CFG), torch.full((16, 3), 2),
                  PPOConfig(steps=20, batch_size=32, beta=0.0), response_len=4, stop=STOP, pad=PAD,
                  generator=torch.Generator().manual_seed(0))
    assert sum(history["reward"][-5:]) / 5 > sum(history["reward"][:5]) / 5 + 0.5
    assert history["kl"][0] == pytest.approx(0.0, abs=1e-6)
