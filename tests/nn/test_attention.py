import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from llmnotes import setup
from llmnotes.nn.attention import (
    MultiHeadAttention,
    causal_mask,
    padding_mask,
    prefix_lm_mask,
    scaled_dot_product_attention,
)
from llmnotes.nn.kv_cache import KVCache
from llmnotes.nn.positions import rope_cache


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


def test_causal_mask_with_an_offset_lets_new_queries_see_every_cached_key():
    mask = causal_mask(2, offset=3)
    assert mask.tolist() == [[True, True, True, True, False], [True, True, True, True, True]]


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
    q, v = torch.randn(1, 1, 4, 8), torch.randn(1, 1, 4, 8)
    mask = padding_mask(torch.tensor([2]), 4)
    out, _ = scaled_dot_product_attention(q, q, v, mask)
    v2 = v.clone()
    v2[..., 2:, :] = 100.0
    torch.testing.assert_close(out, scaled_dot_product_attention(q, q, v2, mask)[0])


def test_a_query_that_may_attend_to_nothing_gets_zeros_not_nan():
    q = torch.randn(1, 3, 4, requires_grad=True)
    mask = torch.tensor([[True, False, False], [False, False, False], [True, True, True]])
    out, weights = scaled_dot_product_attention(q, q, q, mask)
    assert torch.equal(out[0, 1], torch.zeros(4)) and torch.equal(weights[0, 1], torch.zeros(3))
    out.sum().backward()
    assert torch.isfinite(q.grad).all()


def test_explicit_and_fused_agree_on_a_fully_masked_row():
    q = torch.randn(1, 1, 3, 4)
    mask = torch.tensor([[True, False, False], [False, False, False], [True, True, False]])
    ours, _ = scaled_dot_product_attention(q, q, q, mask)
    torch.testing.assert_close(ours, F.scaled_dot_product_attention(q, q, q, attn_mask=mask))


def _mha(d=32, h=4, kv=None, bias=True):
    return MultiHeadAttention(d, h, kv, bias=bias).eval()


def test_mha_matches_torch_multihead_attention():
    d, h = 32, 4
    ours, ref = _mha(d, h), torch.nn.MultiheadAttention(d, h, batch_first=True)
    with torch.no_grad():
        ref.in_proj_weight.copy_(torch.cat([ours.q_proj.weight, ours.k_proj.weight, ours.v_proj.weight]))
        ref.in_proj_bias.copy_(torch.cat([ours.q_proj.bias, ours.k_proj.bias, ours.v_proj.bias]))
        ref.out_proj.weight.copy_(ours.o_proj.weight)
        ref.out_proj.bias.copy_(ours.o_proj.bias)
    x, mem = torch.randn(2, 5, d), torch.randn(2, 7, d)
    expected, _ = ref(x, mem, mem, need_weights=False)
    torch.testing.assert_close(ours(x, context=mem), expected, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("kv", [4, 2, 1])
def test_fused_path_equals_the_explicit_formula(kv):
    attn = _mha(kv=kv)
    x, mask = torch.randn(2, 9, 32), causal_mask(9)
    fused = attn(x, mask=mask)
    attn.fused = False
    torch.testing.assert_close(attn(x, mask=mask), fused, atol=1e-6, rtol=1e-5)
    assert attn.last_weights.shape == (2, 4, 9, 9)


def test_grouped_query_attention_equals_mha_with_shared_key_value_heads():
    gqa, mha = _mha(kv=2, bias=False), _mha(kv=4, bias=False)
    mha.q_proj.weight.data, mha.o_proj.weight.data = gqa.q_proj.weight.data, gqa.o_proj.weight.data
    for name in ("k_proj", "v_proj"):  # MHA heads (0, 1) copy GQA kv head 0, heads (2, 3) kv head 1
        w = getattr(gqa, name).weight.data.view(2, 8, 32)
        getattr(mha, name).weight.data = w.repeat_interleave(2, dim=0).reshape(32, 32)
    x = torch.randn(2, 6, 32)
    rope = rope_cache(8, 6)
    torch.testing.assert_close(gqa(x, mask=causal_mask(6), rope=rope), mha(x, mask=causal_mask(6), rope=rope))


@pytest.mark.parametrize("kv", [4, 1])
def test_cached_attention_equals_attention_over_the_whole_prefix(kv):
    attn, x = _mha(kv=kv), torch.randn(2, 7, 32)
    full = attn(x, mask=causal_mask(7))
    cache = KVCache(1)
    first = attn(x[:, :4], mask=causal_mask(4), cache=cache[0])
    rest = [attn(x[:, t:t + 1], mask=causal_mask(1, offset=t), cache=cache[0]) for t in range(4, 7)]
    torch.testing.assert_close(torch.cat([first, *rest], dim=1), full, atol=1e-6, rtol=1e-5)
    assert len(cache) == 7


@pytest.mark.parametrize("heads", [1, 2, 8])
def test_mha_parameter_count_is_independent_of_heads(heads):
    assert sum(p.numel() for p in MultiHeadAttention(64, heads).parameters()) == 4 * 64 * 64 + 4 * 64


def test_fewer_key_value_heads_mean_fewer_parameters():
    assert sum(p.numel() for p in _mha(kv=1, bias=False).parameters()) == 2 * 32 * 32 + 2 * 32 * 8


@pytest.mark.parametrize("args, message", [
    ((10, 4), r"d_model \(10\) must be divisible by n_head \(4\)"),
    ((16, 4, 3), r"n_head \(4\) must be divisible by n_kv_head \(3\)"),
    ((16, 0), "n_head must be a positive int"),
])
def test_mha_rejects_bad_sizes(args, message):
    with pytest.raises(ValueError, match=message):
        MultiHeadAttention(*args)


def test_mha_rejects_wrong_input_width():
    with pytest.raises(ValueError, match=r"x must have shape \(batch, n, 16\)"):
        MultiHeadAttention(16, 2)(torch.randn(1, 3, 8))


def test_sdpa_rejects_mismatched_key_width():
    with pytest.raises(ValueError, match=r"need q \(\.\.\., T_q, d\)"):
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
    with pytest.raises(ValueError, match=r"values in \[1, 4\]"):
        padding_mask(torch.tensor([5]), 4)


def test_prefix_lm_mask_is_fully_visible_inside_the_prefix_and_causal_after_it():
    assert prefix_lm_mask(2, 4).int().tolist() == [[1, 1, 0, 0], [1, 1, 0, 0], [1, 1, 1, 0], [1, 1, 1, 1]]


def test_prefix_lm_mask_with_no_prefix_is_the_causal_mask_and_with_all_prefix_fully_visible():
    assert torch.equal(prefix_lm_mask(0, 5), causal_mask(5))
    assert prefix_lm_mask(5, 5).all()


def test_prefix_lm_mask_takes_one_prefix_length_per_sequence():
    mask = prefix_lm_mask(torch.tensor([0, 3, 5]), 5)
    assert mask.shape == (3, 1, 5, 5)
    for row, prefix in zip(mask, (0, 3, 5)):
        assert torch.equal(row[0], prefix_lm_mask(prefix, 5))


def test_prefix_lm_mask_equals_flex_attention_prefix_mask():
    from torch.nn.attention.flex_attention import create_mask
    prefix = torch.tensor([0, 2, 7, 9])

    def prefix_lm(b, h, q, k):                        # the prefix-LM mask_mod of torch's flex attention
        return (k <= q) | (k < prefix[b])
    reference = create_mask(prefix_lm, 4, 1, 9, 9, device="cpu")
    assert torch.equal(prefix_lm_mask(prefix, 9), reference)


def test_prefix_lm_mask_broadcasts_over_heads_in_attention():
    q = torch.randn(2, 3, 6, 4)
    _, w = scaled_dot_product_attention(q, q, q, prefix_lm_mask(torch.tensor([2, 4]), 6))
    assert torch.all(w[0, :, :2, 2:] == 0) and torch.all(w[0, :, 2:, :2] > 0)
    assert torch.all(w[1, :, :4, :4] > 0) and torch.all(w[1, :, :4, 4:] == 0)


@pytest.mark.parametrize("prefix, message", [(-1, "prefix"), (6, "prefix"), (torch.tensor([1, 7]), "prefix"),
                                             (torch.tensor([[1]]), "1-D"), (torch.tensor([1.0]), "integer")])
def test_prefix_lm_mask_rejects_bad_prefix_lengths(prefix, message):
    with pytest.raises(ValueError, match=message):
        prefix_lm_mask(prefix, 5)
