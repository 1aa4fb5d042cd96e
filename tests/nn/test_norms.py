import pytest
import torch
from torch import nn

from llmnotes.nn.norms import DyT, LayerNorm, RMSNorm


def _random_affine(*params):
    with torch.no_grad():
        for p in params:
            p.copy_(torch.randn_like(p))


def test_layernorm_equals_torch_layernorm_with_the_same_weights():
    ours, ref, x = LayerNorm(32, eps=1e-5), nn.LayerNorm(32, eps=1e-5), 4 * torch.randn(3, 5, 32) + 2
    _random_affine(ours.weight, ours.bias)
    ref.load_state_dict(ours.state_dict())
    torch.testing.assert_close(ours(x), ref(x))


def test_layernorm_gradients_equal_torch_layernorm():
    ours, ref = LayerNorm(16), nn.LayerNorm(16)
    _random_affine(ours.weight, ours.bias)
    ref.load_state_dict(ours.state_dict())
    x = torch.randn(4, 16, requires_grad=True)
    x_ref = x.detach().clone().requires_grad_()
    ours(x).pow(2).sum().backward()
    ref(x_ref).pow(2).sum().backward()
    torch.testing.assert_close(x.grad, x_ref.grad)
    torch.testing.assert_close(ours.weight.grad, ref.weight.grad)


def test_layernorm_output_has_zero_mean_and_unit_variance_per_token():
    y = LayerNorm(64, eps=1e-8)(10 * torch.randn(2, 7, 64) - 3)
    torch.testing.assert_close(y.mean(-1), torch.zeros(2, 7), atol=1e-5, rtol=0)
    torch.testing.assert_close(y.var(-1, unbiased=False), torch.ones(2, 7), atol=1e-4, rtol=0)


def test_layernorm_is_invariant_to_shift_and_scale_of_its_input():
    norm, x = LayerNorm(16, eps=1e-8), torch.randn(4, 16)
    torch.testing.assert_close(norm(3.0 * x + 5.0), norm(x), atol=1e-5, rtol=1e-5)


def test_layernorm_does_not_mix_tokens_of_a_batch():
    norm, x = LayerNorm(8), torch.randn(6, 8)
    torch.testing.assert_close(norm(x)[:1], norm(x[:1]))


def test_rmsnorm_equals_torch_nn_rmsnorm():
    ours, ref, x = RMSNorm(32, eps=1e-6), nn.RMSNorm(32, eps=1e-6), 3 * torch.randn(2, 9, 32) + 1
    _random_affine(ours.weight)
    ref.load_state_dict(ours.state_dict())
    torch.testing.assert_close(ours(x), ref(x))


def test_rmsnorm_equals_layernorm_without_bias_on_zero_mean_inputs():
    x = torch.randn(5, 16)
    x = x - x.mean(-1, keepdim=True)
    torch.testing.assert_close(RMSNorm(16, eps=1e-5)(x), LayerNorm(16, eps=1e-5)(x), atol=1e-5, rtol=1e-5)


def test_dyt_is_gamma_tanh_alpha_x_plus_beta():
    dyt, x = DyT(8, alpha_init=0.7), torch.randn(3, 8)
    _random_affine(dyt.weight, dyt.bias)
    torch.testing.assert_close(dyt(x), dyt.weight * torch.tanh(0.7 * x) + dyt.bias)


def test_dyt_starts_at_the_papers_default_alpha_and_identity_affine():
    dyt = DyT(4)
    assert dyt.alpha.item() == 0.5 and dyt.alpha.dim() == 0
    assert torch.equal(dyt.weight, torch.ones(4)) and torch.equal(dyt.bias, torch.zeros(4))


def test_dyt_is_bounded_by_its_gain_and_learns_alpha():
    dyt = DyT(4)
    y = dyt(1e3 * torch.randn(10, 4))
    assert y.abs().max().item() <= 1.0
    y.sum().backward()
    assert dyt.alpha.grad is not None


def test_norms_reject_a_non_positive_dimension_or_eps():
    with pytest.raises(ValueError, match="dim"):
        LayerNorm(0)
    with pytest.raises(ValueError, match="eps"):
        LayerNorm(8, eps=0.0)
    with pytest.raises(ValueError, match="dim"):
        DyT(-1)


def test_dyt_rejects_a_non_positive_alpha():
    with pytest.raises(ValueError, match="alpha_init"):
        DyT(8, alpha_init=0.0)


@pytest.mark.parametrize("norm", [LayerNorm(8), DyT(8)])
def test_norms_reject_inputs_of_the_wrong_width(norm):
    with pytest.raises(ValueError, match="last dimension is 8"):
        norm(torch.randn(2, 7))
