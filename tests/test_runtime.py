import subprocess
import sys

import numpy as np
import pytest
import torch

from llmnotes import numerics, setup
from llmnotes.runtime import derived_seed, experiment, session_seed


def test_setup_makes_random_draws_repeatable():
    setup(3)
    a = torch.randn(4)
    setup(3)
    assert torch.equal(a, torch.randn(4))


def test_setup_fixes_one_thread_by_default_and_returns_a_device():
    device = setup(0)
    assert torch.get_num_threads() == 1 and device.type in ("cpu", "cuda")


@pytest.mark.parametrize("kwargs, message", [(dict(seed=-1), "seed must be an int >= 0"),
                                             (dict(threads=0), "threads must be a positive int")])
def test_setup_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        setup(**kwargs)


def test_the_environment_seed_overrides_the_argument(monkeypatch):
    monkeypatch.setenv("LLMNOTES_SEED", "7")
    setup(0)
    assert session_seed() == 7


def test_an_experiment_reproduces_whatever_ran_before_it():
    setup(0)
    first = experiment("sft")
    a = (torch.randn(3), torch.randint(10, (3,), generator=first), np.random.rand())
    torch.randn(100)                                   # other cells draw in between
    again = experiment("sft")
    b = (torch.randn(3), torch.randint(10, (3,), generator=again), np.random.rand())
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) and a[2] == b[2]


def test_experiments_differ_by_name_and_by_session_seed():
    setup(0)
    assert derived_seed("a") != derived_seed("b")
    assert derived_seed("a") != derived_seed("a", seed=1)
    assert derived_seed("a") == derived_seed("a", seed=0)


def test_an_experiment_needs_a_name():
    with pytest.raises(ValueError, match="non-empty name"):
        experiment("")


@pytest.mark.skipif(numerics.mode()[0] != "strict", reason="the NumPy kernels are installed in strict mode only")
class TestPortableVectorMath:
    """The MKL vector-math ops that depend on the CPU vendor are computed by NumPy after setup()."""

    def setup_method(self):
        setup(0)

    @pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
    def test_sqrt_is_correctly_rounded(self, dtype):
        x = torch.rand(10000, dtype=torch.float64).to(dtype) * 10
        exact = torch.from_numpy(np.sqrt(x.numpy()))
        assert torch.equal(torch.sqrt(x), exact) and torch.equal(x.clone().sqrt_(), exact)
        out = torch.empty(0, dtype=dtype)
        torch.sqrt(x, out=out)
        assert torch.equal(out, exact)

    @pytest.mark.parametrize("name, ufunc", [("tan", np.tan), ("asin", np.arcsin), ("acos", np.arccos), ("atan", np.arctan)])
    def test_inverse_trigonometry_goes_through_numpy(self, name, ufunc):
        x = torch.rand(1000) - 0.5
        assert torch.equal(getattr(torch, name)(x), torch.from_numpy(ufunc(x.numpy())))

    def test_gradients_and_other_dtypes_still_work(self):
        x = torch.tensor([4.0, 9.0], requires_grad=True)
        x.sqrt().sum().backward()
        torch.testing.assert_close(x.grad, torch.tensor([0.25, 1 / 6]))
        assert torch.sqrt(torch.tensor([4, 9])).tolist() == [2.0, 3.0]
        assert torch.sqrt(torch.tensor([4.0], dtype=torch.bfloat16)).dtype == torch.bfloat16
        assert torch.sqrt(torch.tensor([-4 + 0j])).tolist() == [2j]

    def test_in_place_sqrt_of_integers_is_refused_as_torch_refuses_it(self):
        with pytest.raises(RuntimeError, match="can't be cast"):
            torch.tensor([4]).sqrt_()

    def test_adam_uses_them(self):
        p = torch.nn.Parameter(torch.ones(3))
        p.grad = torch.tensor([1.0, 2.0, 3.0])
        torch.optim.Adam([p], lr=0.1).step()
        torch.testing.assert_close(p.detach(), torch.full((3,), 0.9))


def test_importing_llmnotes_sets_the_pins_in_a_fresh_process():
    code = "import os, llmnotes, llmnotes.numerics as n; print(all(os.environ.get(k) == v for k, v in n.PINS.items()))"
    env = {k: v for k, v in __import__("os").environ.items() if k not in numerics.PINS}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
    assert out.strip() == str(numerics.mode()[0] == "strict")
