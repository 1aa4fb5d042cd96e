import io
import json
import sys

import pytest
from llmnotes.book.cli import main
from llmnotes.book.cards import load_cards
from llmnotes.book.flashcards import question_guid

SEE, YES, NO = "\n", "\ny\n", "\nn\n"  # Enter shows the answer, then the reply


@pytest.fixture
def progress(tmp_path):
    return tmp_path / "progress.json"


@pytest.fixture
def quiz(study_book, progress, monkeypatch):
    """``quiz(stdin, *options)`` runs the quiz on the study book and returns its exit code."""
    def run(stdin: str, *options: str) -> int:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        return main(["quiz", "--papers", str(study_book), "--progress", str(progress), *options])
    return run


@pytest.fixture
def guids(study_book):
    """Question GUIDs in book order: vaswani2017 q1..q5, then kaplan2020 q1..q5."""
    return [question_guid(card, q) for card in load_cards(study_book) for q in card.questions]


def states(progress):
    return json.loads(progress.read_text(encoding="utf-8"))["questions"]


def asked_questions(out):
    return [line.removeprefix("Q: ") for line in out.splitlines() if line.startswith("Q: ")]


def test_a_new_book_is_asked_in_book_order(quiz, capsys):
    assert quiz(YES * 7, "--n", "7") == 0
    assert asked_questions(capsys.readouterr().out) == (
        [f"vaswani2017 question {i}?" for i in range(1, 7)] + ["kaplan2020 question 1?"])


def test_the_default_asks_ten_questions_and_prints_a_summary(quiz, capsys):
    assert quiz(YES * 5 + NO * 5) == 0
    out = capsys.readouterr().out
    assert len(asked_questions(out)) == 10
    assert "asked 10 of 10, known 5" in out and "boxes: 1:7  2:5  3:0  4:0  5:0" in out


def test_a_known_answer_moves_up_a_box(quiz, progress, guids):
    assert quiz(YES, "--n", "1") == 0
    assert states(progress) == {guids[0]: {"box": 2, "asked": 1, "correct": 1, "last": 1}}
    assert quiz(YES * 12, "--n", "12") == 0  # the other eleven first (box 1), then guids[0]
    assert states(progress)[guids[0]] == {"box": 3, "asked": 2, "correct": 2, "last": 13}


def test_a_missed_question_goes_back_to_box_one(quiz, progress, guids):
    assert quiz(YES, "--n", "1") == 0
    assert quiz(YES * 11 + NO, "--n", "12") == 0
    assert states(progress)[guids[0]]["box"] == 1


def test_a_missed_question_comes_back_first_next_time(quiz, progress, guids, capsys):
    assert quiz(YES + NO + YES, "--n", "3") == 0
    capsys.readouterr()
    assert quiz(YES + YES, "--n", "2") == 0
    assert asked_questions(capsys.readouterr().out) == ["vaswani2017 question 2?", "vaswani2017 question 4?"]
    assert states(progress)[guids[1]] == {"box": 2, "asked": 2, "correct": 1, "last": 4}


def test_tag_filters_the_questions(quiz, capsys):
    assert quiz(YES * 10, "--tag", "scaling") == 0
    out = capsys.readouterr().out
    assert asked_questions(out) == [f"kaplan2020 question {i}?" for i in range(1, 7)]
    assert "asked 6 of 6" in out


def test_an_unknown_tag_exits_2_and_lists_the_known_tags(quiz, progress, capsys):
    assert quiz("", "--tag", "vision") == 2
    err = capsys.readouterr().err
    assert "unknown tag 'vision'" in err and "architecture, attention, scaling" in err
    assert not progress.exists()


@pytest.mark.parametrize("n", ["0", "-3"])
def test_a_non_positive_n_exits_2(quiz, capsys, n):
    assert quiz(YES, "--n", n) == 2
    assert "--n must be a positive number" in capsys.readouterr().err


def test_a_progress_path_that_is_a_folder_exits_2(quiz, progress, capsys):
    progress.mkdir()
    assert quiz(YES, "--n", "1") == 2
    assert "is a folder" in capsys.readouterr().err


@pytest.mark.parametrize("corrupt", ["{not json", '{"version": 1, "questions": {"x": {"box": 9}}}', "[]"])
def test_a_corrupt_progress_file_is_backed_up_and_the_quiz_runs(quiz, progress, guids, capsys, corrupt):
    progress.write_text(corrupt)
    assert quiz(YES, "--n", "1") == 0
    backup = progress.with_name("progress.json.corrupt-1.bak")
    assert backup.read_text() == corrupt
    assert f"kept it as {backup}" in capsys.readouterr().err
    assert states(progress) == {guids[0]: {"box": 2, "asked": 1, "correct": 1, "last": 1}}


def test_an_earlier_backup_is_not_overwritten(quiz, progress):
    progress.write_text("first corruption")
    assert quiz(YES, "--n", "1") == 0
    progress.write_text("second corruption")
    assert quiz(YES, "--n", "1") == 0
    assert progress.with_name("progress.json.corrupt-1.bak").read_text() == "first corruption"
    assert progress.with_name("progress.json.corrupt-2.bak").read_text() == "second corruption"


def test_end_of_input_mid_quiz_saves_what_was_answered(quiz, progress, guids, capsys):
    assert quiz(YES + SEE, "--n", "3") == 0  # input ends at the second "Did you know it?"
    assert states(progress) == {guids[0]: {"box": 2, "asked": 1, "correct": 1, "last": 1}}
    assert "asked 1 of 3, known 1" in capsys.readouterr().out


def test_an_invalid_reply_asks_again(quiz, progress, guids, capsys):
    assert quiz("\nmaybe\n\nYES\n", "--n", "1") == 0
    out = capsys.readouterr().out
    assert out.count("Did you know it? [y/n]") == 3
    assert out.count("Please answer y or n.") == 2
    assert states(progress)[guids[0]]["box"] == 2
