import pytest
import torch
from llmnotes.nn.positions import (
    apply_rope,
    position_shift_matrix,
    rope_cache,
    sinusoidal_positions,
)


def test_sinusoidal_positions_follow_the_paper_formula():
    pe = sinusoidal_positions(50, 8)
    pos, i = 17, 3
    angle = torch.tensor(pos / 10000 ** (2 * i / 8))
    torch.testing.assert_close(pe[pos, 2 * i], torch.sin(angle))
    torch.testing.assert_close(pe[pos, 2 * i + 1], torch.cos(angle))


@pytest.mark.parametrize("offset", [1, 5, 40])
def test_shift_matrix_maps_every_position_to_position_plus_offset(offset):
    pe = sinusoidal_positions(100, 16).double()
    shifted = pe[:100 - offset] @ position_shift_matrix(offset, 16).T
    torch.testing.assert_close(shifted, pe[offset:], atol=1e-6, rtol=0)


def test_odd_dimensions_are_rejected():
    with pytest.raises(ValueError, match="must be even"):
        sinusoidal_positions(4, 7)


def test_rope_preserves_norms_and_leaves_position_zero_unchanged():
    cos, sin = rope_cache(16, 10)
    x = torch.randn(2, 3, 10, 16)
    y = apply_rope(x, cos, sin)
    torch.testing.assert_close(y.norm(dim=-1), x.norm(dim=-1))
    torch.testing.assert_close(y[..., 0, :], x[..., 0, :])


def test_rope_dot_product_depends_on_the_offset_only():
    cos, sin = rope_cache(8, 64)
    q, k = torch.randn(8), torch.randn(8)

    def score(m: int, n: int) -> float:
        qm = apply_rope(q[None], cos[m:m + 1], sin[m:m + 1])
        kn = apply_rope(k[None], cos[n:n + 1], sin[n:n + 1])
        return (qm * kn).sum().item()

    assert score(7, 3) == pytest.approx(score(40, 36), abs=1e-4)
    assert score(7, 3) != pytest.approx(score(7, 5), abs=1e-3)


def test_rope_equals_complex_rotation_of_adjacent_pairs_as_in_metas_code():
    cos, sin = rope_cache(8, 5, theta=10000.0)
    x = torch.randn(5, 8)
    angles = torch.outer(torch.arange(5.0), 1.0 / 10000 ** (torch.arange(0, 8, 2) / 8))
    rotated = torch.view_as_complex(x.reshape(5, 4, 2)) * torch.polar(torch.ones(5, 4), angles)
    torch.testing.assert_close(apply_rope(x, cos, sin), torch.view_as_real(rotated).flatten(-2))


def test_apply_rope_rejects_mismatched_tables():
    cos, sin = rope_cache(8, 5)
    with pytest.raises(ValueError, match="cos/sin"):
        apply_rope(torch.randn(6, 8), cos, sin)


def test_rope_cache_rejects_a_non_positive_base():
    with pytest.raises(ValueError, match="theta"):
        rope_cache(8, 5, theta=-1.0)
