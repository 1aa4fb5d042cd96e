import pytest
import torch
from llmnotes.data.batches import lm_batches
from llmnotes.data.shakespeare import play_text, plays, shakespeare
from llmnotes.tokenizers.char import CharTokenizer


def test_the_package_ships_every_genre():
    assert len(plays()) >= 37
    assert "tragedies/hamlet" in plays("tragedies")


def test_markdown_is_stripped_to_speaker_lines():
    text = play_text("tragedies/hamlet")
    assert text.startswith("Bernardo:\nWho's there?\n")
    assert "**" not in text and "#" not in text and "\n_" not in text


def test_unknown_play_and_genre_are_named():
    with pytest.raises(ValueError, match="no play 'tragedies/nope'"):
        play_text("tragedies/nope")
    with pytest.raises(ValueError, match="unknown genre 'poems'"):
        plays("poems")


def test_tokenizer_round_trips_the_corpus():
    text = shakespeare("roman")
    tok = CharTokenizer.fit(text)
    assert tok.decode(tok.encode(text[:5000])) == text[:5000]


def test_tokenizer_names_unknown_characters():
    with pytest.raises(ValueError, match=r"characters not in the vocabulary: \['z'\]"):
        CharTokenizer.fit("abc").encode("abz")


def test_lm_batches_shift_targets_by_one():
    data = torch.arange(100)
    x, y = next(lm_batches(data, 8, 4, torch.Generator().manual_seed(0)))
    assert x.shape == y.shape == (4, 8)
    assert torch.equal(y[:, :-1], x[:, 1:])
