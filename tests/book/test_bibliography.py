from pathlib import Path

import pytest
from llmnotes.book.bibliography import BibError, load_bib, reference

ROOT = Path(__file__).resolve().parents[2]


def test_transformer_entry_has_the_paper_facts():
    ref = reference(load_bib(ROOT / "papers" / "references.bib"), "vaswani2017attention")
    assert ref.title == "Attention Is All You Need"
    assert ref.year == "2017" and "NeurIPS" in ref.venue
    assert len(ref.authors) == 8 and ref.authors[6] == "Łukasz Kaiser"
    assert ref.url == "https://arxiv.org/abs/1706.03762"


def test_latex_accents_are_decoded():
    ref = reference(load_bib(ROOT / "papers" / "references.bib"), "hochreiter1997long")
    assert ref.authors[1] == "Jürgen Schmidhuber"


def test_unknown_key_is_named():
    with pytest.raises(BibError, match="no entry 'nobody2099' in references.bib"):
        reference(load_bib(ROOT / "papers" / "references.bib"), "nobody2099")


def test_missing_bib_file_is_named(tmp_path):
    with pytest.raises(BibError, match="no such bibliography file"):
        load_bib(tmp_path / "none.bib")
