"""FFN memories (Geva et al., 2021): recording, ablating and reading neurons of a tiny random Llama."""
import copy

import pytest
import torch
import torch.nn.functional as F

from llmnotes.analysis.ffn_memories import (FFNRecorder, ablate_ffn_neurons, embedding_moments, ffn_width,
                                            neuron_attribution, record_ffn_activations, scale_ffn_neurons,
                                            top_value_tokens, value_logits, value_token_zscores, value_vectors)
from llmnotes.models.gpt import GPT, GPTConfig
from llmnotes.models.llama import Llama, LlamaConfig

CFG = LlamaConfig(vocab_size=50, max_seq_len=16, n_layer=3, n_head=2, n_kv_head=1, d_model=16, d_ff=24,
                  tie_embeddings=True)


@pytest.fixture
def model():
    torch.manual_seed(0)
    m = Llama(CFG).eval()
    with torch.no_grad():
        for norm in [m.norm] + [b.ffn_norm for b in m.blocks]:
            norm.weight.uniform_(0.5, 1.5)          # non-trivial gains, so the tests see them
    return m


@pytest.fixture
def ids():
    return torch.randint(0, CFG.vocab_size, (2, 7), generator=torch.Generator().manual_seed(1))


def logits(model, ids):
    with torch.no_grad():
        return model(ids)


def test_recorded_activations_equal_silu_gate_times_up(model, ids):
    inputs = {}
    handle = model.blocks[1].ffn.register_forward_hook(lambda mod, args, out: inputs.setdefault("x", args[0]))
    with torch.no_grad(), FFNRecorder(model, [1]) as rec:
        model(ids)
    handle.remove()
    ffn, x = model.blocks[1].ffn, inputs["x"]
    manual = F.silu(ffn.gate_proj(x)) * ffn.up_proj(x)
    assert rec.activations[1].shape == (2, 7, CFG.d_ff)
    torch.testing.assert_close(rec.activations[1], manual)


def test_record_ffn_activations_matches_the_recorder_and_leaves_the_model_unchanged(model, ids):
    before = logits(model, ids)
    acts = record_ffn_activations(model, ids, layers=[0, 2])
    with torch.no_grad(), FFNRecorder(model) as rec:
        model(ids)
    assert set(acts) == {0, 2}
    torch.testing.assert_close(acts[0], rec.activations[0])
    torch.testing.assert_close(acts[2], rec.activations[2])
    torch.testing.assert_close(logits(model, ids), before, rtol=0, atol=0)


def test_reduce_is_applied_before_storing(model, ids):
    acts = record_ffn_activations(model, ids, layers=[1], reduce=lambda m: m.amax(dim=(0, 1)))
    full = record_ffn_activations(model, ids, layers=[1])
    torch.testing.assert_close(acts[1], full[1].amax(dim=(0, 1)))


def test_ablating_no_neurons_changes_nothing(model, ids):
    before = logits(model, ids)
    with ablate_ffn_neurons(model, {0: [], 2: []}):
        torch.testing.assert_close(logits(model, ids), before, rtol=0, atol=0)


def test_ablating_every_neuron_of_a_layer_equals_removing_its_ffn(model, ids):
    without = copy.deepcopy(model)
    without.blocks[1].ffn.forward = lambda x: torch.zeros_like(x)
    with ablate_ffn_neurons(model, {1: range(CFG.d_ff)}):
        torch.testing.assert_close(logits(model, ids), logits(without, ids))


def test_hooks_are_removed_after_the_block(model, ids):
    before = logits(model, ids)
    with ablate_ffn_neurons(model, {0: [1, 2, 3]}):
        assert not torch.equal(logits(model, ids), before)
    torch.testing.assert_close(logits(model, ids), before, rtol=0, atol=0)
    assert all(not b.ffn.down_proj._forward_pre_hooks for b in model.blocks)


def test_scaling_by_two_equals_doubling_the_value_vectors(model, ids):
    doubled = copy.deepcopy(model)
    with torch.no_grad():
        doubled.blocks[2].ffn.down_proj.weight[:, [4, 9]] *= 2
    with scale_ffn_neurons(model, {2: [4, 9]}, factor=2.0):
        torch.testing.assert_close(logits(model, ids), logits(doubled, ids))


def test_ablation_at_the_last_position_leaves_earlier_positions_alone(model, ids):
    before = logits(model, ids)
    with ablate_ffn_neurons(model, {0: range(CFG.d_ff)}, positions=-1):
        after = logits(model, ids)
    torch.testing.assert_close(after[:, :-1], before[:, :-1], rtol=0, atol=0)
    assert not torch.allclose(after[:, -1], before[:, -1])


def test_value_vectors_are_the_columns_of_w_down(model):
    torch.testing.assert_close(value_vectors(model, 1), model.blocks[1].ffn.down_proj.weight.T)
    assert value_vectors(model, 1).shape == (CFG.d_ff, CFG.d_model)


def test_value_logits_project_through_the_final_norm_gain_and_the_head(model):
    v = value_vectors(model, 2)[[3, 5]]
    torch.testing.assert_close(value_logits(model, 2, [3, 5]), model.head(v * model.norm.weight).detach())
    torch.testing.assert_close(value_logits(model, 2, [3, 5], norm_gain=False), model.head(v).detach())
    top = top_value_tokens(model, 2, k=4)
    assert top.shape == (CFG.d_ff, 4)
    assert torch.equal(top[:, 0], value_logits(model, 2).argmax(-1))


def test_value_zscores_equal_standardised_value_logits(model):
    logits = value_logits(model, 1)
    expected = (logits - logits.mean(-1, keepdim=True)) / logits.std(-1, unbiased=False, keepdim=True)
    torch.testing.assert_close(value_token_zscores(model, 1, [0, 7, 49]), expected[:, [0, 7, 49]])
    torch.testing.assert_close(value_token_zscores(model, 1, [7], moments=embedding_moments(model)), expected[:, [7]])


def test_value_zscores_reject_tokens_outside_the_vocabulary(model):
    with pytest.raises(ValueError, match=r"tokens must be in \[0, 50\)"):
        value_token_zscores(model, 0, [50])


def test_attribution_is_the_first_order_effect_of_scaling_a_neuron(model):
    prompt = torch.tensor([[3, 14, 15, 9, 2]])
    target, layer, eps = 7, 1, 0.05
    attr = neuron_attribution(model, prompt, target)
    neuron = attr[layer].abs().argmax().item()                         # large enough to beat float32 noise

    def logp(factor):
        with torch.no_grad(), scale_ffn_neurons(model, {layer: [neuron]}, factor, positions=-1):
            return torch.log_softmax(model(prompt)[0, -1].double(), -1)[target].item()

    finite_difference = (logp(1 + eps) - logp(1 - eps)) / (2 * eps)     # d log p / d factor = m · ∂log p/∂m
    assert set(attr) == set(range(CFG.n_layer)) and attr[layer].shape == (CFG.d_ff,)
    assert attr[layer][neuron].item() == pytest.approx(finite_difference, rel=2e-2)


def test_attribution_leaves_no_gradients_and_keeps_parameters_trainable(model):
    neuron_attribution(model, torch.tensor([[1, 2, 3]]), target=4)
    assert all(p.grad is None and p.requires_grad for p in model.parameters())


def test_works_on_the_gpt_model_too():
    torch.manual_seed(0)
    gpt = GPT(GPTConfig(vocab_size=30, max_seq_len=8, n_layer=2, n_head=2, d_model=8)).eval()
    acts = record_ffn_activations(gpt, torch.tensor([[1, 2, 3]]), layers=[1])
    assert acts[1].shape == (1, 3, ffn_width(gpt))
    assert neuron_attribution(gpt, torch.tensor([[1, 2, 3]]), target=4)[0].shape == (ffn_width(gpt),)


@pytest.mark.parametrize("layer", [-1, 3, 1.0, True])
def test_bad_layer_index_raises(model, layer):
    with pytest.raises(ValueError, match=r"layer must be an int in \[0, 3\)"):
        FFNRecorder(model, [layer])


def test_repeated_layers_raise(model):
    with pytest.raises(ValueError, match="must not repeat"):
        FFNRecorder(model, [1, 1])


@pytest.mark.parametrize("neurons", [[24], [-1]])
def test_bad_neuron_index_raises(model, neurons):
    with pytest.raises(ValueError, match=r"neuron indices of layer 0 must be in \[0, 24\)"):
        with ablate_ffn_neurons(model, {0: neurons}):
            pass


def test_neurons_must_be_a_mapping(model):
    with pytest.raises(ValueError, match="mapping"):
        with ablate_ffn_neurons(model, [1, 2]):
            pass


def test_non_finite_factor_raises(model):
    with pytest.raises(ValueError, match="factor must be finite"):
        with scale_ffn_neurons(model, {0: [1]}, factor=float("nan")):
            pass


def test_attribution_takes_one_prompt(model, ids):
    with pytest.raises(ValueError, match="one prompt"):
        neuron_attribution(model, ids, target=1)


def test_attribution_rejects_bad_target_and_position(model):
    with pytest.raises(ValueError, match="target must be in"):
        neuron_attribution(model, torch.tensor([[1, 2]]), target=50)
    with pytest.raises(ValueError, match="position must be an int"):
        neuron_attribution(model, torch.tensor([[1, 2]]), target=1, position=2)


def test_model_without_ffn_blocks_raises():
    with pytest.raises(ValueError, match="blocks whose .ffn has a .down_proj"):
        FFNRecorder(torch.nn.Linear(2, 2))
