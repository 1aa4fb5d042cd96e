"""Quiz: ask study-card questions in the terminal and keep score in Leitner boxes.

Every question starts in box 1; knowing it moves it up one box (at most 5), missing it sends it
back to box 1. A quiz asks the questions missed last time first, then the lowest box, then the
least recently asked, then book order. There is no randomness: the progress file decides.

Progress is JSON keyed by the flashcard GUID (:func:`llmnotes.book.flashcards.question_guid`)::

    {"version": 1, "questions": {guid: {"box": 1, "asked": 0, "correct": 0, "last": 0}}}

``last`` is the sequence number of the latest asking (0: never asked). A progress file that is
not valid JSON of this shape is copied to ``<file>.corrupt-<n>.bak`` and the quiz starts fresh.
"""
from __future__ import annotations

import json
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from llmnotes.book.cards import Card, Question, load_cards
from llmnotes.book.flashcards import question_guid, write_atomically

BOXES = 5
VERSION = 1
NEW = {"box": 1, "asked": 0, "correct": 0, "last": 0}
YES, NO = ("y", "yes"), ("n", "no")

Progress = dict[str, dict[str, int]]


class QuizError(ValueError):
    """The quiz cannot run: a bad option, no questions, or an unusable progress file."""


@dataclass(frozen=True)
class Item:
    guid: str
    card: Card
    question: Question


def _valid(data: object) -> bool:
    """Whether ``data`` has the shape of a progress file (see the module docstring)."""
    if not isinstance(data, dict) or data.get("version") != VERSION:
        return False
    questions = data.get("questions")
    if not isinstance(questions, dict):
        return False
    return all(
        isinstance(entry, dict) and set(entry) == set(NEW)
        and all(type(value) is int and value >= 0 for value in entry.values())
        and 1 <= entry["box"] <= BOXES
        for entry in questions.values()
    )


def _back_up(path: Path, raw: bytes) -> Path:
    """Copy a corrupt progress file to the first free ``<file>.corrupt-<n>.bak``."""
    n = 1
    while True:
        backup = path.with_name(f"{path.name}.corrupt-{n}.bak")
        try:
            with open(backup, "xb") as file:
                file.write(raw)
            return backup
        except FileExistsError:
            n += 1
        except OSError as error:
            raise QuizError(f"{path} is corrupt and cannot be backed up to {backup}: "
                            f"{error.strerror or error}") from None


def load_progress(path: Path) -> Progress:
    """The per-question progress in ``path``; empty when the file does not exist yet.

    A corrupt file is backed up (see :func:`_back_up`) with a warning on stderr. Raises
    :class:`QuizError` when ``path`` is a folder or cannot be read.
    """
    if path.is_dir():
        raise QuizError(f"progress file {path} is a folder")
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as error:
        raise QuizError(f"cannot read progress file {path}: {error.strerror or error}") from None
    try:
        data = json.loads(raw)
    except ValueError:
        data = None
    if not _valid(data):
        backup = _back_up(path, raw)
        print(f"warning: {path} is not a valid progress file; kept it as {backup} "
              f"and started fresh", file=sys.stderr)
        return {}
    return data["questions"]


def save_progress(path: Path, progress: Progress) -> None:
    """Write ``progress`` to ``path`` atomically."""
    text = json.dumps({"version": VERSION, "questions": progress}, indent=1, sort_keys=True)
    try:
        write_atomically(path, (text + "\n").encode("utf-8"))
    except OSError as error:
        raise QuizError(f"cannot write progress file {path}: {error.strerror or error}") from None


def questions(cards: list[Card], tag: str | None = None) -> list[Item]:
    """The questions of ``cards`` in book order, only those of cards tagged ``tag`` if given."""
    if tag is not None:
        known = sorted({t for card in cards for t in card.tags})
        if tag not in known:
            raise QuizError(f"unknown tag {tag!r}; known tags: {', '.join(known) or '(none)'}")
        cards = [card for card in cards if tag in card.tags]
    return [Item(question_guid(card, q), card, q) for card in cards for q in card.questions]


def select(items: list[Item], progress: Progress, n: int) -> list[Item]:
    """The ``n`` most urgent of ``items``; the sort is stable, so ties keep book order."""
    def urgency(item: Item) -> tuple[bool, int, int]:
        state = progress.get(item.guid, NEW)
        missed = state["box"] == 1 and state["asked"] > 0
        return (not missed, state["box"], state["last"])
    return sorted(items, key=urgency)[:n]


def _read(prompt: str) -> str | None:
    """One line from stdin, or None when input ends (EOF or Ctrl-C)."""
    try:
        return input(prompt)
    except (EOFError, KeyboardInterrupt):
        print()
        return None


def _knew_it() -> bool | None:
    """Ask until the reply is y/yes/n/no; None when input ends."""
    while True:
        reply = _read("Did you know it? [y/n] ")
        if reply is None:
            return None
        reply = reply.strip().lower()
        if reply in YES or reply in NO:
            return reply in YES
        print("Please answer y or n.")


def _record(progress: Progress, guid: str, knew: bool, sequence: int) -> None:
    state = progress.setdefault(guid, dict(NEW))
    state["box"] = min(state["box"] + 1, BOXES) if knew else 1
    state["asked"] += 1
    state["correct"] += knew
    state["last"] = sequence


def ask(items: list[Item], progress: Progress) -> tuple[int, int]:
    """Ask each item on stdin and record the replies in ``progress``; stop early when input ends.

    Returns (asked, known).
    """
    sequence = max((state["last"] for state in progress.values()), default=0)
    asked = known = 0
    for number, item in enumerate(items, 1):
        print(f"\n[{number}/{len(items)}] {item.card.key} -- {item.card.chapter}")
        print(f"Q: {item.question.q}")
        print(f"   {item.question.q_zh}")
        if _read("Press Enter to see the answer. ") is None:
            break
        print(f"A: {item.question.a}")
        knew = _knew_it()
        if knew is None:
            break
        sequence += 1
        _record(progress, item.guid, knew, sequence)
        asked += 1
        known += knew
    return asked, known


def quiz(papers: Path, progress_path: Path, tag: str | None = None, n: int = 10) -> None:
    """Ask up to ``n`` questions from the cards in ``papers``, save progress, print a summary.

    Raises :class:`QuizError` for ``n <= 0``, an unknown tag, no questions or an unusable
    progress file, and :class:`~llmnotes.book.cards.CardError` for a missing folder or a bad card.
    """
    if n <= 0:
        raise QuizError(f"--n must be a positive number of questions, got {n}")
    items = questions(load_cards(papers), tag)
    if not items:
        raise QuizError(f"{papers}: no study cards (*.yml) to quiz on")
    progress_path = progress_path.expanduser()
    progress = load_progress(progress_path)
    chosen = select(items, progress, n)
    asked, known = ask(chosen, progress)
    save_progress(progress_path, progress)
    boxes = Counter(progress.get(item.guid, NEW)["box"] for item in items)
    print(f"\nasked {asked} of {len(chosen)}, known {known}")
    print("boxes: " + "  ".join(f"{box}:{boxes[box]}" for box in range(1, BOXES + 1)))
