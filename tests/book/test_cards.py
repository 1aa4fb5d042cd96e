from pathlib import Path

import pytest
import yaml
from llmnotes.book.cards import CardError, load_card

ROOT = Path(__file__).resolve().parents[2]
GOOD = yaml.safe_load((ROOT / "papers" / "vaswani2017attention.yml").read_text(encoding="utf-8"))


def write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "demo2020card.yml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def changed(**fields) -> dict:
    data = dict(GOOD)
    for key, value in fields.items():
        if value is None:
            data.pop(key)
        else:
            data[key] = value
    return data


def test_the_transformer_card_loads():
    card = load_card(ROOT / "papers" / "vaswani2017attention.yml")
    assert card.key == "vaswani2017attention" and card.part == "classics"


def test_missing_field_is_named(tmp_path):
    with pytest.raises(CardError, match=r"demo2020card.yml: field 'summary' is missing"):
        load_card(write(tmp_path, changed(summary=None)))


def test_two_contributions_are_rejected(tmp_path):
    with pytest.raises(CardError, match=r"field 'contributions' must be a list of exactly 3"):
        load_card(write(tmp_path, changed(contributions=["a", "b"])))


def test_five_questions_are_rejected(tmp_path):
    with pytest.raises(CardError, match=r"field 'questions' must be a list of at least 6"):
        load_card(write(tmp_path, changed(questions=GOOD["questions"][:5])))


def test_a_card_names_the_modules_its_chapter_uses(tmp_path):
    with pytest.raises(CardError, match=r"field 'code' must be a non-empty list of module names"):
        load_card(write(tmp_path, changed(code=["models.gpt"])))


def test_question_without_chinese_variant_is_named(tmp_path):
    questions = [dict(q) for q in GOOD["questions"]]
    del questions[2]["q_zh"]
    with pytest.raises(CardError, match=r"field 'questions\[2\]' must have exactly the keys q, q_zh, a"):
        load_card(write(tmp_path, changed(questions=questions)))


def test_claim_id_must_start_with_chapter_slug(tmp_path):
    with pytest.raises(CardError, match=r"claims\[0\].id' must start with the chapter slug 'transformer/'"):
        load_card(write(tmp_path, changed(claims=[{"id": "bert/x", "statement": "s"}])))


def test_unknown_field_is_named(tmp_path):
    with pytest.raises(CardError, match=r"unknown field\(s\) \['summmary'\]"):
        load_card(write(tmp_path, changed(summmary="typo")))


def test_bad_chapter_path_is_named(tmp_path):
    with pytest.raises(CardError, match=r"field 'chapter' must be 'book/<part>/<slug>.ipynb'"):
        load_card(write(tmp_path, changed(chapter="transformer.ipynb")))


def test_invalid_yaml_is_reported_with_the_file(tmp_path):
    path = tmp_path / "broken.yml"
    path.write_text("summary: [unclosed", encoding="utf-8")
    with pytest.raises(CardError, match=r"broken.yml: not valid YAML"):
        load_card(path)


def test_missing_file_is_reported(tmp_path):
    with pytest.raises(CardError, match="no such card file"):
        load_card(tmp_path / "nope.yml")
