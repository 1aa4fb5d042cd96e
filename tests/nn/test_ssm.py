import pytest
import torch
from llmnotes import setup
from llmnotes.nn.ssm import (
    LTISSM,
    MambaBlock,
    SelectiveSSM,
    discretize,
    selective_scan,
    selective_scan_loop,
)


@pytest.fixture(autouse=True)
def _seed():
    setup(0)


def _inputs(b=2, t=11, d=3, n=4, per_channel=False):
    x = torch.randn(b, t, d)
    delta = torch.rand(b, t, d) * 0.5
    A = -torch.rand(d, n) * 3
    shape = (b, t, d, n) if per_channel else (b, t, n)
    return x, delta, A, torch.randn(*shape), torch.randn(*shape)


def test_discretisation_is_exp_delta_a_and_delta_b():
    x, delta, A, B, C = _inputs()
    log_a, b_bar = discretize(delta, A, B)
    torch.testing.assert_close(log_a[1, 3, 2], delta[1, 3, 2] * A[2])
    torch.testing.assert_close(b_bar[1, 3, 2], delta[1, 3, 2] * B[1, 3])


def test_loop_equals_scalar_recurrence_of_eq_2():
    x, delta, A, B, C = _inputs(b=1, t=6, d=2, n=3)
    y = selective_scan_loop(x, delta, A, B, C)
    for ch in range(2):
        h = [0.0] * 3
        for t in range(6):
            out = 0.0
            for n in range(3):
                dt = delta[0, t, ch].item()
                h[n] = torch.exp(torch.tensor(dt * A[ch, n].item())).item() * h[n] + dt * B[0, t, n].item() * x[0, t, ch].item()
                out += C[0, t, n].item() * h[n]
            assert y[0, t, ch].item() == pytest.approx(out, abs=1e-5)


@pytest.mark.parametrize("chunk", [1, 3, 4, 16])
@pytest.mark.parametrize("per_channel", [False, True])
def test_chunked_scan_equals_the_loop(chunk, per_channel):
    x, delta, A, B, C = _inputs(per_channel=per_channel)
    D = torch.randn(3)
    y, h = selective_scan(x, delta, A, B, C, D, chunk=chunk, return_state=True)
    y_ref, h_ref = selective_scan_loop(x, delta, A, B, C, D, return_state=True)
    torch.testing.assert_close(y, y_ref, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(h, h_ref, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("cls", [SelectiveSSM, LTISSM])
def test_ssm_output_at_t_does_not_depend_on_later_inputs(cls):
    layer = cls(8, 4)
    x = torch.randn(1, 10, 8)
    x2 = x.clone()
    x2[:, 6:] = 50.0
    torch.testing.assert_close(layer(x2)[:, :6], layer(x)[:, :6])


def test_lti_parameters_are_the_same_at_every_position_and_selective_ones_are_not():
    x = torch.randn(1, 5, 8)
    delta, B, _ = LTISSM(8, 4).parameters_for(x)
    assert torch.equal(delta[0, 0], delta[0, 4]) and torch.equal(B[0, 0], B[0, 4])
    delta, B, _ = SelectiveSSM(8, 4).parameters_for(x)
    assert not torch.equal(delta[0, 0], delta[0, 4]) and not torch.equal(B[0, 0], B[0, 4])


@pytest.mark.parametrize("ssm", ["selective", "lti"])
def test_mamba_block_step_by_step_equals_the_block_on_the_sequence(ssm):
    block = MambaBlock(8, d_state=4, ssm=ssm)
    u = torch.randn(2, 7, 8)
    state = block.new_state(2)
    outs = []
    for t in range(7):
        y, state = block.step(u[:, t], state)
        outs.append(y)
    torch.testing.assert_close(torch.stack(outs, 1), block(u), atol=1e-5, rtol=1e-5)


def test_mamba_block_is_causal():
    block = MambaBlock(8, d_state=4)
    u = torch.randn(1, 9, 8)
    u2 = u.clone()
    u2[:, 5:] = -30.0
    torch.testing.assert_close(block(u2)[:, :5], block(u)[:, :5])


def test_bad_shapes_and_arguments_raise_clear_errors():
    x, delta, A, B, C = _inputs()
    with pytest.raises(ValueError, match="x and delta"):
        selective_scan(x, delta[:, :5], A, B, C)
    with pytest.raises(ValueError, match="A must have shape"):
        selective_scan_loop(x, delta, A.T, B, C)
    with pytest.raises(ValueError, match="B must have shape"):
        selective_scan(x, delta, A, B[..., :2], C)
    with pytest.raises(ValueError, match="x must have shape"):
        SelectiveSSM(8, 4)(torch.randn(2, 5, 6))
    with pytest.raises(ValueError, match="ssm must be one of"):
        MambaBlock(8, ssm="s4")
    with pytest.raises(ValueError, match="chunk"):
        selective_scan(x, delta, A, B, C, chunk=0)


def test_gradients_of_the_loop_match_autograd_through_a_plain_recurrence():
    x, delta, A, B, C = (t.double().requires_grad_() for t in _inputs(t=7))
    y = selective_scan_loop(x, delta, A, B, C)
    log_a = delta.unsqueeze(-1) * A
    h, ys = torch.zeros(2, 3, 4, dtype=torch.double), []
    for t in range(7):                                     # the same recurrence, differentiated by autograd
        h = torch.exp(log_a[:, t]) * h + delta[:, t, :, None] * B[:, t, None, :] * x[:, t, :, None]
        ys.append((h * C[:, t, None, :]).sum(-1))
    reference = torch.stack(ys, 1)
    weights = torch.randn_like(y)
    grads = torch.autograd.grad((y * weights).sum(), (x, delta, A, B, C))
    expected = torch.autograd.grad((reference * weights).sum(), (x, delta, A, B, C))
    for g, e in zip(grads, expected):
        torch.testing.assert_close(g, e)
