import pytest
import torch
from llmnotes.tokenizers.wordpiece import (
    WordPiece,
    basic_tokenize,
    split_on_punctuation,
    strip_accents,
)
from llmnotes.weights.minilm import minilm_path

SENTENCES = [
    "Hello, world!",
    "Don't stop: it's 3.14159 o'clock; e-mail me @ 9:30pm.",
    "Café crème brûlée à la naïve façade.",
    "I love 北京 and 東京, 你好世界!",
    "Pneumonoultramicroscopicsilicovolcanoconiosis xqzvbt glorpnik.",
    "tabs\tand\nnewlines\r\n  spaces, zero\u200bwidth",
    "$100 ^ `code` ~tilde~ {braces} [brackets] <angle> |pipe|",
    "日本語のテキストと한국어 😀 ☃",
    "«quotes» „German“ ‘single’ Ωmega straße",
    "a" * 120,
]


def toy() -> WordPiece:
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "un", "##aff", "##able", "aff", "##a", "!", "play", "##ing"]
    return WordPiece({t: i for i, t in enumerate(tokens)})


@pytest.fixture(scope="module")
def minilm_vocab() -> WordPiece:
    return WordPiece.from_file(minilm_path())


@pytest.fixture(scope="module")
def reference():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(minilm_path())


def test_accents_are_stripped_after_decomposition():
    assert strip_accents("Café naïve Ångström") == "Cafe naive Angstrom"


def test_every_punctuation_character_is_its_own_token():
    assert split_on_punctuation("don't!!") == ["don", "'", "t", "!", "!"]


def test_basic_tokenizer_lowercases_and_isolates_chinese_characters():
    assert basic_tokenize("Héllo,北京 World") == ["hello", ",", "北", "京", "world"]


def test_basic_tokenizer_keeps_case_when_asked():
    assert basic_tokenize("Hello World", lower_case=False) == ["Hello", "World"]


def test_wordpiece_takes_the_longest_match_first():
    assert toy().wordpiece("unaffable") == ["un", "##aff", "##able"]


def test_a_word_that_cannot_be_covered_becomes_one_unk():
    assert toy().wordpiece("unaffxble") == ["[UNK]"]


def test_encode_adds_cls_and_sep_and_segment_ids_for_a_pair():
    tokenizer = toy()
    ids, types = tokenizer.encode("playing", "un!")
    assert [tokenizer.inverse[i] for i in ids] == ["[CLS]", "play", "##ing", "[SEP]", "un", "!", "[SEP]"]
    assert types == [0, 0, 0, 0, 1, 1, 1]


def test_batch_pads_with_pad_and_masks_the_padding():
    batch = toy().batch(["playing", "un"])
    assert batch["input_ids"].tolist()[1] == [2, 5, 3, 0]
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 1], [1, 1, 1, 0]]


def test_vocabulary_without_special_tokens_is_rejected():
    with pytest.raises(ValueError, match=r"\[MASK\]"):
        WordPiece({"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3})


def test_released_vocabulary_has_30522_entries(minilm_vocab):
    assert len(minilm_vocab) == 30522 and minilm_vocab.id("[MASK]") == 103


@pytest.mark.parametrize("sentence", SENTENCES)
def test_ids_equal_the_hugging_face_tokenizer(minilm_vocab, reference, sentence):
    assert minilm_vocab.encode(sentence)[0] == reference(sentence)["input_ids"]


def test_sentence_pairs_equal_the_hugging_face_tokenizer(minilm_vocab, reference):
    expected = reference("The cat sat.", "It was tired!")
    assert minilm_vocab.encode("The cat sat.", "It was tired!") == (expected["input_ids"], expected["token_type_ids"])


def test_decode_glues_continuation_pieces(minilm_vocab):
    ids, _ = minilm_vocab.encode("Tokenization is unbelievable")
    assert minilm_vocab.decode(torch.tensor(ids)) == "[CLS] tokenization is unbelievable [SEP]"
