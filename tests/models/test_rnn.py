"""The recurrent layers and language models of llmnotes.models.rnn and .feedforward_lm.

TanhRNN and LSTM are specified by torch.nn.RNN and torch.nn.LSTM: same weights, same outputs.
"""
import pytest
import torch
from torch import nn

from llmnotes import setup
from llmnotes.models.feedforward_lm import FeedForwardLM, FeedForwardLMConfig
from llmnotes.models.rnn import LSTM, RNNLM, ElmanRNN, RNNLMConfig, TanhRNN


@pytest.fixture(autouse=True)
def seeded():
    setup(0)


def test_tanh_rnn_equals_torch_rnn_with_the_same_weights():
    reference = nn.RNN(5, 8, batch_first=True)
    x, h0 = torch.randn(3, 7, 5), torch.randn(3, 8)
    ours, h_last = TanhRNN.from_torch(reference)(x, h0)
    theirs, h_theirs = reference(x, h0[None])
    assert torch.allclose(ours, theirs, atol=1e-6) and torch.allclose(h_last, h_theirs[0], atol=1e-6)


def test_lstm_equals_torch_lstm_with_the_same_weights():
    reference = nn.LSTM(5, 8, batch_first=True)
    x, h0, c0 = torch.randn(3, 7, 5), torch.randn(3, 8), torch.randn(3, 8)
    ours, (h, c) = LSTM.from_torch(reference)(x, (h0, c0))
    theirs, (h_ref, c_ref) = reference(x, (h0[None], c0[None]))
    assert torch.allclose(ours, theirs, atol=1e-6)
    assert torch.allclose(h, h_ref[0], atol=1e-6) and torch.allclose(c, c_ref[0], atol=1e-6)


def test_lstm_gradients_equal_torch_lstm_gradients():
    reference = nn.LSTM(4, 6, batch_first=True)
    ours = LSTM.from_torch(reference)
    x = torch.randn(2, 5, 4)
    ours(x)[0].square().sum().backward()
    reference(x)[0].square().sum().backward()
    assert torch.allclose(ours.w_h.weight.grad, reference.weight_hh_l0.grad, atol=1e-5)


def test_step_equals_one_position_of_forward():
    layer = LSTM(4, 6)
    x = torch.randn(2, 3, 4)
    outputs, _ = layer(x)
    h, _ = layer.step(x[:, 0], layer.initial_state(x))
    assert torch.allclose(h, outputs[:, 0], atol=1e-6)


def test_tanh_rnn_matches_the_unbatched_elman_rnn():
    elman, layer = ElmanRNN(6), TanhRNN(6, 6)
    layer.load_state_dict(elman.state_dict())
    x = torch.randn(5, 6)
    assert torch.allclose(layer(x[None])[0][0], elman(x), atol=1e-6)


def test_forget_bias_sets_the_forget_gate_block_only():
    layer = LSTM(3, 4, forget_bias=3.0)
    assert torch.all(layer.w_x.bias[4:8] == 3.0) and not torch.any(layer.w_x.bias[:4] == 3.0)


def test_forget_gate_of_one_keeps_the_cell():
    layer = LSTM(2, 3, forget_bias=50.0)
    with torch.no_grad():
        layer.w_x.bias[:3] = -50.0        # input gate closed: nothing is written
    c0 = torch.randn(1, 3)
    _, (_, c) = layer(torch.randn(1, 10, 2), (torch.zeros(1, 3), c0))
    assert torch.allclose(c, c0, atol=1e-5)


@pytest.mark.parametrize("cell", ["tanh", "lstm"])
def test_rnnlm_returns_logits_and_loss(cell):
    model = RNNLM(RNNLMConfig(vocab_size=11, d_model=8, n_layer=2, cell=cell))
    idx = torch.randint(0, 11, (2, 5))
    logits, loss = model(idx, idx)
    assert logits.shape == (2, 5, 11) and loss.ndim == 0


def test_rnnlm_run_continues_from_a_state():
    model = RNNLM(RNNLMConfig(vocab_size=11, d_model=8, cell="lstm"))
    idx = torch.randint(0, 11, (2, 6))
    whole, _ = model.run(idx)
    _, state = model.run(idx[:, :4])
    rest, _ = model.run(idx[:, 4:], state)
    assert torch.allclose(whole[:, 4:], rest, atol=1e-6)


def test_feedforward_lm_sees_only_its_window():
    model = FeedForwardLM(FeedForwardLMConfig(vocab_size=7, n_context=3, d_model=4, d_ff=8))
    a = torch.tensor([[1, 2, 3, 4, 5, 6]])
    b = torch.tensor([[0, 0, 3, 4, 5, 6]])        # differs only more than 3 tokens before the end
    assert torch.allclose(model(a)[:, -1], model(b)[:, -1])
    assert not torch.allclose(model(a)[:, 3], model(b)[:, 3])


def test_feedforward_lm_windows_are_left_padded():
    model = FeedForwardLM(FeedForwardLMConfig(vocab_size=7, n_context=3))
    assert model.windows(torch.tensor([[1, 2, 3]])).tolist() == [[[7, 7, 1], [7, 1, 2], [1, 2, 3]]]


def test_feedforward_lm_direct_connections_add_parameters():
    plain = FeedForwardLM(FeedForwardLMConfig(vocab_size=7, n_context=3, d_model=4))
    direct = FeedForwardLM(FeedForwardLMConfig(vocab_size=7, n_context=3, d_model=4, direct=True))
    assert direct.n_params() - plain.n_params() == 3 * 4 * 7


@pytest.mark.parametrize("make, message", [
    (lambda: TanhRNN(4, 6)(torch.randn(2, 3, 5)), r"x must have shape \(B, T, 4\)"),
    (lambda: LSTM(4, 6)(torch.randn(2, 4)), r"x must have shape \(B, T, 4\)"),
    (lambda: LSTM(4, 6)(torch.randn(2, 3, 4), (torch.zeros(2, 6), torch.zeros(3, 6))), r"state c must have shape \(2, 6\)"),
    (lambda: TanhRNN(4, 6)(torch.randn(2, 0, 4)), r"at least one position"),
    (lambda: TanhRNN(0, 6), r"d_in must be a positive int"),
    (lambda: RNNLMConfig(vocab_size=11, cell="gru"), r"RNNLMConfig.cell must be one of"),
    (lambda: RNNLMConfig(vocab_size=11, forget_bias=1.0), r"forget_bias applies to cell='lstm' only"),
    (lambda: RNNLM(RNNLMConfig(vocab_size=11, d_model=8))(torch.tensor([[3, 11]])), r"idx must be in \[0, 11\)"),
    (lambda: FeedForwardLMConfig(vocab_size=7, n_context=0), r"FeedForwardLMConfig.n_context must be a positive int"),
    (lambda: TanhRNN.from_torch(nn.RNN(3, 4, num_layers=2)), r"one-layer"),
])
def test_bad_input_raises_a_clear_error(make, message):
    with pytest.raises(ValueError, match=message):
        make()
