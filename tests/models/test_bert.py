import pytest
import sympy as sp
import torch
from llmnotes import setup
from llmnotes.methods.masked_lm import IGNORE, mask_tokens
from llmnotes.models.bert import (
    BERT,
    BertConfig,
    BertLM,
    bert_parameter_count,
    mean_pool,
)
from llmnotes.weights.minilm import load_minilm, minilm_path, sentence_embeddings

SENTENCES = [
    "A man is playing a guitar.",
    "Someone plays the guitar.",
    "The stock market fell sharply today.",
    "Café crème, 北京 and 3.14 unbelievable xqzvbt!",
    "Short.",
]


def tiny(**changes) -> BertConfig:
    return BertConfig(**(dict(vocab_size=20, d_model=16, n_layer=2, n_head=2, max_seq_len=16, dropout=0.0) | changes))


@pytest.fixture(scope="module")
def minilm():
    return load_minilm()


def test_parameter_formula_equals_the_built_model():
    assert BERT(tiny(d_ff=24)).n_params() == bert_parameter_count(2, 16, 20, max_seq_len=16, d_ff=24)


def test_parameter_formula_is_12_h_squared_per_layer_symbolically():
    L, H, V = sp.symbols("L H V", positive=True)
    per_layer = sp.diff(bert_parameter_count(L, H, V), L)
    assert sp.expand(per_layer - 12 * H ** 2 - 13 * H) == 0


def test_bert_base_and_large_counts_round_to_the_papers_110m_and_340m():
    assert round(bert_parameter_count(12, 768, 30522), -7) == 110_000_000
    assert round(bert_parameter_count(24, 1024, 30522), -7) == 340_000_000


def test_meta_device_model_has_the_formula_count_without_memory():
    with torch.device("meta"):
        model = BERT(BertConfig.large())
    assert model.n_params() == bert_parameter_count(24, 1024, 30522)


def test_config_rejects_hidden_not_divisible_by_heads():
    with pytest.raises(ValueError, match="divisible"):
        BertConfig(d_model=100, n_head=12)


def test_every_position_sees_later_tokens():
    setup(0)
    model = BERT(tiny()).eval()
    ids = torch.randint(0, 20, (1, 10))
    changed = ids.clone()
    changed[0, -1] = (changed[0, -1] + 1) % 20
    assert not torch.allclose(model(ids)[:, 0], model(changed)[:, 0])


def test_padding_does_not_change_the_real_tokens_states():
    setup(0)
    model = BERT(tiny()).eval()
    ids = torch.randint(1, 20, (1, 6))
    padded = torch.cat([ids, torch.zeros(1, 3, dtype=torch.long)], 1)
    mask = torch.tensor([[1] * 6 + [0] * 3])
    torch.testing.assert_close(model(padded, attention_mask=mask)[:, :6], model(ids))


def test_input_ids_must_be_two_dimensional():
    with pytest.raises(ValueError, match=r"input_ids must have shape \(batch, n\)"):
        BERT(tiny())(torch.zeros(5, dtype=torch.long))


def test_sequences_longer_than_max_seq_len_are_rejected():
    with pytest.raises(ValueError, match="max_seq_len"):
        BERT(tiny())(torch.zeros(1, 17, dtype=torch.long))


def test_masked_lm_logits_cover_the_vocabulary():
    assert BertLM(tiny())(torch.zeros(2, 5, dtype=torch.long)).shape == (2, 5, 20)


def test_mask_tokens_never_selects_special_tokens():
    ids = torch.randint(0, 10, (200, 50))
    corrupted, labels = mask_tokens(ids, mask_id=11, vocab_size=12, generator=torch.Generator().manual_seed(0),
                                    special_ids=(0, 1), select=0.9)
    special = (ids == 0) | (ids == 1)
    assert (labels[special] == IGNORE).all() and torch.equal(corrupted[special], ids[special])


def test_mask_tokens_labels_are_the_originals_at_selected_positions():
    ids = torch.randint(0, 10, (100, 50))
    corrupted, labels = mask_tokens(ids, mask_id=11, vocab_size=12, generator=torch.Generator().manual_seed(0))
    selected = labels != IGNORE
    assert torch.equal(labels[selected], ids[selected]) and torch.equal(corrupted[~selected], ids[~selected])


def test_mask_tokens_rates_are_15_percent_then_80_10_10():
    ids = torch.randint(5, 30000, (1000, 128))
    corrupted, labels = mask_tokens(ids, mask_id=103, vocab_size=30522, generator=torch.Generator().manual_seed(0))
    selected = labels != IGNORE
    n = selected.sum().item()
    assert selected.float().mean().item() == pytest.approx(0.15, abs=0.005)       # SE 0.001
    assert (corrupted[selected] == 103).sum().item() / n == pytest.approx(0.8, abs=0.015)   # SE 0.003
    assert (corrupted[selected] == ids[selected]).sum().item() / n == pytest.approx(0.1, abs=0.01)  # SE 0.002


def test_mask_tokens_rejects_fractions_above_one():
    with pytest.raises(ValueError, match="to_mask \\+ to_random must be <= 1"):
        mask_tokens(torch.zeros(2, 2, dtype=torch.long), 1, 5, torch.Generator(), to_mask=0.8, to_random=0.3)


def test_mean_pool_ignores_padding():
    hidden = torch.tensor([[[1.0, 1.0], [3.0, 3.0], [100.0, 100.0]]])
    assert mean_pool(hidden, torch.tensor([[1, 1, 0]])).tolist() == [[2.0, 2.0]]


def test_minilm_loads_with_its_six_layers_of_width_384(minilm):
    model, tokenizer = minilm
    assert (model.cfg.n_layer, model.cfg.d_model, model.cfg.n_head, len(tokenizer)) == (6, 384, 12, 30522)


def test_minilm_hidden_states_equal_hugging_face_bert(minilm):
    from transformers import AutoModel

    model, tokenizer = minilm
    reference = AutoModel.from_pretrained(minilm_path()).eval()
    batch = tokenizer.batch(SENTENCES)
    with torch.no_grad():
        expected = reference(**batch)
        ours = model(batch["input_ids"], batch["token_type_ids"], batch["attention_mask"])
    real = batch["attention_mask"].bool()
    torch.testing.assert_close(ours[real], expected.last_hidden_state[real], atol=1e-5, rtol=0)
    torch.testing.assert_close(model.pool(ours), expected.pooler_output, atol=1e-5, rtol=0)


def test_minilm_sentence_embeddings_equal_sentence_transformers(minilm):
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(str(minilm_path()), device="cpu")
    expected = torch.from_numpy(reference.encode(SENTENCES))
    ours = sentence_embeddings(*minilm, SENTENCES)
    assert (ours - expected).abs().max().item() < 1e-5


def test_init_std_sets_the_spread_of_the_initial_weights():
    setup(0)
    weight = BERT(tiny(d_model=64, init_std=0.125)).blocks[0].ffn.up_proj.weight
    assert weight.std().item() == pytest.approx(0.125, rel=0.05)
