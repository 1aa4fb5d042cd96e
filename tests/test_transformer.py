import pytest
import torch

from llmnotes import setup
from llmnotes.transformer import (Transformer, TransformerConfig, greedy_decode,
                                  position_shift_matrix, sinusoidal_positions)


def small_config(**changes) -> TransformerConfig:
    base = dict(src_vocab=11, tgt_vocab=13, d_model=16, n_heads=2, d_ff=32,
                n_encoder_layers=1, n_decoder_layers=1, dropout=0.0, max_len=20)
    return TransformerConfig(**(base | changes))


def test_sinusoidal_positions_follow_the_paper_formula():
    pe = sinusoidal_positions(50, 8)
    pos, i = 17, 3
    angle = torch.tensor(pos / 10000 ** (2 * i / 8))
    torch.testing.assert_close(pe[pos, 2 * i], torch.sin(angle))
    torch.testing.assert_close(pe[pos, 2 * i + 1], torch.cos(angle))


@pytest.mark.parametrize("offset", [1, 5, 40])
def test_shift_matrix_maps_every_position_to_position_plus_offset(offset):
    pe = sinusoidal_positions(100, 16).double()
    shifted = pe[:100 - offset] @ position_shift_matrix(offset, 16).T
    torch.testing.assert_close(shifted, pe[offset:], atol=1e-6, rtol=0)


def test_base_config_rejects_heads_that_do_not_divide_d_model():
    with pytest.raises(ValueError, match=r"d_model \(16\) must be divisible by n_heads \(3\)"):
        small_config(n_heads=3)


def test_config_rejects_shared_embeddings_with_different_vocabularies():
    with pytest.raises(ValueError, match="share_embeddings needs src_vocab == tgt_vocab"):
        small_config(share_embeddings=True)


def test_output_projection_is_tied_to_target_embedding():
    model = Transformer(small_config())
    assert model.out.weight is model.tgt_embed.weight


def test_forward_gives_logits_per_target_position():
    setup(0)
    model = Transformer(small_config())
    logits = model(torch.randint(1, 11, (3, 7)), torch.randint(1, 13, (3, 5)))
    assert logits.shape == (3, 5, 13)


def test_decoder_is_causal():
    setup(0)
    model = Transformer(small_config()).eval()
    src = torch.randint(3, 11, (1, 6))
    tgt = torch.randint(3, 13, (1, 5))
    changed = tgt.clone()
    changed[0, 4] = 3 if tgt[0, 4] != 3 else 4
    torch.testing.assert_close(model(src, tgt)[:, :4], model(src, changed)[:, :4])


def test_source_padding_does_not_change_the_output():
    setup(0)
    model = Transformer(small_config()).eval()
    src = torch.randint(3, 11, (1, 6))
    padded = torch.cat([src, torch.zeros(1, 3, dtype=torch.long)], dim=1)
    tgt = torch.randint(3, 13, (1, 4))
    torch.testing.assert_close(model(src, tgt), model(padded, tgt), atol=1e-5, rtol=1e-5)


def test_embed_rejects_sequences_longer_than_max_len():
    model = Transformer(small_config(max_len=4))
    with pytest.raises(ValueError, match="sequence length 5 exceeds max_len 4"):
        model(torch.ones(1, 5, dtype=torch.long), torch.ones(1, 2, dtype=torch.long))


def test_greedy_decode_pads_after_eos():
    setup(0)
    model = Transformer(small_config())
    out = greedy_decode(model, torch.randint(3, 11, (4, 5)), bos=1, eos=2, max_len=8)
    assert out.shape[0] == 4 and out.shape[1] <= 8
    for row in out.tolist():
        if 2 in row:
            assert all(t == 0 for t in row[row.index(2) + 1:])
