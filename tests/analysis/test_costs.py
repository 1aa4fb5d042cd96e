import pytest
from llmnotes import setup
from llmnotes.analysis.costs import attention_mixing, count_flops, shortest_path_length
from llmnotes.analysis.fits import crossover, power_law
from llmnotes.models.rnn import ElmanRNN


def test_attention_matmul_flops_are_4_n_squared_d():
    assert count_flops(attention_mixing, 32, 16) == 4 * 32 * 32 * 16


def test_rnn_matmul_flops_are_4_n_d_squared():
    setup(0)
    assert count_flops(ElmanRNN(16), 32, 16) == 4 * 32 * 16 * 16


def test_attention_path_length_does_not_grow_with_n():
    assert shortest_path_length(attention_mixing, 4, 8) == shortest_path_length(attention_mixing, 64, 8)


def test_rnn_path_length_grows_linearly_with_n():
    setup(0)
    rnn = ElmanRNN(8)
    lengths = [shortest_path_length(rnn.states, n, 8) for n in (4, 8, 16)]
    assert lengths[1] - lengths[0] == (lengths[2] - lengths[1]) / 2 > 0


def test_power_law_recovers_exponent_and_coefficient():
    assert power_law([1, 2, 4, 8], [3 * x ** 1.5 for x in (1, 2, 4, 8)]) == pytest.approx((1.5, 3.0))


def test_crossover_of_quadratic_and_linear_cost_is_where_they_meet():
    xs = [1, 2, 4, 8, 16]
    assert crossover(xs, [2 * x * x for x in xs], [10 * x for x in xs]) == pytest.approx(5.0)


def test_rnn_rejects_wrong_width():
    with pytest.raises(ValueError, match="positions of size 8"):
        ElmanRNN(8).states([__import__("torch").zeros(4)])
