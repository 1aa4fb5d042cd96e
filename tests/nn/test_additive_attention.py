import pytest
import torch
import torch.nn.functional as F
from llmnotes.nn.additive_attention import AdditiveAttention, DotProductAttention


def _inputs(batch=3, source=5, d_query=4, d_key=6):
    gen = torch.Generator().manual_seed(0)
    query = torch.randn(batch, d_query, generator=gen)
    keys = torch.randn(batch, source, d_key, generator=gen)
    mask = torch.ones(batch, source, dtype=torch.bool)
    mask[0, 3:] = False
    return query, keys, mask


def test_additive_scores_follow_the_alignment_model_formula():
    query, keys, _ = _inputs()
    attention = AdditiveAttention(4, 6, 8)
    w_a, u_a, v_a = attention.w_a.weight, attention.u_a.weight, attention.v_a.weight[0]
    expected = torch.einsum("a,bsa->bs", v_a, torch.tanh((query @ w_a.T)[:, None] + keys @ u_a.T))
    assert torch.allclose(attention.scores(query, keys), expected, atol=1e-6)


def test_weights_are_a_distribution_with_zero_weight_on_padding():
    query, keys, mask = _inputs()
    _, alpha = AdditiveAttention(4, 6, 8)(query, keys, mask)
    assert torch.allclose(alpha.sum(-1), torch.ones(3))
    assert (alpha[0, 3:] == 0).all() and (alpha[~mask] == 0).all()


def test_context_is_the_weighted_sum_of_the_keys():
    query, keys, mask = _inputs()
    context, alpha = AdditiveAttention(4, 6, 8)(query, keys, mask)
    assert torch.allclose(context, (alpha[..., None] * keys).sum(1), atol=1e-6)


def test_precomputed_key_projections_give_the_same_result():
    query, keys, mask = _inputs()
    attention = AdditiveAttention(4, 6, 8)
    direct = attention(query, keys, mask)
    cached = attention(query, keys, mask, attention.project_keys(keys))
    assert all(torch.equal(a, b) for a, b in zip(direct, cached))


def test_dot_score_equals_torch_sdpa_with_unit_scale():
    query, keys, mask = _inputs(d_query=6, d_key=6)
    context, _ = DotProductAttention(6, 6)(query, keys, mask)
    reference = F.scaled_dot_product_attention(query[:, None], keys, keys, attn_mask=mask[:, None], scale=1.0)
    assert torch.allclose(context, reference[:, 0], atol=1e-6)


def test_general_score_is_a_bilinear_form():
    query, keys, _ = _inputs()
    attention = DotProductAttention(4, 6, general=True)
    expected = torch.einsum("bq,kq,bsk->bs", query, attention.w.weight, keys)
    assert torch.allclose(attention.scores(query, keys), expected, atol=1e-6)


def test_dot_score_needs_equal_sizes():
    with pytest.raises(ValueError, match="d_query == d_key"):
        DotProductAttention(4, 6)


def test_bad_shapes_are_rejected_with_the_argument_named():
    query, keys, mask = _inputs()
    attention = AdditiveAttention(4, 6, 8)
    with pytest.raises(ValueError, match="query"):
        attention(query[:, :3], keys, mask)
    with pytest.raises(ValueError, match="keys"):
        attention(query, keys[:, :, :5], mask)
    with pytest.raises(ValueError, match="mask"):
        attention(query, keys, mask[:, :4])


def test_a_mask_must_be_boolean_and_leave_something_to_attend_to():
    query, keys, mask = _inputs()
    attention = AdditiveAttention(4, 6, 8)
    with pytest.raises(ValueError, match="boolean"):
        attention(query, keys, mask.float())
    mask[1] = False
    with pytest.raises(ValueError, match="every source position"):
        attention(query, keys, mask)
