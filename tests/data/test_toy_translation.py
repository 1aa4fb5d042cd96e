import pytest
import torch
from llmnotes.data.toy_translation import (
    BOS,
    EOS,
    PAD,
    detokenize,
    exact_match,
    make_splits,
    source_vocab,
    target_vocab,
    translate,
)


def test_translation_reverses_and_expands_compounds():
    assert translate(["s0", "s19", "s3"]) == ["t3", "a4", "b4", "t0"]


def test_translate_rejects_unknown_word():
    with pytest.raises(ValueError, match="not a source word: 'x1'"):
        translate(["x1"])


def test_test_split_holds_no_training_sentence():
    train, test = make_splits(500, 200, seed=1)
    train_rows = {tuple(r) for r in train.src.tolist()}
    assert not any(tuple(r) in train_rows for r in test.src.tolist())


def test_targets_decode_to_the_reference_translation():
    train, _ = make_splits(20, 5, seed=2)
    src_words = detokenize(train.src[0], source_vocab()).split()
    assert train.tgt[0, 0] == BOS
    assert detokenize(train.tgt[0, 1:], target_vocab()).split() == translate(src_words)


def test_exact_match_ignores_tokens_after_padding_width():
    ref = torch.tensor([[5, 6, EOS, PAD], [5, 7, EOS, PAD]])
    pred = torch.tensor([[5, 6, EOS], [5, 6, EOS]])
    assert exact_match(pred, ref) == 0.5


def test_exact_match_rejects_batch_mismatch():
    with pytest.raises(ValueError, match="same batch"):
        exact_match(torch.zeros(2, 3), torch.zeros(3, 3))
