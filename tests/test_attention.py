import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st

from llmnotes import setup
from llmnotes.attention import MultiHeadAttention, causal_mask, padding_mask, scaled_dot_product_attention


@pytest.fixture(autouse=True)
def _seed():
    setup(0)


@settings(max_examples=25, deadline=None)
@given(n_q=st.integers(1, 9), n_k=st.integers(1, 9), d=st.integers(1, 16))
def test_sdpa_matches_torch_for_any_shape(n_q, n_k, d):
    q, k, v = torch.randn(2, n_q, d), torch.randn(2, n_k, d), torch.randn(2, n_k, 5)
    out, _ = scaled_dot_product_attention(q, k, v)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v), atol=1e-6, rtol=1e-5)


def test_causal_mask_matches_torch_is_causal():
    q, k, v = (torch.randn(3, 7, 8) for _ in range(3))
    out, _ = scaled_dot_product_attention(q, k, v, causal_mask(7))
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, is_causal=True), atol=1e-6, rtol=1e-5)


def test_causal_weights_are_zero_above_the_diagonal():
    q = torch.randn(1, 6, 4)
    _, w = scaled_dot_product_attention(q, q, q, causal_mask(6))
    assert torch.all(w.triu(1) == 0)


def test_padding_mask_gives_padded_keys_zero_weight():
    q = torch.randn(2, 1, 5, 4)
    _, w = scaled_dot_product_attention(q, q, q, padding_mask(torch.tensor([5, 3]), 5))
    assert torch.all(w[1, ..., 3:] == 0)
    torch.testing.assert_close(w.sum(-1), torch.ones(2, 1, 5))


def test_padding_outputs_ignore_padded_values():
    q = torch.randn(1, 1, 4, 8)
    v = torch.randn(1, 1, 4, 8)
    mask = padding_mask(torch.tensor([2]), 4)
    out, _ = scaled_dot_product_attention(q, q, v, mask)
    v2 = v.clone()
    v2[..., 2:, :] = 100.0
    out2, _ = scaled_dot_product_attention(q, q, v2, mask)
    torch.testing.assert_close(out, out2)


def test_mha_matches_torch_multihead_attention():
    d, h = 32, 4
    ours = MultiHeadAttention(d, h)
    ref = torch.nn.MultiheadAttention(d, h, batch_first=True)
    with torch.no_grad():
        ref.in_proj_weight.copy_(torch.cat([ours.w_q.weight, ours.w_k.weight, ours.w_v.weight]))
        ref.in_proj_bias.copy_(torch.cat([ours.w_q.bias, ours.w_k.bias, ours.w_v.bias]))
        ref.out_proj.weight.copy_(ours.w_o.weight)
        ref.out_proj.bias.copy_(ours.w_o.bias)
    x, mem = torch.randn(2, 5, d), torch.randn(2, 7, d)
    expected, _ = ref(x, mem, mem, need_weights=False)
    torch.testing.assert_close(ours(x, mem, mem), expected, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("heads", [1, 2, 8])
def test_mha_parameter_count_is_independent_of_heads(heads):
    d = 64
    assert sum(p.numel() for p in MultiHeadAttention(d, heads).parameters()) == 4 * d * d + 4 * d


def test_mha_rejects_d_model_not_divisible_by_heads():
    with pytest.raises(ValueError, match=r"d_model \(10\) must be divisible by n_heads \(4\)"):
        MultiHeadAttention(10, 4)


def test_mha_rejects_wrong_input_width():
    with pytest.raises(ValueError, match=r"query must have shape \(batch, n, 16\)"):
        MultiHeadAttention(16, 2)(torch.randn(1, 3, 8), torch.randn(1, 3, 16), torch.randn(1, 3, 16))


def test_sdpa_rejects_mismatched_key_width():
    with pytest.raises(ValueError, match="q and k must share d_k"):
        scaled_dot_product_attention(torch.randn(2, 4), torch.randn(3, 5), torch.randn(3, 5))


def test_sdpa_rejects_non_boolean_mask():
    q = torch.randn(3, 4)
    with pytest.raises(ValueError, match="mask must be boolean"):
        scaled_dot_product_attention(q, q, q, torch.ones(3, 3))


def test_sdpa_rejects_mask_that_does_not_broadcast():
    q = torch.randn(3, 4)
    with pytest.raises(ValueError, match="does not broadcast"):
        scaled_dot_product_attention(q, q, q, causal_mask(5))


def test_padding_mask_rejects_length_beyond_sequence():
    with pytest.raises(ValueError, match=r"every length must be in \[1, 4\]"):
        padding_mask(torch.tensor([5]), 4)
