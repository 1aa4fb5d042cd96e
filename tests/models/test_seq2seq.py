import pytest
import torch
from llmnotes.data.alignment_task import VOCAB_SIZE, make_batch
from llmnotes.models.seq2seq import RNNEncDec, RNNSearch, Seq2SeqConfig

CFG = Seq2SeqConfig(VOCAB_SIZE, d_model=8, d_embed=6, d_attn=5)
BATCH = make_batch(4, 2, 6, torch.Generator().manual_seed(0))


@pytest.mark.parametrize("model_class", [RNNEncDec, RNNSearch])
def test_logits_cover_every_target_position(model_class):
    torch.manual_seed(0)
    logits = model_class(CFG)(BATCH.src, BATCH.src_len, BATCH.tgt_in)
    assert logits.shape == (*BATCH.tgt_in.shape, VOCAB_SIZE)


@pytest.mark.parametrize("score", ["additive", "dot"])
def test_rnnsearch_weights_are_distributions_over_the_real_source_tokens(score):
    torch.manual_seed(0)
    cfg = Seq2SeqConfig(VOCAB_SIZE, d_model=8, d_embed=6, d_attn=5, score=score)
    _, alpha = RNNSearch(cfg)(BATCH.src, BATCH.src_len, BATCH.tgt_in, return_weights=True)
    assert alpha.shape == (4, BATCH.tgt_in.shape[1], BATCH.src.shape[1])
    assert torch.allclose(alpha.sum(-1), torch.ones(alpha.shape[:2]))
    padding = torch.arange(BATCH.src.shape[1])[None] >= BATCH.src_len[:, None]      # (B, S)
    assert (alpha.masked_select(padding[:, None, :].expand_as(alpha)) == 0).all()


@pytest.mark.parametrize("model_class", [RNNEncDec, RNNSearch])
def test_padding_after_the_source_does_not_change_the_output(model_class):
    torch.manual_seed(0)
    model = model_class(CFG).eval()
    wider = torch.nn.functional.pad(BATCH.src, (0, 3))
    with torch.no_grad():
        narrow_logits = model(BATCH.src, BATCH.src_len, BATCH.tgt_in)
        wide_logits = model(wider, BATCH.src_len, BATCH.tgt_in)
    assert torch.allclose(narrow_logits, wide_logits, atol=1e-6)


@pytest.mark.parametrize("model_class", [RNNEncDec, RNNSearch])
def test_a_target_position_does_not_see_later_target_tokens(model_class):
    torch.manual_seed(0)
    model = model_class(CFG).eval()
    changed = BATCH.tgt_in.clone()
    changed[:, 3:] = 3
    with torch.no_grad():
        a = model(BATCH.src, BATCH.src_len, BATCH.tgt_in)
        b = model(BATCH.src, BATCH.src_len, changed)
    assert torch.allclose(a[:, :3], b[:, :3], atol=1e-6)


def test_the_encdec_summary_ignores_tokens_after_the_length():
    torch.manual_seed(0)
    model = RNNEncDec(CFG).eval()
    changed = BATCH.src.clone()
    changed[torch.arange(BATCH.src.shape[1])[None] >= BATCH.src_len[:, None]] = 5
    with torch.no_grad():
        assert torch.allclose(model.encode(BATCH.src, BATCH.src_len), model.encode(changed, BATCH.src_len))


def test_bad_config_and_inputs_are_rejected():
    with pytest.raises(ValueError, match="score"):
        Seq2SeqConfig(VOCAB_SIZE, score="cosine")
    with pytest.raises(ValueError, match="d_model"):
        Seq2SeqConfig(VOCAB_SIZE, d_model=0)
    model = RNNSearch(CFG)
    with pytest.raises(ValueError, match="src_len"):
        model(BATCH.src, BATCH.src_len + 10, BATCH.tgt_in)
    with pytest.raises(ValueError, match="tgt_in"):
        model(BATCH.src, BATCH.src_len, BATCH.tgt_in + VOCAB_SIZE)
    with pytest.raises(ValueError, match="batch size"):
        model(BATCH.src, BATCH.src_len, BATCH.tgt_in[:2])
