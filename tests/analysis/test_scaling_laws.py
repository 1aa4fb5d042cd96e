
import numpy as np
import pytest
from llmnotes.analysis.compute_optimal import scaling_exponent
from llmnotes.analysis.fits import fit_power_law, fit_power_law_with_offset
from llmnotes.analysis.scaling_laws import (
    KAPLAN_ALPHA_N,
    KAPLAN_N_C,
    PF_DAY,
    kaplan_d_opt,
    kaplan_loss,
    kaplan_n_opt,
    kaplan_param_estimate,
    non_embedding_params,
    predicted_allocation_exponents,
)
from llmnotes.models.gpt import GPT, GPTConfig, gpt_non_embedding_count
from scipy.stats import linregress
from torch import nn

SIZES = [1e3, 3e3, 1e4, 3e4, 1e5, 3e5]


@pytest.mark.parametrize("n_layer, d_model", [(1, 8), (2, 16), (3, 24)])
def test_non_embedding_count_matches_the_closed_form_and_the_gpt_method(n_layer, d_model):
    model = GPT(GPTConfig(vocab_size=50, max_seq_len=16, n_layer=n_layer, n_head=2, d_model=d_model))
    assert non_embedding_params(model) == gpt_non_embedding_count(n_layer, d_model)
    assert non_embedding_params(model) == model.n_params() - model.tok_emb.weight.numel() - model.pos_emb.weight.numel()


def test_non_embedding_count_ignores_vocabulary_and_context_length():
    small = GPT(GPTConfig(vocab_size=10, max_seq_len=8, n_layer=2, n_head=2, d_model=16))
    large = GPT(GPTConfig(vocab_size=500, max_seq_len=64, n_layer=2, n_head=2, d_model=16))
    assert non_embedding_params(small) == non_embedding_params(large)


def test_an_untied_output_layer_counts_as_non_embedding():
    model = nn.Sequential(nn.Embedding(10, 4), nn.Linear(4, 10, bias=False))
    assert non_embedding_params(model) == 40


def test_eq_2_1_estimate_is_twelve_layers_d_squared_and_close_for_wide_models():
    assert kaplan_param_estimate(2, 16) == 12 * 2 * 16 ** 2
    assert gpt_non_embedding_count(12, 768) == pytest.approx(kaplan_param_estimate(12, 768), rel=2e-3)


def test_counting_rejects_bad_input():
    with pytest.raises(ValueError, match="nn.Module"):
        non_embedding_params("gpt")
    with pytest.raises(ValueError, match="d_model"):
        gpt_non_embedding_count(2, 0)


def test_power_law_fit_recovers_exact_constants():
    losses = [(5e6 / n) ** 0.2 for n in SIZES]
    fit = fit_power_law(SIZES, losses)
    assert fit.alpha == pytest.approx(0.2, rel=1e-9)
    assert fit.n_c == pytest.approx(5e6, rel=1e-6)
    assert fit.r2 == pytest.approx(1.0)
    assert fit.alpha_se == pytest.approx(0.0, abs=1e-9)


def test_slope_standard_error_matches_scipy_linregress():
    rng = np.random.default_rng(0)
    losses = np.array([(5e6 / n) ** 0.2 for n in SIZES]) * np.exp(rng.normal(0, 0.02, len(SIZES)))
    fit = fit_power_law(SIZES, losses)
    reference = linregress(np.log(SIZES), np.log(losses))
    assert fit.alpha == pytest.approx(-reference.slope, rel=1e-9)
    assert fit.alpha_se == pytest.approx(reference.stderr, rel=1e-9)
    assert fit.r2 == pytest.approx(reference.rvalue ** 2, rel=1e-9)


def test_power_law_fit_rejects_a_loss_that_does_not_fall():
    with pytest.raises(ValueError, match="does not fall"):
        fit_power_law(SIZES, [1.0 + 0.01 * i for i in range(len(SIZES))])


def test_power_law_fit_rejects_too_few_or_mismatched_points():
    with pytest.raises(ValueError, match="at least 3"):
        fit_power_law([1e3, 1e4], [2.0, 1.5])
    with pytest.raises(ValueError, match="same length"):
        fit_power_law([1e3, 1e4, 1e5], [2.0, 1.5])
    with pytest.raises(ValueError, match="> 0"):
        fit_power_law([1e3, 1e4, -1e5], [2.0, 1.5, 1.2])


def test_offset_fit_recovers_an_irreducible_loss():
    losses = [1.3 + (2e4 / n) ** 0.5 for n in SIZES]
    fit = fit_power_law_with_offset(SIZES, losses)
    assert fit.E == pytest.approx(1.3, abs=1e-4)
    assert fit.alpha == pytest.approx(0.5, rel=1e-3)
    assert fit.r2 == pytest.approx(1.0)


def test_offset_makes_a_pure_power_law_fit_underestimate_alpha():
    losses = [1.3 + (2e4 / n) ** 0.5 for n in SIZES]
    assert fit_power_law(SIZES, losses).alpha < fit_power_law_with_offset(SIZES, losses).alpha


def test_kaplan_loss_is_eq_1_1():
    assert kaplan_loss(KAPLAN_N_C) == pytest.approx(1.0)
    assert kaplan_loss(1e9) == pytest.approx((8.8e13 / 1e9) ** 0.076)
    assert kaplan_loss(2e9) / kaplan_loss(1e9) == pytest.approx(2 ** -KAPLAN_ALPHA_N)


def test_kaplan_n_opt_is_table_6_in_pf_days_of_c_min():
    assert kaplan_n_opt(PF_DAY, c_per_c_min=1.0) == pytest.approx(1.3e9)
    assert kaplan_d_opt(PF_DAY, c_per_c_min=1.0) == pytest.approx(2e10)


def test_kaplan_n_opt_at_the_critical_batch_matches_hoffmann_appendix_d4():
    assert kaplan_n_opt(1e21) == pytest.approx(4.68e9, rel=0.01)
    assert kaplan_n_opt(2 * PF_DAY) == pytest.approx(1.3e9)
    budgets = [1e18, 1e20, 1e22, 1e24]
    assert scaling_exponent(budgets, [kaplan_n_opt(c) for c in budgets])[0] == pytest.approx(0.73)


def test_kaplan_n_opt_rejects_non_positive_budgets():
    with pytest.raises(ValueError, match="flops"):
        kaplan_n_opt(0.0)


def test_eq_1_8_exponents_split_the_budget():
    exps = predicted_allocation_exponents()
    assert exps["N"] + exps["B"] + exps["S"] == pytest.approx(1.0)
    assert exps["alpha_C_min"] == pytest.approx(1 / (1 / 0.76 + 1 / 0.21 + 1 / 0.076))
    with pytest.raises(ValueError, match="alpha_b"):
        predicted_allocation_exponents(alpha_b=0.0)
