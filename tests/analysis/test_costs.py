import pytest
from llmnotes import setup
import torch
from llmnotes.analysis.costs import attention_mixing, count_flops, forward_flops, shortest_path_length, stack_flops
from llmnotes.models.gpt import GPT, GPTConfig
from llmnotes.models.transformer import Transformer, TransformerConfig
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


@pytest.mark.parametrize("n", [3, 16])
def test_decoder_only_forward_flops_are_the_stack_plus_the_output_layer(n):
    setup(0)
    model = GPT(GPTConfig(vocab_size=11, max_seq_len=32, n_layer=2, n_head=2, d_model=16, d_ff=40))
    assert forward_flops(model, torch.randint(0, 11, (1, n))) == stack_flops(2, 16, 40, n) + 2 * n * 16 * 11


@pytest.mark.parametrize("n_src, n_tgt", [(5, 5), (7, 3)])
def test_encoder_decoder_forward_flops_are_two_stacks_plus_the_output_layer(n_src, n_tgt):
    setup(0)
    model = Transformer(TransformerConfig(src_vocab=11, tgt_vocab=11, max_seq_len=32, n_encoder_layers=2,
                                          n_decoder_layers=3, n_head=2, d_model=16, d_ff=40, dropout=0.0))
    src, tgt = torch.randint(1, 11, (1, n_src)), torch.randint(1, 11, (1, n_tgt))
    expected = stack_flops(2, 16, 40, n_src) + stack_flops(3, 16, 40, n_tgt, n_context=n_src) + 2 * n_tgt * 16 * 11
    assert forward_flops(model, src, tgt) == expected


def test_forward_flops_counts_batches_and_sets_the_fused_kernel_back():
    setup(0)
    model = GPT(GPTConfig(vocab_size=11, max_seq_len=32, n_layer=1, n_head=2, d_model=16))
    one = forward_flops(model, torch.randint(0, 11, (1, 8)))
    assert forward_flops(model, torch.randint(0, 11, (3, 8))) == 3 * one
    assert all(m.fused for m in model.modules() if hasattr(m, "fused"))


def test_stack_flops_rejects_non_positive_sizes():
    with pytest.raises(ValueError, match="n_layer"):
        stack_flops(0, 16, 64, 8)
