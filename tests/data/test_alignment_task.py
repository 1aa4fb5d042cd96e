import pytest
import torch
from llmnotes.data.alignment_task import BOS, DICTIONARY, EOS, PAD, make_batch, true_alignment


def _batch(**kw):
    return make_batch(**{"batch_size": 32, "min_len": 3, "max_len": 9, "generator": torch.Generator().manual_seed(0), **kw})


def test_true_alignment_swaps_adjacent_words_and_keeps_an_odd_last_word():
    assert true_alignment(4).tolist() == [1, 0, 3, 2]
    assert true_alignment(5).tolist() == [1, 0, 3, 2, 4]
    assert true_alignment(1).tolist() == [0]


def test_each_target_word_is_the_dictionary_entry_of_its_aligned_source_word():
    batch = _batch()
    for b in range(len(batch)):
        n = int(batch.n_words[b])
        align = batch.alignment[b, :n]
        assert torch.equal(batch.tgt_out[b, :n], DICTIONARY[batch.src[b, align]])
        assert batch.tgt_out[b, n] == EOS and batch.alignment[b, n] == n and batch.src[b, n] == EOS


def test_decoder_input_is_the_target_shifted_right_after_bos():
    batch = _batch()
    assert (batch.tgt_in[:, 0] == BOS).all()
    for b in range(len(batch)):
        n = int(batch.n_words[b])
        assert torch.equal(batch.tgt_in[b, 1:n + 1], batch.tgt_out[b, :n])


def test_padding_is_marked_everywhere_after_eos():
    batch = _batch()
    positions = torch.arange(batch.src.shape[1])
    after = positions[None] >= batch.src_len[:, None]
    assert (batch.src[after] == PAD).all() and (batch.tgt_out[after] == PAD).all()
    assert (batch.alignment[after] == -1).all()


def test_lengths_stay_within_the_requested_range():
    batch = _batch(min_len=4, max_len=6)
    assert batch.n_words.min() >= 4 and batch.n_words.max() <= 6
    assert batch.src.shape == (32, 7)


def test_the_same_generator_seed_gives_the_same_batch():
    a, b = _batch(), _batch()
    assert torch.equal(a.src, b.src) and torch.equal(a.tgt_out, b.tgt_out)


def test_min_len_above_max_len_is_rejected():
    with pytest.raises(ValueError, match="min_len"):
        _batch(min_len=5, max_len=4)
