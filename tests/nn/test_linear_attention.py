import pytest
import torch
import torch.nn.functional as F
from llmnotes import setup
from llmnotes.nn.linear_attention import (
    LinearAttention,
    LinearAttentionState,
    causal_linear_attention,
    elu_feature_map,
    linear_attention_step,
    recurrent_linear_attention,
)


@pytest.fixture(autouse=True)
def _seed():
    setup(0)


def test_feature_map_is_elu_plus_one_and_positive():
    x = torch.linspace(-10, 5, 101)
    torch.testing.assert_close(elu_feature_map(x), F.elu(x) + 1)
    assert (elu_feature_map(x) > 0).all()


def test_parallel_form_equals_an_explicit_double_loop():
    q, k, v = torch.randn(5, 4), torch.randn(5, 4), torch.randn(5, 3)
    fq, fk = F.elu(q) + 1, F.elu(k) + 1
    expected = torch.stack([sum((fq[i] @ fk[j]) * v[j] for j in range(i + 1)) / sum(fq[i] @ fk[j] for j in range(i + 1))
                            for i in range(5)])
    torch.testing.assert_close(causal_linear_attention(q, k, v, eps=0.0), expected)


def test_parallel_and_recurrent_forms_are_equal():
    q, k, v = torch.randn(2, 3, 40, 8), torch.randn(2, 3, 40, 8), torch.randn(2, 3, 40, 6)
    torch.testing.assert_close(recurrent_linear_attention(q, k, v), causal_linear_attention(q, k, v),
                               atol=1e-5, rtol=1e-5)


def test_output_at_t_does_not_depend_on_later_inputs():
    q, k, v = torch.randn(1, 12, 4), torch.randn(1, 12, 4), torch.randn(1, 12, 4)
    out = causal_linear_attention(q, k, v)
    k2, v2 = k.clone(), v.clone()
    k2[:, 7:], v2[:, 7:] = 100.0, -100.0
    torch.testing.assert_close(causal_linear_attention(q, k2, v2)[:, :7], out[:, :7])


def test_state_size_does_not_grow_with_the_number_of_steps():
    state = LinearAttentionState.zeros((2,), 8, 8)
    size = state.nbytes()
    for _ in range(10):
        _, state = linear_attention_step(torch.randn(2, 8), torch.randn(2, 8), torch.randn(2, 8), state)
    assert state.nbytes() == size == 2 * (8 * 8 + 8) * 4


def test_layer_step_by_step_equals_the_layer_on_the_whole_sequence():
    layer = LinearAttention(16, 4).eval()
    x = torch.randn(2, 9, 16)
    state = layer.new_state(2)
    steps = []
    for t in range(9):
        y, state = layer.step(x[:, t], state)
        steps.append(y)
    torch.testing.assert_close(torch.stack(steps, 1), layer(x), atol=1e-5, rtol=1e-5)


def test_bad_shapes_raise_clear_errors():
    with pytest.raises(ValueError, match="need q and k"):
        causal_linear_attention(torch.randn(2, 5, 4), torch.randn(2, 5, 3), torch.randn(2, 5, 4))
    with pytest.raises(ValueError, match="x must have shape"):
        LinearAttention(16, 4)(torch.randn(2, 9, 8))
    with pytest.raises(ValueError, match="d_model"):
        LinearAttention(10, 4)
    with pytest.raises(ValueError, match="state"):
        linear_attention_step(torch.randn(2, 8), torch.randn(2, 8), torch.randn(2, 8), LinearAttentionState.zeros((2,), 4, 8))
