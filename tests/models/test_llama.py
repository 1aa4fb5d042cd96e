import math

import pytest
import torch
import torch.nn.functional as F
from llmnotes import setup
from llmnotes.decoding import generate
from llmnotes.models.llama import Llama, LlamaConfig, llama_parameter_count
from llmnotes.nn.feedforward import ffn_hidden_size


def tiny(**changes) -> LlamaConfig:
    return LlamaConfig(**(dict(vocab_size=13, d_model=32, n_layer=2, n_head=4, n_kv_head=2, d_ff=48,
                               max_seq_len=32) | changes))


def test_config_defaults_to_multi_head_attention_and_the_papers_ffn_width():
    cfg = LlamaConfig(vocab_size=100, d_model=512, n_layer=1, n_head=8)
    assert cfg.n_kv_head == 8 and cfg.d_ff == ffn_hidden_size(512) == 1536 and cfg.d_head == 64


@pytest.mark.parametrize("changes, word", [
    (dict(n_kv_head=3), "n_kv_head"), (dict(d_model=30), "divisible"), (dict(vocab_size=0), "vocab_size"),
    (dict(d_model=12, n_head=4, n_kv_head=4), "even"), (dict(norm_eps=0.0), "norm_eps"),
    (dict(rope_theta=-1.0), "rope_theta"), (dict(d_ff=0), "d_ff"),
])
def test_invalid_config_raises_a_value_error_naming_the_key(changes, word):
    with pytest.raises(ValueError, match=word):
        tiny(**changes)


@pytest.mark.parametrize("changes", [dict(), dict(n_kv_head=1), dict(n_kv_head=4, tie_embeddings=True)])
def test_parameter_formula_equals_the_model(changes):
    cfg = tiny(**changes)
    formula = llama_parameter_count(cfg.n_layer, cfg.d_model, cfg.vocab_size, cfg.n_head, cfg.n_kv_head,
                                    cfg.d_ff, cfg.tie_embeddings)
    assert formula == Llama(cfg).n_params()


@pytest.mark.parametrize("d, heads, layers, billions", [
    (4096, 32, 32, 6.7), (5120, 40, 40, 13.0), (6656, 52, 60, 32.5), (8192, 64, 80, 65.2)])
def test_table_2_sizes_follow_from_the_dimensions(d, heads, layers, billions):
    assert llama_parameter_count(layers, d, 32000, heads) / 1e9 == pytest.approx(billions, rel=0.01)


def test_forward_returns_batch_time_vocab_logits():
    assert Llama(tiny())(torch.zeros(3, 5, dtype=torch.long)).shape == (3, 5, 13)


def test_tied_embeddings_share_one_matrix():
    model = Llama(tiny(tie_embeddings=True))
    assert model.head.weight is model.tok_emb.weight


@pytest.mark.parametrize("ids, word", [
    (torch.zeros(5, dtype=torch.long), "shape"), (torch.zeros(1, 5), "integer"),
    (torch.full((1, 3), 13), r"\[0, 13\)"), (torch.zeros(1, 33, dtype=torch.long), "max_seq_len")])
def test_bad_input_ids_raise_value_errors(ids, word):
    with pytest.raises(ValueError, match=word):
        Llama(tiny())(ids)


def test_cached_greedy_generation_equals_recomputing_the_whole_prefix():
    setup(0)
    model = Llama(tiny()).eval()
    ids = torch.randint(0, 13, (2, 4))
    slow = ids
    with torch.no_grad():
        for _ in range(8):
            slow = torch.cat([slow, model(slow)[:, -1].argmax(-1, keepdim=True)], dim=1)
    assert torch.equal(generate(model, ids, 8), slow)


def test_loss_at_initialisation_is_near_log_vocab():
    setup(0)
    model = Llama(tiny())
    loss = F.cross_entropy(model(torch.randint(0, 13, (4, 16))).flatten(0, 1), torch.randint(0, 13, (64,)))
    assert loss.item() == pytest.approx(math.log(13), rel=0.05)
