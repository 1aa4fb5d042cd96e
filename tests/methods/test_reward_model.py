import math

import pytest
import torch
from llmnotes import setup
from llmnotes.methods.reward_model import pairwise_accuracy, pairwise_ranking_loss
from llmnotes.models.gpt import GPTConfig, ScalarHeadGPT

CFG = GPTConfig(vocab_size=12, max_seq_len=14, n_layer=1, n_head=2, d_model=16)


def test_loss_of_two_responses_is_minus_log_sigmoid_of_the_margin():
    rewards = torch.tensor([[1.0, 3.0]])
    ranks = torch.tensor([[1, 0]])              # the second response is preferred
    assert pairwise_ranking_loss(rewards, ranks).item() == pytest.approx(-math.log(1 / (1 + math.exp(-2.0))))


def test_loss_averages_over_all_k_choose_2_pairs():
    rewards = torch.tensor([[0.3, -1.0, 2.0, 0.5]])
    ranks = torch.tensor([[2, 3, 0, 1]])
    pairs = [(i, j) for i in range(4) for j in range(4) if ranks[0, i] < ranks[0, j]]
    expected = sum(-torch.nn.functional.logsigmoid(rewards[0, i] - rewards[0, j]) for i, j in pairs) / 6
    assert len(pairs) == 6
    assert pairwise_ranking_loss(rewards, ranks).item() == pytest.approx(expected.item())


def test_loss_is_invariant_to_a_constant_shift_of_rewards():
    rewards, ranks = torch.randn(5, 4), torch.stack([torch.randperm(4) for _ in range(5)])
    assert torch.allclose(pairwise_ranking_loss(rewards, ranks), pairwise_ranking_loss(rewards + 7.0, ranks))


def test_loss_rejects_a_single_response():
    with pytest.raises(ValueError, match="K >= 2"):
        pairwise_ranking_loss(torch.zeros(3, 1), torch.zeros(3, 1, dtype=torch.long))


def test_training_on_rankings_learns_to_order_responses():
    setup(0, threads=1)
    model = ScalarHeadGPT(CFG)
    seqs = torch.randint(2, 12, (64, 4, 6))
    true = (seqs == 5).sum(-1).float()          # the "labeller" likes token 5
    ranks = (-true + 1e-3 * torch.randn(true.shape)).argsort(1).argsort(1)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(100):
        r = model.score(seqs.reshape(-1, 6), torch.full((256,), 5)).reshape(64, 4)
        loss = pairwise_ranking_loss(r, ranks)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        r = model.score(seqs.reshape(-1, 6), torch.full((256,), 5)).reshape(64, 4)
    assert pairwise_accuracy(r, true) > 0.9


def test_pairwise_accuracy_skips_ties():
    assert pairwise_accuracy(torch.tensor([[1.0, 0.0, 5.0]]), torch.tensor([[2.0, 1.0, 1.0]])) == 0.5
