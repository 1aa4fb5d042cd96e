import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from llmnotes.data.shakespeare import play_text
from llmnotes.tokenizers.bpe_training import (
    byte_alphabet,
    pretokenize,
    train_bpe,
    train_byte_level_bpe,
    word_counts,
)

PLAY = "tragedies/hamlet"


def hf_byte_level(texts, vocab_size, min_frequency):
    """Merges and vocabulary of HF tokenizers' BpeTrainer with GPT-2's byte-level pre-tokenizer."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=min_frequency, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), special_tokens=[])
    tok.train_from_iterator(texts, trainer)
    model = json.loads(tok.to_str())["model"]
    return [tuple(m) for m in model["merges"]], model["vocab"]


def hf_words(counts, vocab_size):
    """BpeTrainer on a plain word dictionary (whitespace-separated words, no byte mapping)."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, show_progress=False, special_tokens=[])
    tok.train_from_iterator([" ".join([w] * c) for w, c in counts.items()], trainer)
    model = json.loads(tok.to_str())["model"]
    return [tuple(m) for m in model["merges"]], model["vocab"]


def naive_bpe(counts, vocab_size):
    """Sennrich et al.'s Algorithm 1 (recount every pair before each merge), with HF's tie rule."""
    vocab = sorted({c for w in counts for c in w})
    ids = {t: i for i, t in enumerate(vocab)}
    words = {tuple(w): c for w, c in counts.items()}
    merges = []
    while len(vocab) < vocab_size:
        pairs = {}
        for w, c in words.items():
            for p in zip(w, w[1:]):
                pairs[p] = pairs.get(p, 0) + c
        if not pairs:
            break
        best = min(pairs, key=lambda p: (-pairs[p], ids[p[0]], ids[p[1]]))
        merges.append(best)
        token = best[0] + best[1]
        if token not in ids:
            ids[token] = len(vocab)
            vocab.append(token)
        merged = {}
        for w, c in words.items():
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and (w[i], w[i + 1]) == best:
                    out.append(token)
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            merged[tuple(out)] = merged.get(tuple(out), 0) + c
        words = merged
    return merges, vocab


dictionaries = st.dictionaries(st.text(alphabet="abcd", min_size=1, max_size=8), st.integers(1, 9),
                               min_size=1, max_size=12)


def test_merges_equal_hf_bpe_trainer_on_a_play():
    text = play_text(PLAY)
    ours = train_byte_level_bpe([text], vocab_size=600, min_frequency=2)
    merges, vocab = hf_byte_level([text], vocab_size=600, min_frequency=2)
    assert ours.merges == merges
    assert {t: i for i, t in enumerate(ours.vocab)} == vocab


@settings(max_examples=60, deadline=None)
@given(dictionaries, st.integers(4, 30))
def test_merges_equal_hf_bpe_trainer_on_random_dictionaries(counts, vocab_size):
    vocab_size = max(vocab_size, len({c for w in counts for c in w}))
    ours = train_bpe(counts, vocab_size)
    merges, vocab = hf_words(counts, vocab_size)
    assert ours.merges == merges
    assert {t: i for i, t in enumerate(ours.vocab)} == vocab


@settings(max_examples=100, deadline=None)
@given(dictionaries, st.integers(4, 40))
def test_incremental_counts_equal_recounting_every_step(counts, vocab_size):
    vocab_size = max(vocab_size, len({c for w in counts for c in w}))
    merges, vocab = naive_bpe(counts, vocab_size)
    ours = train_bpe(counts, vocab_size)
    assert ours.merges == merges and ours.vocab == vocab


def test_vocabulary_is_alphabet_plus_one_token_per_merge():
    model = train_byte_level_bpe([play_text(PLAY)], vocab_size=400)
    assert model.alphabet_size == 256
    assert len(model.vocab) == 400 == model.alphabet_size + len(model.merges)


def test_ties_go_to_the_pair_with_the_smallest_ids():
    # (c, d) and (a, b) both occur 3 times; a < c in code-point order, so (a, b) is merged first
    model = train_bpe({"cd": 3, "ab": 3}, vocab_size=5)
    assert model.merges == [("a", "b")]


def test_most_frequent_pair_is_merged_first():
    model = train_bpe({"ab": 2, "cd": 5}, vocab_size=5)
    assert model.merges == [("c", "d")] and model.counts == [5]


def test_min_frequency_stops_training_early():
    model = train_bpe({"ab": 5, "cd": 1}, vocab_size=10, min_frequency=2)
    assert model.merges == [("a", "b")]


def test_paper_toy_dictionary_segments_unseen_lower_as_low_er():
    # Sennrich et al. (2016), Figure 1 and Section 3.2: the OOV 'lower' becomes 'low er</w>'
    words = {tuple(w) + ("</w>",): 1 for w in ("low", "lowest", "newer", "wider")}
    model = train_bpe(words, vocab_size=len({s for w in words for s in w}) + 4)
    assert {a + b for a, b in model.merges} == {"er", "lo", "er</w>", "low"}
    assert model.segment(("l", "o", "w", "e", "r", "</w>")) == ["low", "er</w>"]


def test_truncated_model_equals_training_with_the_smaller_budget():
    texts = [play_text(PLAY)]
    big = train_byte_level_bpe(texts, vocab_size=700)
    small = train_byte_level_bpe(texts, vocab_size=450)
    truncated = big.truncated(450)
    assert truncated.merges == small.merges and truncated.vocab == small.vocab


def test_pretokenize_matches_hf_byte_level():
    from tokenizers import pre_tokenizers

    text = "Hello,  world! It's 2024 -- naïve 北京 😀\n\nok?"
    hf = [piece for piece, _ in pre_tokenizers.ByteLevel(add_prefix_space=False).pre_tokenize_str(text)]
    assert pretokenize(text) == hf


@settings(max_examples=50, deadline=None)
@given(st.text(max_size=40))
def test_byte_level_tokenizer_round_trips_any_text(text):
    tok = _small_model().tokenizer()
    assert tok.decode(tok.encode(text)) == text


def _small_model(cache={}):
    if "model" not in cache:
        cache["model"] = train_byte_level_bpe([play_text(PLAY)], vocab_size=400)
    return cache["model"]


def test_segment_matches_the_tokenizer_on_byte_words():
    model = _small_model()
    tok = model.tokenizer()
    word = pretokenize(" wherefore")[0]
    assert [tok.tokens[i] for i in tok.encode(" wherefore")] == model.segment(word)


def test_word_counts_weight_each_pre_token():
    assert word_counts(["the cat the"]) == {"the": 1, "Ġcat": 1, "Ġthe": 1}


def test_byte_alphabet_has_256_distinct_characters():
    assert len(set(byte_alphabet())) == 256


def test_vocab_size_smaller_than_the_alphabet_is_rejected():
    with pytest.raises(ValueError, match="vocab_size"):
        train_bpe({"abc": 1}, vocab_size=2)


def test_empty_dictionary_is_rejected():
    with pytest.raises(ValueError, match="empty"):
        train_bpe({}, vocab_size=10)


def test_non_positive_frequency_is_rejected():
    with pytest.raises(ValueError, match="counts"):
        train_bpe({"ab": 0}, vocab_size=10)


def test_empty_word_is_rejected():
    with pytest.raises(ValueError, match="empty word"):
        train_bpe({"": 3}, vocab_size=10)


def test_negative_min_frequency_is_rejected():
    with pytest.raises(ValueError, match="min_frequency"):
        train_bpe({"ab": 1}, vocab_size=10, min_frequency=-1)


def test_a_single_string_instead_of_documents_is_rejected():
    with pytest.raises(ValueError, match="iterable of str"):
        word_counts("just one string")


def test_tokenizer_needs_the_byte_alphabet():
    with pytest.raises(ValueError, match="byte characters"):
        train_bpe({"ab": 3}, vocab_size=3).tokenizer()


def test_truncating_outside_the_trained_range_is_rejected():
    with pytest.raises(ValueError, match="vocab_size"):
        _small_model().truncated(10_000)
