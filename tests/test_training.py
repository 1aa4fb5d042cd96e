import pytest
import torch
from llmnotes import setup
from llmnotes.analysis.memory import adam_state_bytes
from llmnotes.data.batches import random_batches
from llmnotes.training import train, warmup_inverse_sqrt, warmup_linear_decay


def test_inverse_sqrt_schedule_peaks_at_warmup():
    lrs = [warmup_inverse_sqrt(s, 512, 4000) for s in range(1, 20001)]
    assert max(range(len(lrs)), key=lrs.__getitem__) + 1 == 4000
    assert lrs[3999] == pytest.approx(512 ** -0.5 * 4000 ** -0.5)


def test_linear_decay_reaches_zero_at_total():
    assert warmup_linear_decay(50, 1e-3, 100, 1000) == pytest.approx(5e-4)
    assert warmup_linear_decay(1000, 1e-3, 100, 1000) == 0.0


def test_schedules_reject_step_zero():
    with pytest.raises(ValueError, match="step, warmup and d_model must be >= 1"):
        warmup_inverse_sqrt(0, 512, 4000)


def test_train_lowers_the_loss_of_a_linear_fit():
    setup(0)
    x = torch.randn(256, 4)
    y = x @ torch.tensor([1.0, -2.0, 0.5, 3.0])
    model = torch.nn.Linear(4, 1)
    batches = random_batches(256, 32, torch.Generator().manual_seed(0))
    losses = train(model, batches, lambda m, i: ((m(x[i]).squeeze(-1) - y[i]) ** 2).mean(),
                   steps=200, lr=lambda s: 0.05, progress=False)
    assert losses[-1] < 0.01 * losses[0]


def test_train_names_an_exhausted_batch_iterator():
    model = torch.nn.Linear(1, 1)
    with pytest.raises(ValueError, match="ran out after 2 of 5 steps"):
        train(model, iter([0, 1]), lambda m, b: m(torch.ones(1)).sum(), steps=5, lr=lambda s: 0.1, progress=False)


def test_random_batches_cover_every_example_each_epoch():
    batches = random_batches(10, 5, torch.Generator().manual_seed(0))
    seen = torch.cat([next(batches), next(batches)])
    assert sorted(seen.tolist()) == list(range(10))


def test_adam_state_is_two_moments_per_trainable_parameter():
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Linear(3, 2))
    model[0].requires_grad_(False)
    x = torch.randn(5, 4)
    state = adam_state_bytes(model, lambda m: m(x).sum())
    trainable = sum(p.numel() for p in model[1].parameters())
    step_counters = 2 * 4  # one float32 step tensor per trainable parameter tensor
    assert state == 2 * 4 * trainable + step_counters


def test_adam_state_bytes_leaves_the_model_untouched():
    model = torch.nn.Linear(4, 3)
    before = [p.clone() for p in model.parameters()]
    adam_state_bytes(model, lambda m: m(torch.randn(2, 4)).sum())
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_adam_state_bytes_rejects_a_fully_frozen_model():
    model = torch.nn.Linear(4, 3).requires_grad_(False)
    with pytest.raises(ValueError, match="no trainable parameters"):
        adam_state_bytes(model, lambda m: m(torch.randn(2, 4)).sum())
