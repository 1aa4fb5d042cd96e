import pytest
import torch

from llmnotes import setup


def test_setup_makes_random_draws_repeatable():
    setup(3)
    a = torch.randn(4)
    setup(3)
    assert torch.equal(a, torch.randn(4))


def test_setup_fixes_threads_and_returns_a_device():
    device = setup(0, threads=2)
    assert torch.get_num_threads() == 2
    assert device.type in ("cpu", "cuda")


def test_setup_rejects_negative_seed():
    with pytest.raises(ValueError, match="seed must be a non-negative int"):
        setup(-1)
