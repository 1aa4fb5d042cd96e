from pathlib import Path

import pytest
import yaml
from llmnotes.book.glossary import GlossaryError, load_glossary

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, entries) -> Path:
    path = tmp_path / "glossary.yml"
    path.write_text(yaml.safe_dump(entries, allow_unicode=True), encoding="utf-8")
    return path


def entry(term="Attention", **changes) -> dict:
    return {"term": term, "zh": "注意力", "definition": "A weighted average.",
            "chapter": "book/classics/transformer.ipynb"} | changes


def test_book_glossary_loads_sorted():
    terms = [t.term for t in load_glossary(ROOT / "book" / "glossary.yml")]
    assert terms == sorted(terms, key=str.lower) and "Scaled dot-product attention" in terms


def test_every_glossary_chapter_exists():
    missing = [t.chapter for t in load_glossary(ROOT / "book" / "glossary.yml") if not (ROOT / t.chapter).is_file()]
    assert not missing


def test_missing_chinese_term_is_named(tmp_path):
    bad = entry()
    del bad["zh"]
    with pytest.raises(GlossaryError, match="entry 0 must have exactly the keys term, zh, definition, chapter"):
        load_glossary(write(tmp_path, [bad]))


def test_multi_line_definition_is_rejected(tmp_path):
    with pytest.raises(GlossaryError, match="entry 0 \\('Attention'\\) field 'definition' must be one non-empty line"):
        load_glossary(write(tmp_path, [entry(definition="two\nlines")]))


def test_term_defined_twice_is_rejected(tmp_path):
    with pytest.raises(GlossaryError, match=r"terms defined twice: \['attention'\]"):
        load_glossary(write(tmp_path, [entry(), entry(term="attention")]))
