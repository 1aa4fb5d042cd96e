import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from llmnotes import setup
from llmnotes.analysis.fits import power_law
from llmnotes.analysis.memory import peak_memory
from llmnotes.kernels.flash_attention import (
    HBMCounter,
    block_sizes,
    flash_attention,
    flash_attention_backward,
    flash_attention_forward,
    flash_attention_io,
    standard_attention_io,
)
from llmnotes.nn.attention import scaled_dot_product_attention


@pytest.fixture(autouse=True)
def _seed():
    setup(0, threads=1)     # hundreds of tiny block operators: a second thread only adds synchronisation


def naive(q, k, v, causal=False):
    """Standard attention with a top-left causal mask, as torch's ``is_causal``."""
    mask = torch.ones(q.shape[-2], k.shape[-2], dtype=torch.bool).tril() if causal else None
    return scaled_dot_product_attention(q, k, v, mask)[0]


def qkv(n_q, n_k, d, d_v=None, batch=(2, 3), dtype=torch.float32, grad=False):
    shapes = ((*batch, n_q, d), (*batch, n_k, d), (*batch, n_k, d_v or d))
    return tuple(torch.randn(s, dtype=dtype, requires_grad=grad) for s in shapes)


# --- exactness ---------------------------------------------------------------------------


@settings(max_examples=15, deadline=None)
@given(n_q=st.integers(1, 70), n_k=st.integers(1, 70), d=st.integers(1, 16),
       block_rows=st.integers(2, 32), block_cols=st.integers(2, 32), causal=st.booleans())
def test_forward_equals_naive_and_torch_for_any_lengths_and_blocks(n_q, n_k, d, block_rows, block_cols, causal):
    q, k, v = qkv(n_q, n_k, d, d_v=5)
    out = flash_attention(q, k, v, causal, block_size=(block_rows, block_cols))
    torch.testing.assert_close(out, naive(q, k, v, causal), atol=1e-5, rtol=0)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, is_causal=causal), atol=1e-5, rtol=0)


@pytest.mark.parametrize("causal", [False, True])
def test_log_sum_exp_statistic_is_the_softmax_normaliser(causal):
    q, k, v = qkv(37, 53, 8)
    _, lse = flash_attention_forward(q, k, v, causal, block_rows=16, block_cols=16)
    scores = q @ k.transpose(-2, -1) / math.sqrt(8)
    if causal:
        scores = scores.masked_fill(~torch.ones(37, 53, dtype=torch.bool).tril(), -math.inf)
    torch.testing.assert_close(lse, torch.logsumexp(scores, dim=-1), atol=1e-5, rtol=0)


def test_custom_scale_matches_torch():
    q, k, v = qkv(20, 30, 8)
    out = flash_attention(q, k, v, block_size=7, scale=0.3)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, scale=0.3), atol=1e-5, rtol=0)


def test_unbatched_inputs_work():
    q, k, v = qkv(9, 11, 4, batch=())
    torch.testing.assert_close(flash_attention(q, k, v, block_size=4), naive(q, k, v), atol=1e-6, rtol=0)


def test_large_logits_do_not_overflow():
    q, k, v = qkv(40, 40, 8)
    out = flash_attention(q * 100, k * 100, v, block_size=16)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out, naive(q * 100, k * 100, v), atol=1e-5, rtol=0)


# --- backward ----------------------------------------------------------------------------


@pytest.mark.parametrize("causal", [False, True])
def test_gradcheck_in_float64(causal):
    q, k, v = qkv(5, 7, 4, d_v=3, batch=(1,), dtype=torch.float64, grad=True)
    assert torch.autograd.gradcheck(lambda a, b, c: flash_attention(a, b, c, causal, block_size=(2, 3)), (q, k, v))


@pytest.mark.parametrize("causal", [False, True])
def test_gradients_match_autograd_through_naive_attention(causal):
    q, k, v = qkv(100, 77, 32, d_v=16, grad=True)
    grad = torch.randn(2, 3, 100, 16)
    ours = torch.autograd.grad(flash_attention(q, k, v, causal, block_size=(16, 24)), (q, k, v), grad)
    reference = torch.autograd.grad(naive(q, k, v, causal), (q, k, v), grad)
    for name, a, b in zip("qkv", ours, reference):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=0, msg=f"gradient of {name}")


def test_autograd_saves_no_quadratic_tensor():
    q, k, v = qkv(64, 64, 8, batch=(1,), grad=True)
    saved = []

    def pack(tensor):
        saved.append(tensor.numel())
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        flash_attention(q, k, v, block_size=16)
    assert saved and max(saved) == 64 * 8          # Q, K, V, O and L: O(N·d), never N×N
    saved.clear()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        naive(q, k, v)
    assert max(saved) == 64 * 64                   # standard attention keeps P for backward


# --- IO accounting -----------------------------------------------------------------------


@pytest.mark.parametrize("n,d,sram", [(100, 8, 64), (257, 16, 300), (64, 4, 1000)])
@pytest.mark.parametrize("causal", [False, True])
def test_io_simulation_counts_exactly_what_the_implementation_moves(n, d, sram, causal):
    b_r, b_c = block_sizes(sram, d)
    q, k, v = qkv(n, n, d, batch=())
    forward, backward = HBMCounter(), HBMCounter()
    out, lse = flash_attention_forward(q, k, v, causal, b_r, b_c, io=forward)
    flash_attention_backward(q, k, v, out, lse, torch.randn(n, d), causal, b_r, b_c, io=backward)
    simulated = flash_attention_io(n, d, sram, causal)
    assert (simulated.reads, simulated.writes) == (forward.reads, forward.writes)
    assert flash_attention_io(n, d, sram, causal, backward=True).total == forward.total + backward.total


def test_block_sizes_follow_algorithm_1_line_1():
    assert block_sizes(51_200, 64) == (64, 200)     # B_r = min(⌈M/4d⌉, d), B_c = ⌈M/4d⌉
    assert block_sizes(1024, 64) == (4, 4)


def test_standard_attention_io_is_four_n_squared_plus_four_n_d():
    assert standard_attention_io(1000, 64).total == 4 * 1000**2 + 4 * 1000 * 64
    assert standard_attention_io(1000, 64, backward=True).total == 11 * 1000**2 + 12 * 1000 * 64


def test_flash_io_falls_as_one_over_sram():
    srams = [2**p for p in range(10, 17)]
    exponent, _ = power_law(srams, [flash_attention_io(1024, 64, m).total for m in srams])
    assert -1.05 < exponent < -0.9


@pytest.mark.parametrize("n", [512, 2048])
@pytest.mark.parametrize("d", [32, 64])
def test_flash_io_is_theta_n2_d2_over_m(n, d):
    for sram in (4 * d * d, 8 * d * d):          # within d <= M <= N·d
        ratio = flash_attention_io(n, d, sram).total / (n * n * d * d / sram)
        assert 2 < ratio < 16, ratio


def test_flash_needs_fewer_accesses_when_sram_dwarfs_d_squared():
    assert standard_attention_io(1024, 64).total > 3 * flash_attention_io(1024, 64, 51_200).total
    assert standard_attention_io(1024, 64).total < flash_attention_io(1024, 64, 4096).total


def test_causal_skips_about_half_the_blocks():
    full, causal = flash_attention_io(4096, 64, 16_384).total, flash_attention_io(4096, 64, 16_384, causal=True).total
    assert 0.5 < causal / full < 0.56


# --- memory ------------------------------------------------------------------------------


def test_peak_memory_counts_inputs_temporaries_and_outputs():
    x = torch.zeros(1000)
    assert peak_memory(lambda t: (t * 2) + 1, x) == 3 * 4000             # x, x*2 alive with the sum
    assert peak_memory(lambda t: t.view(10, 100).sum(), x) == 4000 + 4   # a view costs nothing


def test_peak_memory_releases_freed_temporaries():
    def steps(t):
        for _ in range(5):
            t = t + 1                                                     # the previous one is freed
        return t

    assert peak_memory(steps, torch.zeros(1000)) == 3 * 4000


def extra_memory(fn, n, d=16):
    """Peak bytes beyond the inputs and output (Theorem 1's 'additional memory')."""
    q, k, v = qkv(n, n, d, batch=(1,))
    return peak_memory(fn, q, k, v) - 4 * (3 * n * d + n * d)


def test_flash_extra_memory_grows_linearly():
    fn = lambda q, k, v: flash_attention_forward(q, k, v, block_rows=32, block_cols=32)[0]   # noqa: E731
    e = [extra_memory(fn, n) for n in (64, 128, 256)]
    assert e[2] - e[1] == 2 * (e[1] - e[0]) > 0        # doubling n doubles the increment: O(n)


def test_naive_extra_memory_grows_quadratically():
    fn = lambda q, k, v: naive(q, k, v)                # noqa: E731
    e = [extra_memory(fn, n) for n in (64, 128, 256)]
    assert e[2] - e[1] == 4 * (e[1] - e[0])             # doubling n quadruples it: O(n²)


def test_memory_exponents_are_about_one_and_two():
    lengths = [128, 256, 512]
    tensors = {n: qkv(n, n, 64, batch=(1,)) for n in lengths}
    flash = power_law(lengths, [peak_memory(flash_attention_forward, *tensors[n]) for n in lengths])[0]
    standard = power_law(lengths, [peak_memory(naive, *tensors[n]) for n in lengths])[0]
    assert 0.7 < flash <= 1.0 < 1.5 < standard <= 2.0


# --- errors ------------------------------------------------------------------------------


def test_rejects_mismatched_key_width():
    with pytest.raises(ValueError, match="q and k must share d_k, got 8 and 4"):
        flash_attention(torch.randn(3, 8), torch.randn(5, 4), torch.randn(5, 4))


def test_rejects_keys_and_values_of_different_lengths():
    with pytest.raises(ValueError, match="k and v must have the same length, got 5 and 6"):
        flash_attention(torch.randn(3, 4), torch.randn(5, 4), torch.randn(6, 4))


def test_rejects_different_batch_dimensions():
    with pytest.raises(ValueError, match=r"leading \(batch, head\) dimensions, got \(2,\), \(3,\) and \(2,\)"):
        flash_attention(torch.randn(2, 3, 4), torch.randn(3, 5, 4), torch.randn(2, 5, 4))


def test_rejects_one_dimensional_input():
    with pytest.raises(ValueError, match=r"q needs at least 2 dimensions \(\.\.\., n, d\), got shape \(4,\)"):
        flash_attention(torch.randn(4), torch.randn(5, 4), torch.randn(5, 4))


def test_rejects_integer_input():
    with pytest.raises(ValueError, match="k must be a floating-point tensor, got torch.int64"):
        flash_attention(torch.randn(3, 4), torch.ones(5, 4, dtype=torch.long), torch.randn(5, 4))


def test_rejects_empty_sequence():
    with pytest.raises(ValueError, match=r"q must not be empty, got shape \(0, 4\)"):
        flash_attention(torch.randn(0, 4), torch.randn(5, 4), torch.randn(5, 4))


@pytest.mark.parametrize("block", [0, -3, 2.5, True])
def test_rejects_bad_block_size(block):
    q = torch.randn(4, 4)
    with pytest.raises(ValueError, match="block_rows must be a positive int"):
        flash_attention(q, q, q, block_size=block)


def test_rejects_block_size_tuple_of_three():
    q = torch.randn(4, 4)
    with pytest.raises(ValueError, match=r"block_size must be an int or a pair \(B_r, B_c\), got \(1, 2, 3\)"):
        flash_attention(q, q, q, block_size=(1, 2, 3))


def test_rejects_bad_column_block_size():
    q = torch.randn(4, 4)
    with pytest.raises(ValueError, match="block_cols must be a positive int, got 0"):
        flash_attention_forward(q, q, q, block_rows=2, block_cols=0)


def test_rejects_sram_smaller_than_head_dimension():
    with pytest.raises(ValueError, match=r"sram \(M, in elements\) must be an int >= d = 64"):
        flash_attention_io(1024, 64, 32)


def test_backward_rejects_statistics_of_the_wrong_shape():
    q = torch.randn(6, 4)
    out, _ = flash_attention_forward(q, q, q)
    with pytest.raises(ValueError, match=r"lse must have shape \(6,\), got \(5,\)"):
        flash_attention_backward(q, q, q, out, torch.zeros(5), out)
