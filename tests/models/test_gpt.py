import math

import pytest
import torch
from llmnotes import setup
from llmnotes.models.gpt import (
    GPT,
    GPTConfig,
    ScalarHeadGPT,
    gpt_non_embedding_count,
    gpt_parameter_count,
)


def tiny(**changes) -> GPTConfig:
    return GPTConfig(**(dict(vocab_size=11, max_seq_len=16, n_layer=2, n_head=2, d_model=16) | changes))


def test_non_embedding_parameters_are_about_12_layers_d_squared():
    model = GPT(tiny(d_model=64, n_layer=3))
    non_embedding = model.n_params() - model.tok_emb.weight.numel() - model.pos_emb.weight.numel()
    assert non_embedding == gpt_non_embedding_count(3, 64) == pytest.approx(12 * 3 * 64 ** 2, rel=0.03)


def test_loss_at_initialisation_is_near_log_vocab():
    setup(0)
    _, loss = GPT(tiny())(torch.randint(0, 11, (4, 16)), torch.randint(0, 11, (4, 16)))
    assert loss.item() == pytest.approx(math.log(11), rel=0.05)


def test_output_head_is_tied_to_the_token_embedding():
    model = GPT(tiny())
    assert model.head.weight is model.tok_emb.weight


def test_config_defaults_the_mlp_to_four_times_the_width():
    assert tiny(d_model=24, n_head=2).d_ff == 96


@pytest.mark.parametrize("changes, message", [
    (dict(n_head=3), r"d_model \(16\) must be divisible by GPTConfig.n_head \(3\)"),
    (dict(n_layer=0), "GPTConfig.n_layer must be a positive int"),
    (dict(dropout=1.5), "GPTConfig.dropout must be <= 1"),
    (dict(activation="tanh"), "GPTConfig.activation must be one of"),
])
def test_config_rejects_bad_values_naming_the_field(changes, message):
    with pytest.raises(ValueError, match=message):
        tiny(**changes)


@pytest.mark.parametrize("idx, message", [
    (torch.zeros(1, 17, dtype=torch.long), "sequence length 17 exceeds max_seq_len 16"),
    (torch.full((1, 3), 11), r"idx must be in \[0, 11\)"),
    (torch.zeros(5, dtype=torch.long), r"idx must have shape \(batch, n\)"),
    (torch.zeros(1, 3), "integer token ids"),
])
def test_forward_rejects_bad_token_ids(idx, message):
    with pytest.raises(ValueError, match=message):
        GPT(tiny())(idx)


@pytest.mark.parametrize("n_layer, d_model, n_head, vocab_size, max_seq_len",
                         [(1, 8, 2, 11, 16), (3, 48, 4, 65, 64), (12, 768, 12, 50257, 2048)])
def test_parameter_count_formula_equals_the_built_model(n_layer, d_model, n_head, vocab_size, max_seq_len):
    with torch.device("meta"):
        model = GPT(GPTConfig(vocab_size=vocab_size, max_seq_len=max_seq_len, n_layer=n_layer, n_head=n_head,
                              d_model=d_model))
    assert gpt_parameter_count(n_layer, d_model, vocab_size, max_seq_len) == model.n_params()


def test_parameter_count_formula_rejects_non_positive_sizes():
    with pytest.raises(ValueError, match="d_model must be a positive int"):
        gpt_parameter_count(2, 0, 100, 16)


def test_hidden_states_through_the_head_are_the_logits():
    model = GPT(tiny())
    idx = torch.randint(model.cfg.vocab_size, (3, 10))
    torch.testing.assert_close(model.head(model.hidden(idx)), model(idx))


def test_post_norm_gpt_has_no_final_layer_norm():
    model = GPT(tiny(pre_norm=False, activation="relu", d_ff=48))
    assert isinstance(model.norm, torch.nn.Identity)
    smaller_mlp = 2 * (2 * 16 * (64 - 48) + (64 - 48))          # 2 layers, d_ff 48 instead of 64
    assert model.n_params() == gpt_parameter_count(2, 16, 11, 16) - 2 * 16 - smaller_mlp


def test_scalar_head_starts_at_zero_and_reads_the_last_response_token():
    model = ScalarHeadGPT(tiny())
    idx = torch.randint(11, (3, 8))
    assert torch.equal(model(idx), torch.zeros(3, 8))
    model.value_head.bias.data.fill_(1.0)
    model.value_head.weight.data.normal_()
    last = torch.tensor([2, 7, 0])
    torch.testing.assert_close(model.score(idx, last), model(idx)[torch.arange(3), last])


def test_score_rejects_a_last_index_per_row_of_the_wrong_shape():
    with pytest.raises(ValueError, match=r"last must have shape \(3,\)"):
        ScalarHeadGPT(tiny()).score(torch.zeros(3, 4, dtype=torch.long), torch.zeros(2, dtype=torch.long))


def test_prefix_positions_see_later_prefix_tokens_but_not_the_targets():
    setup(0)
    model = GPT(tiny()).eval()
    ids = torch.randint(0, 11, (1, 8))
    later_prefix, target = ids.clone(), ids.clone()
    later_prefix[0, 3] = (ids[0, 3] + 1) % 11           # inside the prefix of 4
    target[0, 4:] = (ids[0, 4:] + 1) % 11               # the targets
    with torch.no_grad():
        base = model(ids, prefix=4)
        assert not torch.allclose(base[:, 0], model(later_prefix, prefix=4)[:, 0])
        torch.testing.assert_close(base[:, :4], model(target, prefix=4)[:, :4], rtol=0, atol=0)


def test_prefix_of_zero_is_the_causal_model():
    setup(0)
    model = GPT(tiny()).eval()
    ids = torch.randint(0, 11, (2, 8))
    with torch.no_grad():
        torch.testing.assert_close(model(ids, prefix=0), model(ids))


def test_prefix_lm_with_a_cache_equals_the_full_pass():
    setup(0)
    model = GPT(tiny()).eval()
    ids = torch.randint(0, 11, (2, 9))
    prefix = torch.tensor([3, 5])
    cache = model.new_cache()
    with torch.no_grad():
        full = model(ids, prefix=prefix)
        first = model(ids[:, :6], cache=cache, prefix=prefix)
        rest = [model(ids[:, t:t + 1], cache=cache, prefix=prefix) for t in range(6, 9)]
    torch.testing.assert_close(torch.cat([first, *rest], dim=1), full, atol=1e-5, rtol=1e-5)
