import pytest
import torch
from llmnotes import setup
from llmnotes.decoding import generate
from llmnotes.models.transformer import Transformer, TransformerConfig

BOS, EOS, PAD = 1, 2, 0


def small_config(**changes) -> TransformerConfig:
    base = dict(src_vocab=11, tgt_vocab=13, d_model=16, n_head=2, d_ff=32,
                n_encoder_layers=1, n_decoder_layers=1, dropout=0.0, max_seq_len=20)
    return TransformerConfig(**(base | changes))


def test_config_rejects_heads_that_do_not_divide_d_model():
    with pytest.raises(ValueError, match=r"d_model \(16\) must be divisible by TransformerConfig.n_head \(3\)"):
        small_config(n_head=3)


def test_config_rejects_shared_embeddings_with_different_vocabularies():
    with pytest.raises(ValueError, match="share_embeddings needs src_vocab == tgt_vocab"):
        small_config(share_embeddings=True)


def test_output_projection_is_tied_to_target_embedding():
    model = Transformer(small_config())
    assert model.out.weight is model.tgt_embed.weight


def test_forward_gives_logits_per_target_position():
    setup(0)
    logits = Transformer(small_config())(torch.randint(1, 11, (3, 7)), torch.randint(1, 13, (3, 5)))
    assert logits.shape == (3, 5, 13)


def test_source_padding_does_not_change_the_output():
    setup(0)
    model = Transformer(small_config()).eval()
    src, tgt = torch.randint(3, 11, (1, 6)), torch.randint(3, 13, (1, 4))
    padded = torch.cat([src, torch.zeros(1, 3, dtype=torch.long)], dim=1)
    torch.testing.assert_close(model(src, tgt), model(padded, tgt), atol=1e-5, rtol=1e-5)


def test_embed_rejects_sequences_longer_than_max_seq_len():
    model = Transformer(small_config(max_seq_len=4))
    with pytest.raises(ValueError, match="sequence length 5 exceeds max_seq_len 4"):
        model(torch.ones(1, 5, dtype=torch.long), torch.ones(1, 2, dtype=torch.long))


def test_cached_decoding_equals_decoding_the_whole_prefix():
    setup(0)
    model = Transformer(small_config()).eval()
    src = torch.randint(3, 11, (3, 6))
    start = torch.full((3, 1), BOS)
    slow = start
    with torch.no_grad():
        for _ in range(6):
            slow = torch.cat([slow, model(src, slow)[:, -1].argmax(-1, keepdim=True)], dim=1)
    assert torch.equal(generate(model.conditioned(src), start, 6), slow)


def test_greedy_decoding_pads_every_row_after_its_eos():
    setup(0)
    model = Transformer(small_config()).eval()
    src, start = torch.randint(3, 11, (4, 5)), torch.tensor([[BOS], [3], [4], [5]])   # rows decode differently
    free = generate(model.conditioned(src), start, 8)[:, 1:]                        # no EOS: 8 tokens each
    # an EOS that row 0 emits but some other row never does: row 0 stops early, decoding goes on
    eos = next(t for t in free[0].tolist() if any(t not in row for row in free[1:].tolist()))
    out = generate(model.conditioned(src), start, 8, eos_id=eos, pad_id=PAD)[:, 1:]
    stop = free[0].tolist().index(eos)
    assert out.shape == (4, 8) and stop < 7
    assert torch.equal(out[0, :stop + 1], free[0, :stop + 1]) and torch.all(out[0, stop + 1:] == PAD)
