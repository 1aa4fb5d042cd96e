import pytest
import torch
from llmnotes import setup
from llmnotes.methods.lora import (
    LoRALinear,
    apply_lora,
    energy_in_top_k,
    lora_parameters,
    subspace_similarity,
    trainable_parameters,
)
from llmnotes.models.gpt import GPT, GPTConfig
from llmnotes.models.llama import Llama, LlamaConfig
from torch import nn


def test_rank_8_on_4096_square_has_65536_parameters():
    assert lora_parameters(4096, 4096, 8) == 65_536
    assert 4096 * 4096 // lora_parameters(4096, 4096, 8) == 256


def test_adapter_starts_as_the_pretrained_layer():
    setup(0)
    base = nn.Linear(8, 6)
    x = torch.randn(3, 8)
    expected = base(x)
    torch.testing.assert_close(LoRALinear(base, r=2)(x), expected)


def test_merged_weights_give_the_same_output():
    setup(0)
    layer = LoRALinear(nn.Linear(16, 12), r=4, alpha=8)
    with torch.no_grad():
        layer.lora_b.normal_()
    x = torch.randn(5, 16)
    before = layer(x)
    layer.merge()
    torch.testing.assert_close(layer(x), before, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(layer.base(x), before, atol=1e-5, rtol=1e-5)


def test_unmerge_restores_the_pretrained_weight():
    setup(0)
    base = nn.Linear(6, 6)
    original = base.weight.detach().clone()
    layer = LoRALinear(base, r=2)
    with torch.no_grad():
        layer.lora_b.normal_()
    layer.merge()
    layer.unmerge()
    torch.testing.assert_close(base.weight, original)


def test_only_the_adapters_train():
    setup(0)
    model = GPT(GPTConfig(vocab_size=10, max_seq_len=8, n_layer=2, n_head=2, d_model=16))
    wrapped = apply_lora(model, ("q_proj", "v_proj"), r=2)
    assert wrapped == ["blocks.0.attn.q_proj", "blocks.0.attn.v_proj", "blocks.1.attn.q_proj", "blocks.1.attn.v_proj"]
    assert trainable_parameters(model) == 4 * lora_parameters(16, 16, 2)


def test_scaling_is_alpha_over_r():
    assert LoRALinear(nn.Linear(4, 4), r=2, alpha=16).scaling == 8


def test_rank_larger_than_the_weight_is_rejected():
    with pytest.raises(ValueError, match=r"rank r=5 exceeds min\(d_in, d_out\)=4"):
        LoRALinear(nn.Linear(4, 4), r=5)


def test_typo_in_targets_is_reported():
    with pytest.raises(ValueError, match=r"no nn.Linear named any of \('wq',\)"):
        apply_lora(GPT(GPTConfig(vocab_size=10, max_seq_len=8, n_layer=1, n_head=2, d_model=8)), ("wq",), r=1)


def test_double_merge_is_rejected():
    layer = LoRALinear(nn.Linear(4, 4), r=1)
    layer.merge()
    with pytest.raises(ValueError, match="already merged"):
        layer.merge()


def test_rank_one_update_has_all_its_energy_in_the_top_singular_value():
    setup(0)
    delta = torch.randn(8, 1) @ torch.randn(1, 6)
    assert abs(energy_in_top_k(delta, 1) - 1.0) < 1e-9


def test_identity_spreads_its_energy_evenly():
    assert abs(energy_in_top_k(torch.eye(4), 1) - 0.25) < 1e-9


def test_energy_rejects_k_beyond_the_rank_bound():
    with pytest.raises(ValueError, match=r"k must be in \[1, 4\], got 5"):
        energy_in_top_k(torch.eye(4), 5)


def test_subspace_similarity_is_one_for_nested_subspaces():
    setup(0)
    a8 = torch.randn(8, 32)
    assert abs(subspace_similarity(a8[:2], a8, 2, 8) - 1.0) < 1e-9


def test_subspace_similarity_is_zero_for_orthogonal_subspaces():
    a1, a2 = torch.eye(6)[:2], torch.eye(6)[2:5]
    assert subspace_similarity(a1, a2, 2, 3) < 1e-12


def test_subspace_similarity_rejects_mismatched_widths():
    with pytest.raises(ValueError, match="same d_in"):
        subspace_similarity(torch.randn(2, 5), torch.randn(2, 6), 1, 1)


def test_unmerged_adapter_costs_extra_flops_and_merged_costs_none():
    from llmnotes.analysis.costs import count_flops

    setup(0)
    n, d, r = 10, 16, 2
    base_flops = count_flops(nn.Linear(d, d), n, d)
    layer = LoRALinear(nn.Linear(d, d), r=r)
    assert count_flops(layer, n, d) == base_flops + 2 * n * (d * r + r * d)
    layer.merge()
    assert count_flops(layer, n, d) == base_flops


def test_the_same_target_names_adapt_gpt_and_llama():
    for model in (GPT(GPTConfig(vocab_size=10, max_seq_len=8, n_layer=1, n_head=2, d_model=16)),
                  Llama(LlamaConfig(vocab_size=10, max_seq_len=8, n_layer=1, n_head=2, d_model=16, d_ff=32))):
        assert apply_lora(model, ("q_proj", "v_proj"), r=2) == ["blocks.0.attn.q_proj", "blocks.0.attn.v_proj"]
