import math

import numpy as np
import pytest
import sympy as sp
from llmnotes.analysis.compute_optimal import (
    CHINCHILLA_FIT,
    GOPHER_FLOPS,
    ParametricLoss,
    d_opt,
    derive_frontier,
    frontier_exponents,
    isoflop_minima,
    minimise_on_budget,
    n_opt,
    scaling_exponent,
    steps_for_budget,
    tokens_for_budget,
    training_flops,
)

BUDGETS = [1e18, 1e20, 1e21, GOPHER_FLOPS, 1e26]


def test_training_flops_is_six_n_d():
    assert training_flops(70e9, 1.4e12) == pytest.approx(5.88e23)


def test_parametric_loss_is_eq_2():
    law = ParametricLoss(E=1.0, A=2.0, B=3.0, alpha=0.5, beta=0.25)
    assert law(4.0, 16.0) == pytest.approx(1.0 + 2.0 / 2.0 + 3.0 / 2.0)


@pytest.mark.parametrize("flops", BUDGETS)
def test_closed_form_matches_numeric_minimisation_along_the_budget(flops):
    assert n_opt(flops) == pytest.approx(minimise_on_budget(flops), rel=1e-6)


@pytest.mark.parametrize("flops", BUDGETS)
def test_optimal_allocation_spends_exactly_the_budget(flops):
    assert 6 * n_opt(flops) * d_opt(flops) == pytest.approx(flops, rel=1e-12)


def test_symbolic_exponents_are_beta_and_alpha_over_their_sum():
    frontier = derive_frontier()
    alpha, beta = frontier.symbols["alpha"], frontier.symbols["beta"]
    assert sp.simplify(frontier.a - beta / (alpha + beta)) == 0
    assert sp.simplify(frontier.b - alpha / (alpha + beta)) == 0


def test_numeric_exponents_of_the_chinchilla_fit():
    a, b = frontier_exponents(CHINCHILLA_FIT)
    assert (a, b) == pytest.approx((0.28 / 0.62, 0.34 / 0.62))


def test_closed_form_is_the_papers_g_form():
    law = CHINCHILLA_FIT
    a, b = frontier_exponents(law)
    G = (law.alpha * law.A / (law.beta * law.B)) ** (1 / (law.alpha + law.beta))
    assert n_opt(GOPHER_FLOPS) == pytest.approx(G * (GOPHER_FLOPS / 6) ** a, rel=1e-12)
    assert d_opt(GOPHER_FLOPS) == pytest.approx((GOPHER_FLOPS / 6) ** b / G, rel=1e-12)


def test_equal_exponents_give_a_constant_tokens_per_parameter_ratio():
    law = ParametricLoss(E=1.7, A=400.0, B=400.0, alpha=0.3, beta=0.3)
    ratios = [d_opt(c, law) / n_opt(c, law) for c in (1e19, 1e22, 1e25)]
    assert ratios == pytest.approx([ratios[0]] * 3, rel=1e-9)


def test_tokens_and_steps_for_a_budget():
    assert tokens_for_budget(6e9, 1e3) == pytest.approx(1e6)
    assert steps_for_budget(6e9, 1e3, tokens_per_step=1000) == 1000


def test_parabola_fit_recovers_a_known_minimum():
    sizes = np.geomspace(1e3, 1e5, 7)
    losses = 2.0 + 0.1 * (np.log(sizes) - math.log(7e3)) ** 2
    fit = isoflop_minima({1e12: (sizes.tolist(), losses.tolist())})[1e12]
    assert fit.n_opt == pytest.approx(7e3, rel=1e-9)
    assert fit.loss_min == pytest.approx(2.0, abs=1e-12)
    assert fit(7e3) == pytest.approx(2.0, abs=1e-12)
    assert fit.interior


def test_shared_curvature_fit_recovers_each_budgets_minimum():
    sizes = np.geomspace(1e3, 1e5, 5)
    truth = {1e12: (3e3, 2.5), 4e12: (9e3, 2.3), 1.6e13: (2.7e4, 2.1)}
    profiles = {c: (sizes.tolist(), (low + 0.2 * (np.log(sizes) - math.log(n)) ** 2).tolist())
                for c, (n, low) in truth.items()}
    fits = isoflop_minima(profiles)
    for c, (n, low) in truth.items():
        assert fits[c].n_opt == pytest.approx(n, rel=1e-9)
        assert fits[c].loss_min == pytest.approx(low, abs=1e-12)
        assert fits[c].coefficients[0] == pytest.approx(0.2)


def test_a_vertex_outside_the_sizes_tried_is_flagged_not_interior():
    sizes = [1e3, 2e3, 4e3]
    losses = [2.0 + 0.1 * (math.log(n) - math.log(1e4)) ** 2 for n in sizes]
    fit = isoflop_minima({1e12: (sizes, losses)})[1e12]
    assert fit.n_opt == pytest.approx(1e4, rel=1e-9)
    assert not fit.interior


def test_scaling_exponent_recovers_a_power_law():
    budgets = [1e10, 4e10, 1.6e11]
    assert scaling_exponent(budgets, [3 * c ** 0.5 for c in budgets]) == pytest.approx((0.5, 3.0))


@pytest.mark.parametrize("call, match", [
    (lambda: training_flops(0, 1e9), "n_params must be > 0"),
    (lambda: training_flops(1e9, float("nan")), "n_tokens must be finite"),
    (lambda: n_opt(-1.0), "flops must be > 0"),
    (lambda: ParametricLoss(E=1.69, A=406.4, B=410.7, alpha=0.0, beta=0.28), "alpha must be > 0"),
    (lambda: CHINCHILLA_FIT(1e9, 0.0), "n_params and n_tokens must be finite and > 0"),
    (lambda: steps_for_budget(1e6, 1e6, tokens_per_step=1024), "less than one step"),
    (lambda: steps_for_budget(1e12, 1e3, tokens_per_step=0), "tokens_per_step must be a positive int"),
    (lambda: isoflop_minima({}), "at least one IsoFLOP profile"),
    (lambda: isoflop_minima({1e12: ([1e3, 2e3], [2.0, 1.9])}), "at least 3 distinct"),
    (lambda: isoflop_minima({1e12: ([1e3, 2e3, 4e3], [2.0, 1.9])}), "3 sizes but 2 losses"),
    (lambda: isoflop_minima({1e12: ([1e3, 2e3, 4e3], [2.0, float("nan"), 2.0])}), "must be finite"),
    (lambda: isoflop_minima({1e12: ([1e3, 2e3, 4e3], [2.0, 2.1, 2.0])}), "curve downwards"),
    (lambda: scaling_exponent([1e10], [1e3]), "at least 2 budgets"),
    (lambda: minimise_on_budget(1e20, bracket=(2.0, 1.0)), "0 < low < high"),
])
def test_bad_input_raises_a_clear_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()
