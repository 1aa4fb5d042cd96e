import pytest
import torch
import torch.nn.functional as F
from llmnotes.nn.block import TransformerBlock
from llmnotes.nn.feedforward import FeedForward, SwiGLU, ffn_hidden_size
from llmnotes.nn.kv_cache import KVCache
from llmnotes.nn.norms import RMSNorm


def test_rmsnorm_output_has_unit_root_mean_square():
    y = RMSNorm(64, eps=1e-8)(5 * torch.randn(3, 7, 64) + 2)
    torch.testing.assert_close(y.pow(2).mean(-1), torch.ones(3, 7), atol=1e-4, rtol=0)


def test_rmsnorm_is_scale_invariant_but_not_shift_invariant():
    norm, x = RMSNorm(16, eps=1e-8), torch.randn(4, 16)
    torch.testing.assert_close(norm(3.0 * x), norm(x))
    assert not torch.allclose(norm(x + 1.0), norm(x))


def test_rmsnorm_equals_torch_rms_norm():
    norm, x = RMSNorm(16, eps=1e-6), torch.randn(4, 16)
    norm.weight.data = torch.rand(16)
    torch.testing.assert_close(norm(x), F.rms_norm(x, (16,), norm.weight, eps=1e-6))


def test_rmsnorm_rejects_a_non_positive_eps():
    with pytest.raises(ValueError, match="eps"):
        RMSNorm(8, eps=0.0)


def test_swiglu_is_down_of_silu_gate_times_up_with_three_bias_free_matrices():
    ffn, x = SwiGLU(8, 12), torch.randn(5, 8)
    expected = (F.silu(x @ ffn.gate_proj.weight.T) * (x @ ffn.up_proj.weight.T)) @ ffn.down_proj.weight.T
    torch.testing.assert_close(ffn(x), expected)
    assert sum(p.numel() for p in ffn.parameters()) == 3 * 8 * 12


@pytest.mark.parametrize("d, hidden", [(4096, 11008), (5120, 13824), (6656, 17920), (8192, 22016)])
def test_ffn_hidden_is_two_thirds_of_4d_rounded_up_to_256(d, hidden):
    assert ffn_hidden_size(d) == hidden and hidden % 256 == 0 and 0 <= hidden - 8 * d / 3 < 256


def test_feed_forward_is_eq_2_with_relu():
    ffn, x = FeedForward(8, 32, "relu"), torch.randn(3, 8)
    expected = F.relu(x @ ffn.up_proj.weight.T + ffn.up_proj.bias) @ ffn.down_proj.weight.T + ffn.down_proj.bias
    torch.testing.assert_close(ffn(x), expected)


def test_feed_forward_rejects_an_unknown_activation():
    with pytest.raises(ValueError, match="activation must be one of"):
        FeedForward(8, 32, "tanh")


def test_post_norm_block_normalises_after_the_residual():
    block = TransformerBlock(16, 2, 64, pre_norm=False).eval()
    torch.testing.assert_close(block(torch.randn(1, 5, 16)).mean(-1), torch.zeros(1, 5), atol=1e-5, rtol=0)


def test_pre_norm_block_keeps_the_residual_stream_unnormalised():
    block = TransformerBlock(16, 2, 64, pre_norm=True).eval()
    assert block(10 + torch.randn(1, 5, 16)).mean().item() > 5


def test_kv_cache_broadcasts_a_shared_prompt_over_a_batch():
    cache = KVCache(1)
    cache[0].update(torch.ones(1, 2, 3, 4), torch.ones(1, 2, 3, 4))
    k, v = cache.copy()[0].update(torch.zeros(5, 2, 1, 4), torch.zeros(5, 2, 1, 4))
    assert k.shape == (5, 2, 4, 4) and len(cache) == 3
    assert cache.nbytes() == 2 * 2 * 3 * 4 * 4


def test_kv_cache_rejects_keys_that_do_not_continue_it():
    cache = KVCache(1)
    cache[0].update(torch.ones(2, 2, 3, 4), torch.ones(2, 2, 3, 4))
    with pytest.raises(ValueError, match="do not continue"):
        cache[0].update(torch.zeros(3, 2, 1, 4), torch.zeros(3, 2, 1, 4))
