import math

import pytest
from nltk.lm import AbsoluteDiscountingInterpolated, KneserNeyInterpolated

from llmnotes.models.ngram import (
    BOS,
    EOS,
    SMOOTHINGS,
    UNK,
    NGramLM,
    apply_vocab,
    build_vocab,
    count_ngrams,
    ney_discount,
    ngram_events,
    tokenize,
)

CORPUS = [
    "the cat sat on the mat",
    "the dog sat on the log",
    "a cat saw the dog",
    "the dog saw a cat on the mat",
    "a dog sat",
    "the cat ran",
]
SENTENCES = [s.split() for s in CORPUS]
TEST = [s.split() for s in ("the cat sat on the log", "a dog ran on the mat", "dog the cat")]


def contexts(order):
    """Every context of the test sentences, plus contexts never seen in training."""
    seen = {context for context, _ in ngram_events(TEST + SENTENCES, order)}
    return sorted(seen | {("mat",) * (order - 1), ("ran", "ran", "cat")[-(order - 1):] if order > 1 else ()})


def nltk_model(cls, sentences, order, **options):
    """An NLTK model fitted on exactly our k-grams: for each predicted position, the windows
    of length 1 ... order that end there (padding: order - 1 <s>, one </s>)."""
    text = [[context[order - k:] + (word,) for context, word in ngram_events([s], order)
             for k in range(1, order + 1)] for s in sentences]
    lm = cls(order, **options)
    lm.fit(text, vocabulary_text=[w for s in sentences for w in s] + [BOS, EOS])
    return lm


# -- counting ----------------------------------------------------------------------------------

def test_counts_are_the_windows_that_end_at_a_predicted_position():
    counts = count_ngrams([["a", "b"]], 3)
    assert counts.table(3) == {(BOS, BOS): {"a": 1}, (BOS, "a"): {"b": 1}, ("a", "b"): {EOS: 1}}
    assert counts.table(1) == {(): {"a": 1, "b": 1, EOS: 1}}
    assert counts.vocab == (EOS, "a", "b")


def test_lower_order_counts_do_not_depend_on_the_padding():
    assert count_ngrams(SENTENCES, 5).table(2) == count_ngrams(SENTENCES, 2).table(2)
    assert count_ngrams(SENTENCES, 4).table(3) == count_ngrams(SENTENCES, 3).table(3)


def test_continuation_count_is_the_number_of_distinct_left_neighbours():
    counts = count_ngrams(SENTENCES, 2)
    # "cat" follows "the" and "a"; "the" follows <s>, "on" and "saw"
    assert counts.continuation(1)[()]["cat"] == 2
    assert counts.continuation(1)[()]["the"] == 3
    assert counts.table(1)[()]["the"] == 8


def test_totals_are_the_sum_and_the_number_of_types_after_a_context():
    counts = count_ngrams(SENTENCES, 2)
    assert counts.totals(2, ("the",)) == (8, 4)          # dog x3, cat x2, mat x2, log x1
    assert counts.totals(2, ("unseen",)) == (0, 0)


def test_ney_discount_is_n1_over_n1_plus_2_n2():
    assert ney_discount(6, 2) == pytest.approx(0.6)
    assert ney_discount(0, 0) == 0.5


# -- probabilities -----------------------------------------------------------------------------

def test_mle_is_the_relative_frequency():
    counts = count_ngrams(SENTENCES, 2)
    lm = NGramLM(counts, 2, "mle")
    for context, row in counts.table(2).items():
        total = sum(row.values())
        for word in lm.vocab:
            assert lm.prob(word, context) == row.get(word, 0) / total


def test_mle_gives_zero_to_an_unseen_ngram_and_infinite_perplexity():
    lm = NGramLM.fit(SENTENCES, 2, smoothing="mle")
    assert lm.prob("cat", ["cat"]) == 0.0
    assert lm.prob("cat", ["unseen"]) == 0.0
    assert lm.perplexity([["dog", "the", "cat"]]) == math.inf


def test_add_one_adds_one_to_every_count():
    lm = NGramLM.fit(SENTENCES, 2, smoothing="add_one")
    vocab_size = len(lm.vocab)
    assert lm.prob("cat", ["the"]) == (2 + 1) / (8 + vocab_size)
    assert lm.prob("cat", ["unseen"]) == 1 / vocab_size


@pytest.mark.parametrize("smoothing", SMOOTHINGS)
@pytest.mark.parametrize("order", [1, 2, 3, 4])
@pytest.mark.parametrize("lowest", ["uniform", "unigram"])
def test_probabilities_sum_to_one_over_the_vocabulary_after_every_seen_context(smoothing, order, lowest):
    lm = NGramLM.fit(SENTENCES, order, smoothing=smoothing, lowest=lowest, discount=None)
    seen = count_ngrams(SENTENCES, order).table(order)
    for context in contexts(order):
        if smoothing == "mle" and context not in seen:
            continue                                     # MLE is 0 everywhere after an unseen context
        assert sum(lm.probs(context).values()) == pytest.approx(1.0, abs=1e-12), context


@pytest.mark.parametrize("smoothing", ["absolute_discounting", "kneser_ney"])
def test_uniform_lowest_order_gives_every_vocabulary_word_a_probability(smoothing):
    lm = NGramLM.fit(SENTENCES, 3, smoothing=smoothing, discount=0.5, vocab=["zebra"])
    assert lm.prob("zebra", ["the", "cat"]) > 0
    assert sum(lm.probs(["the", "cat"]).values()) == pytest.approx(1.0, abs=1e-12)


def test_kneser_ney_lower_order_uses_continuation_counts():
    # bigram KN at an unseen context is the unigram level: "the" is frequent (8) but has only
    # 3 distinct left neighbours, "cat" has 4 occurrences and 2 neighbours ("the", "a")
    lm = NGramLM.fit(SENTENCES, 2, smoothing="kneser_ney", lowest="unigram", discount=0.5)
    continuation = count_ngrams(SENTENCES, 2).continuation(1)[()]
    total = sum(continuation.values())
    assert lm.prob("the", ["unseen"]) == pytest.approx(3 / total)
    assert lm.prob("cat", ["unseen"]) == pytest.approx(2 / total)


def test_a_short_context_is_the_start_of_a_sentence():
    lm = NGramLM.fit(SENTENCES, 3, smoothing="kneser_ney")
    assert lm.prob("cat", ["a"]) == lm.prob("cat", [BOS, "a"])
    assert lm.prob("the", []) == lm.prob("the", [BOS, BOS])


def test_perplexity_is_two_to_the_cross_entropy():
    lm = NGramLM.fit(SENTENCES, 3, smoothing="kneser_ney")
    assert lm.perplexity(TEST[:2]) == pytest.approx(2 ** lm.cross_entropy(TEST[:2]))
    n = sum(len(s) + 1 for s in TEST[:2])
    log_p = sum(math.log2(lm.prob(w, h)) for h, w in ngram_events(TEST[:2], 3))
    assert lm.cross_entropy(TEST[:2]) == pytest.approx(-log_p / n)


# -- the reference: NLTK -----------------------------------------------------------------------

@pytest.mark.parametrize("order", [2, 3])
@pytest.mark.parametrize("discount", [0.1, 0.75])
def test_kneser_ney_equals_nltk_kneser_ney_interpolated(order, discount):
    """NLTK's KneserNeyInterpolated stops at the undiscounted continuation unigram, so we
    compare with lowest="unigram"; both models see the same k-gram counts."""
    ours = NGramLM.fit(SENTENCES, order, smoothing="kneser_ney", discount=discount, lowest="unigram")
    theirs = nltk_model(KneserNeyInterpolated, SENTENCES, order, discount=discount)
    for context in contexts(order):
        for word in ours.vocab:
            assert ours.prob(word, context) == pytest.approx(theirs.score(word, context), abs=1e-14)


@pytest.mark.parametrize("order", [2, 3])
def test_absolute_discounting_equals_nltk_absolute_discounting_interpolated(order):
    ours = NGramLM.fit(SENTENCES, order, smoothing="absolute_discounting", discount=0.75, lowest="unigram")
    theirs = nltk_model(AbsoluteDiscountingInterpolated, SENTENCES, order, discount=0.75)
    for context in contexts(order):
        if context in count_ngrams(SENTENCES, order).table(order):   # NLTK divides by zero otherwise
            for word in ours.vocab:
                assert ours.prob(word, context) == pytest.approx(theirs.score(word, context), abs=1e-14)


# -- vocabulary --------------------------------------------------------------------------------

def test_tokenize_lowercases_and_splits_punctuation():
    assert tokenize("'Tis o'er the hills, Romeo!") == ["'tis", "o'er", "the", "hills", ",", "romeo", "!"]


def test_rare_words_become_unk():
    vocab = build_vocab(SENTENCES, min_count=2)
    assert "ran" not in vocab and "cat" in vocab
    assert apply_vocab([["the", "cat", "ran"]], vocab) == [["the", "cat", UNK]]


# -- errors ------------------------------------------------------------------------------------

@pytest.mark.parametrize("order", [0, -1, 1.5, True])
def test_bad_order_is_rejected(order):
    with pytest.raises(ValueError, match="order must be a positive int"):
        count_ngrams(SENTENCES, order)


def test_unknown_smoothing_is_rejected():
    with pytest.raises(ValueError, match="smoothing must be one of"):
        NGramLM.fit(SENTENCES, 2, smoothing="good_turing")


def test_unknown_lowest_order_is_rejected():
    with pytest.raises(ValueError, match="lowest must be one of"):
        NGramLM.fit(SENTENCES, 2, lowest="zero")


@pytest.mark.parametrize("sentences", [[], [[]], [[], []]])
def test_empty_corpus_is_rejected(sentences):
    with pytest.raises(ValueError, match="corpus is empty"):
        count_ngrams(sentences, 2)


def test_order_above_the_counts_is_rejected():
    with pytest.raises(ValueError, match="must be <= the order of the counts"):
        NGramLM(count_ngrams(SENTENCES, 2), 3)


@pytest.mark.parametrize("discount", [-0.1, 1.5, float("nan")])
def test_discount_outside_0_1_is_rejected(discount):
    with pytest.raises(ValueError, match="discount must"):
        NGramLM.fit(SENTENCES, 2, discount=discount)


def test_word_outside_the_vocabulary_is_rejected():
    with pytest.raises(ValueError, match="not in the model's vocabulary"):
        NGramLM.fit(SENTENCES, 2).prob("zebra", ["the"])


def test_sentence_markers_inside_a_sentence_are_rejected():
    with pytest.raises(ValueError, match="must not contain"):
        count_ngrams([["a", EOS, "b"]], 2)


def test_counts_of_the_wrong_type_are_rejected():
    with pytest.raises(ValueError, match="counts must be an NGramCounts"):
        NGramLM({"a": 1}, 2)
