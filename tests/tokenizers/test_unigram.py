import io
import math
from collections import Counter

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from llmnotes.data.shakespeare import play_text
from llmnotes.tokenizers.unigram import SPACE, Unigram

TOY = {"a": -2.0, "b": -2.5, "c": -3.0, "ab": -2.2, "bc": -2.4, "abc": -4.0, "ca": -3.5}


@pytest.fixture(scope="module")
def sentencepiece_model():
    import sentencepiece as spm

    lines = [line for line in play_text("tragedies/hamlet").splitlines() if line.strip()]
    buffer = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(lines), model_writer=buffer, model_type="unigram",
                                   vocab_size=600, character_coverage=1.0, normalization_rule_name="identity",
                                   num_threads=1, minloglevel=2)
    return spm.SentencePieceProcessor(model_proto=buffer.getvalue())


@pytest.fixture(scope="module")
def held_out_lines():
    return [" ".join(line.split()) for line in play_text("tragedies/macbeth").splitlines() if line.strip()][:400]


def test_viterbi_equals_sentencepiece_encode(sentencepiece_model, held_out_lines):
    ours = Unigram.from_sentencepiece(sentencepiece_model)
    covered = [line for line in held_out_lines if set(line.replace(" ", "")) <= set("".join(ours.log_probs))]
    assert len(covered) > 300
    assert [ours.encode(line) for line in covered] == sentencepiece_model.encode(covered, out_type=str)


def test_normalize_matches_sentencepiece_whitespace(sentencepiece_model):
    text = "  To be,  or not to be "
    assert "".join(sentencepiece_model.encode(text, out_type=str)) == Unigram.normalize(text) == "▁To▁be,▁or▁not▁to▁be"


def test_control_and_unknown_pieces_are_left_out(sentencepiece_model):
    ours = Unigram.from_sentencepiece(sentencepiece_model)
    assert "<unk>" not in ours.log_probs and "<s>" not in ours.log_probs
    assert len(ours) == sentencepiece_model.get_piece_size() - 3


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet="abc", min_size=1, max_size=9))
def test_viterbi_is_the_most_probable_segmentation(text):
    model = Unigram(TOY)
    best = max(score for _, score in model.segmentations(text))
    assert model.log_prob(model.viterbi(text)) == pytest.approx(best)


def test_viterbi_ties_go_to_the_earliest_start_of_the_last_piece():
    model = Unigram({"a": -1.0, "b": -1.0, "ab": -2.0})     # "a b" and "ab" both score -2
    assert model.viterbi("ab") == ["ab"]


@settings(max_examples=50, deadline=None)
@given(st.text(alphabet="abc", min_size=1, max_size=8), st.floats(0.05, 3.0))
def test_forward_normaliser_equals_the_sum_over_all_segmentations(text, alpha):
    model = Unigram(TOY)
    _, z = model.forward(text, alpha)
    total = math.log(sum(math.exp(alpha * s) for _, s in model.segmentations(text)))
    assert z[-1] == pytest.approx(total)


def test_distribution_sums_to_one():
    assert sum(Unigram(TOY).distribution("abcab", 0.5).values()) == pytest.approx(1.0)


def test_samples_follow_the_exact_distribution():
    model, n = Unigram(TOY), 20_000
    exact = model.distribution("abcabc", 0.5)
    counts = Counter(tuple(s) for s in model.samples("abcabc", 0.5, n, torch.Generator().manual_seed(0)))
    tv = 0.5 * sum(abs(counts.get(k, 0) / n - p) for k, p in exact.items())
    bound = 0.5 * sum(math.sqrt(p * (1 - p) / n) for p in exact.values()) + math.sqrt(math.log(1e6) / (2 * n))
    assert set(counts) <= set(exact) and tv < bound


def test_samples_are_reproducible_from_the_generator():
    model = Unigram(TOY)
    first = model.samples("abcabc", 0.3, 50, torch.Generator().manual_seed(7))
    second = model.samples("abcabc", 0.3, 50, torch.Generator().manual_seed(7))
    assert first == second and len({tuple(s) for s in first}) > 1


def test_large_alpha_samples_the_viterbi_segmentation():
    model = Unigram(TOY)
    samples = model.samples("abcab", 200.0, 20, torch.Generator().manual_seed(0))
    assert all(s == model.viterbi("abcab") for s in samples)


def test_segmentations_concatenate_to_the_text():
    segs = Unigram(TOY).segmentations("abcab")
    assert segs and all("".join(pieces) == "abcab" for pieces, _ in segs)


def test_space_symbol_is_sentencepieces():
    assert SPACE == "\u2581"


def test_unknown_character_in_viterbi_is_rejected():
    with pytest.raises(ValueError, match="unknown character"):
        Unigram(TOY).viterbi("abxc")


def test_non_positive_alpha_is_rejected():
    with pytest.raises(ValueError, match="alpha"):
        Unigram(TOY).samples("abc", 0.0, 1, torch.Generator())
    with pytest.raises(ValueError, match="alpha"):
        Unigram(TOY).distribution("abc", -1.0)


def test_empty_piece_table_is_rejected():
    with pytest.raises(ValueError, match="empty"):
        Unigram({})


def test_non_finite_score_is_rejected():
    with pytest.raises(ValueError, match="finite"):
        Unigram({"a": float("-inf")})


def test_empty_text_is_rejected():
    with pytest.raises(ValueError, match="non-empty"):
        Unigram(TOY).viterbi("")


def test_sampling_needs_a_torch_generator():
    with pytest.raises(ValueError, match="generator"):
        Unigram(TOY).samples("abc", 0.5, 3, generator=0)


def test_too_many_segmentations_are_refused():
    with pytest.raises(ValueError, match="limit"):
        Unigram({"a": -1.0, "aa": -1.0}).segmentations("a" * 30, limit=1000)
