import sqlite3
import time
import zipfile

import yaml
from llmnotes.book.cli import main


def export(papers, out):
    return main(["flashcards", "--papers", str(papers), "--out", str(out)])


def tsv_rows(path):
    header, *rows = path.read_text(encoding="utf-8").splitlines()
    names = header.split("\t")
    return [dict(zip(names, line.split("\t"), strict=True)) for line in rows]


def tsv_rows_of(papers, tmp_path):
    out = tmp_path / "check.tsv"
    assert export(papers, out) == 0
    return tsv_rows(out)


def edit_card(path, change):
    card = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(card)
    path.write_text(yaml.safe_dump(card, allow_unicode=True), encoding="utf-8")


def test_tsv_has_one_row_per_question_in_book_order(study_book, tmp_path, capsys):
    out = tmp_path / "deck.tsv"
    assert export(study_book, out) == 0
    rows = tsv_rows(out)
    assert [(r["paper"], r["question"]) for r in rows] == (
        [("vaswani2017", f"vaswani2017 question {i}?") for i in range(1, 7)]
        + [("kaplan2020", f"kaplan2020 question {i}?") for i in range(1, 7)])
    assert rows[0]["tags"] == "attention architecture vaswani2017"
    assert f"wrote 12 notes to {out}" in capsys.readouterr().out


def test_tsv_keeps_each_note_on_one_line(write_card, tmp_path):
    questions = [{"q": f"q{i}", "q_zh": "问题", "a": "line one\nline two\tafter a tab"} for i in range(6)]
    write_card("vaswani2017", "book/classics/transformer.ipynb", questions=questions)
    out = tmp_path / "deck.tsv"
    assert export(tmp_path / "papers", out) == 0
    rows = tsv_rows(out)
    assert len(rows) == 6
    assert rows[0]["answer"] == "line one<br>line two    after a tab"


def test_apkg_re_export_is_byte_identical(study_book, tmp_path, monkeypatch):
    first, second = tmp_path / "first.apkg", tmp_path / "second.apkg"
    assert export(study_book, first) == 0
    now = time.time()
    monkeypatch.setattr(time, "time", lambda: now + 86_400)  # a day later
    monkeypatch.setattr(time, "time_ns", lambda: int((now + 86_400) * 1e9))
    assert export(study_book, second) == 0
    assert first.read_bytes() == second.read_bytes()


def test_apkg_holds_one_note_per_question_with_five_fields(study_book, tmp_path):
    out = tmp_path / "deck.apkg"
    assert export(study_book, out) == 0
    with zipfile.ZipFile(out) as archive:
        assert "collection.anki2" in archive.namelist()
        database = tmp_path / "collection.anki2"
        database.write_bytes(archive.read("collection.anki2"))
    with sqlite3.connect(database) as connection:
        notes = connection.execute("SELECT guid, flds, tags FROM notes ORDER BY id").fetchall()
    assert len(notes) == 12
    guids = [r["guid"] for r in tsv_rows_of(study_book, tmp_path)]
    assert [guid for guid, _, _ in notes] == guids
    fields = notes[0][1].split("\x1f")
    assert fields == ["vaswani2017 question 1?", "vaswani2017 问题 1?", "vaswani2017 answer 1.",
                      "book/classics/transformer.ipynb", "vaswani2017"]
    assert notes[0][2].split() == ["attention", "architecture", "vaswani2017"]


def test_an_edited_answer_keeps_its_guid(study_book, tmp_path):
    before = tsv_rows_of(study_book, tmp_path)
    edit_card(study_book / "vaswani2017.yml", lambda card: card["questions"][0].update(a="A better answer."))
    after = tsv_rows_of(study_book, tmp_path)
    assert after[0]["answer"] == "A better answer."
    assert [r["guid"] for r in after] == [r["guid"] for r in before]


def test_a_new_question_adds_a_new_guid(study_book, tmp_path):
    before = {r["guid"] for r in tsv_rows_of(study_book, tmp_path)}
    new = {"q": "A sixth question?", "q_zh": "第六个问题?", "a": "Yes."}
    edit_card(study_book / "kaplan2020.yml", lambda card: card["questions"].append(new))
    after = {r["guid"] for r in tsv_rows_of(study_book, tmp_path)}
    assert before < after and len(after - before) == 1


def test_an_unknown_suffix_exits_2_naming_the_allowed_ones(study_book, tmp_path, capsys):
    out = tmp_path / "deck.csv"
    assert export(study_book, out) == 2
    err = capsys.readouterr().err
    assert "'.csv'" in err and ".apkg" in err and ".tsv" in err
    assert not out.exists()


def test_a_missing_papers_folder_exits_2(tmp_path, capsys):
    assert export(tmp_path / "nowhere", tmp_path / "deck.tsv") == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "no such folder of study cards" in err
    assert "Traceback" not in err


def test_a_bad_card_exits_2_with_the_card_error(study_book, tmp_path, capsys):
    edit_card(study_book / "kaplan2020.yml", lambda card: card.update(tags=["Not A Tag"]))
    assert export(study_book, tmp_path / "deck.apkg") == 2
    assert "kaplan2020.yml: field 'tags'" in capsys.readouterr().err
    assert not (tmp_path / "deck.apkg").exists()


def test_the_output_is_replaced_whole(study_book, tmp_path):
    out = tmp_path / "deck.tsv"
    out.write_text("old contents that are longer than nothing\n" * 100)
    assert export(study_book, out) == 0
    assert out.read_text(encoding="utf-8").startswith("guid\tpaper")
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_an_empty_papers_folder_exits_2(tmp_path, capsys):
    (tmp_path / "papers").mkdir()
    assert export(tmp_path / "papers", tmp_path / "deck.tsv") == 2
    assert "no study cards" in capsys.readouterr().err
