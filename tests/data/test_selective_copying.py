import pytest
import torch
from llmnotes.data.selective_copying import FIRST_SYMBOL, MARKER, NOISE, selective_copying


def _task(**kw):
    return selective_copying(64, generator=torch.Generator().manual_seed(0), **kw)


def test_shapes_and_marker_positions():
    inputs, targets = _task(seq_len=20, n_tokens=5)
    assert inputs.shape == targets.shape == (64, 25)
    assert (inputs[:, 20:] == MARKER).all()


def test_each_context_holds_exactly_n_tokens_data_symbols_among_noise():
    inputs, _ = _task(seq_len=30, n_tokens=6, n_symbols=4)
    context = inputs[:, :30]
    assert ((context >= FIRST_SYMBOL).sum(1) == 6).all()
    assert ((context == NOISE) | ((context >= FIRST_SYMBOL) & (context < FIRST_SYMBOL + 4))).all()


def test_targets_are_the_data_tokens_in_order_and_ignored_elsewhere():
    inputs, targets = _task(seq_len=16, n_tokens=4)
    for row in range(64):
        data = inputs[row, :16][inputs[row, :16] >= FIRST_SYMBOL]
        assert torch.equal(targets[row, 16:], data)
    assert (targets[:, :16] == -100).all()


def test_positions_vary_between_examples():
    inputs, _ = _task(seq_len=32, n_tokens=4)
    assert len({tuple((row >= FIRST_SYMBOL).nonzero().flatten().tolist()) for row in inputs[:, :32]}) > 50


def test_same_generator_seed_gives_the_same_task():
    assert torch.equal(_task()[0], _task()[0])


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match="n_tokens"):
        selective_copying(4, seq_len=3, n_tokens=5)
    with pytest.raises(ValueError, match="n_examples must be a positive int"):
        selective_copying(0)
