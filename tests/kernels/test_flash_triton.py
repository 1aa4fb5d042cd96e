"""The Triton kernel of FlashAttention's forward pass (runs in Triton's interpreter without a GPU)."""
import pytest
import torch
import torch.nn.functional as F
from llmnotes import setup
from llmnotes.kernels.flash_triton import flash_attention_triton, interpreted

DEVICE = "cpu" if interpreted() else "cuda"


@pytest.fixture(autouse=True)
def _seed():
    setup(0)


def qkv(n_q, n_k, d, batch=2, heads=2, dtype=torch.float32):
    shapes = ((batch, heads, n_q, d), (batch, heads, n_k, d), (batch, heads, n_k, d))
    return tuple(torch.randn(s, dtype=dtype, device=DEVICE) for s in shapes)


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("n_q, n_k, d, block", [(64, 64, 16, 32), (100, 100, 64, 32), (45, 77, 40, 16)])
def test_kernel_equals_torch_sdpa(n_q, n_k, d, block, causal):
    q, k, v = qkv(n_q, n_k, d)
    out = flash_attention_triton(q, k, v, causal, block_m=block, block_n=block)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, is_causal=causal), atol=1e-5, rtol=0)


def test_different_query_and_key_blocks_and_custom_scale():
    q, k, v = qkv(50, 70, 32, batch=1)
    out = flash_attention_triton(q, k, v, block_m=16, block_n=32, scale=0.3)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, scale=0.3), atol=1e-5, rtol=0)


def test_large_logits_do_not_overflow():
    q, k, v = qkv(40, 40, 16, batch=1, heads=1)
    out = flash_attention_triton(q * 100, k * 100, v, block_m=16, block_n=16)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q * 100, k * 100, v), atol=1e-5, rtol=0)


def test_output_has_query_shape_and_input_dtype():
    q, k, v = qkv(20, 30, 16, batch=1, heads=3)
    out = flash_attention_triton(q, k, v, block_m=16, block_n=16)
    assert out.shape == (1, 3, 20, 16) and out.dtype == torch.float32


@pytest.mark.parametrize("bad, message", [
    (lambda q, k, v: (q[0], k[0], v[0]), "batch, heads, n, d"),
    (lambda q, k, v: (q.double(), k.double(), v.double()), "float32 or float16"),
    (lambda q, k, v: (q, k.half(), v.half()), "share a dtype"),
    (lambda q, k, v: (q, k[:, :1], v[:, :1]), "batch, heads"),
    (lambda q, k, v: (q, k, v[:, :, :5]), "same length"),
    (lambda q, k, v: (q, k[..., :8], v[..., :8]), "head dimension"),
    (lambda q, k, v: (q[:, :, :0], k, v), "empty"),
    (lambda q, k, v: (q.tolist(), k, v), "tensor"),
])
def test_bad_inputs_raise_value_error(bad, message):
    with pytest.raises(ValueError, match=message):
        flash_attention_triton(*bad(*qkv(8, 8, 16, batch=1, heads=2)))


@pytest.mark.parametrize("block_m, block_n", [(24, 16), (16, 8), (True, 16), (16, 0)])
def test_block_sizes_must_be_powers_of_two_of_at_least_16(block_m, block_n):
    q, k, v = qkv(8, 8, 16, batch=1, heads=1)
    with pytest.raises(ValueError, match="power of two"):
        flash_attention_triton(q, k, v, block_m=block_m, block_n=block_n)


def test_tensors_on_the_wrong_device_raise_value_error():
    wrong = "meta" if interpreted() else "cpu"       # the interpreter wants CPU tensors, the GPU kernel CUDA ones
    q, k, v = (x.to(wrong) for x in qkv(8, 8, 16, batch=1, heads=1))
    with pytest.raises(ValueError, match="CPU tensors|CUDA tensors"):
        flash_attention_triton(q, k, v)
