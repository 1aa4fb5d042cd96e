import pytest
import torch

from llmnotes import checks


@pytest.mark.parametrize("call, message", [
    (lambda: checks.positive_int("n", 0), "n must be a positive int, got 0"),
    (lambda: checks.positive_int("n", True), "n must be a positive int, got True"),
    (lambda: checks.non_negative_int("k", -1), "k must be an int >= 0"),
    (lambda: checks.probability("p", 1.5), "p must be <= 1, got 1.5"),
    (lambda: checks.positive("lr", 0.0), "lr must be > 0"),
    (lambda: checks.number("x", float("nan")), "x must be finite"),
    (lambda: checks.number("x", "1"), "x must be a number"),
    (lambda: checks.one_of("mode", "c", ("a", "b")), r"mode must be one of \('a', 'b'\)"),
    (lambda: checks.divides("n_head", 3, "d_model", 16), r"d_model \(16\) must be divisible by n_head \(3\)"),
    (lambda: checks.shape("x", torch.zeros(2, 3), ("batch", 4)), r"x must have shape \(batch, 4\), got \(2, 3\)"),
    (lambda: checks.same_shape(a=torch.zeros(2), b=torch.zeros(3)), r"a \(2,\), b \(3,\)"),
    (lambda: checks.token_ids("ids", torch.tensor([[0, 5]]), 5), r"ids must be in \[0, 5\), got \[0, 5\]"),
])
def test_each_check_names_the_argument_and_the_problem(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_checks_return_the_value_they_accept():
    assert checks.positive_int("n", 3) == 3 and checks.probability("p", 1) == 1.0
