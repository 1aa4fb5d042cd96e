"""Flashcards: every study-card question as an Anki deck (``.apkg``) or a TSV file.

One note per question, with the fields Question, Question_zh, Answer, Chapter and Paper, tagged
with the card's tags and its key. A note's GUID comes from the paper key and the English question
only (:func:`question_guid`), so editing an answer keeps the note, and re-importing into Anki
updates it instead of adding a copy. The quiz keys its progress on the same GUID.

Exports are reproducible: the deck and note-type ids are the constants below, the notes'
modification time is the newest card file's mtime (so Anki's "update if newer" import sees an
edit, and the note ids follow from it), and the zip entries carry a fixed date. Exporting an
unchanged book twice gives the same bytes.
"""
from __future__ import annotations

import html
import io
import itertools
import os
import sqlite3
import tempfile
import zipfile
from contextlib import closing
from pathlib import Path

import genanki

from llmnotes.book.cards import Card, Question, load_cards

DECK_ID = 1_742_960_305   # fixed: re-imports land in the same Anki deck
MODEL_ID = 1_386_107_591  # fixed: re-imports reuse the same note type
DECK_NAME = "LLM Papers, Executed"
FORMATS = (".apkg", ".tsv")
TSV_HEADER = ("guid", "paper", "chapter", "question", "question_zh", "answer", "tags")
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # the earliest date a zip entry can carry

MODEL = genanki.Model(
    MODEL_ID,
    "llmnotes question",
    fields=[{"name": name} for name in ("Question", "Question_zh", "Answer", "Chapter", "Paper")],
    templates=[{
        "name": "Question",
        "qfmt": '{{Question}}<div class="zh">{{Question_zh}}</div>',
        "afmt": '{{FrontSide}}<hr id="answer">{{Answer}}'
                '<div class="source">{{Paper}} &middot; {{Chapter}}</div>',
    }],
    css=".card { font-family: sans-serif; font-size: 20px; text-align: left; }\n"
        ".zh { color: #555; margin-top: 0.5em; }\n"
        ".source { color: #888; font-size: 14px; margin-top: 1em; }\n",
)


class ExportError(ValueError):
    """The flashcards cannot be written: an unknown format, no cards, or an unwritable file."""


def question_guid(card: Card, question: Question) -> str:
    """The stable id of a question: from the paper key and the English question text only."""
    return genanki.guid_for(card.key, question.q)


def _field(text: str) -> str:
    """Text as one line of Anki HTML: markup escaped, newlines as ``<br>``, tabs as spaces."""
    return html.escape(text, quote=False).replace("\n", "<br>").replace("\t", "    ")


def _tags(card: Card) -> list[str]:
    """The card's tags and its key (Anki tags cannot contain spaces)."""
    return list(dict.fromkeys((*card.tags, card.key.replace(" ", "_"))))


def to_tsv(cards: list[Card]) -> str:
    """A header row and one line per question, in the order of ``cards``."""
    lines = ["\t".join(TSV_HEADER)]
    for card in cards:
        for question in card.questions:
            lines.append("\t".join((
                question_guid(card, question), card.key, _field(card.chapter),
                _field(question.q), _field(question.q_zh), _field(question.a), " ".join(_tags(card)),
            )))
    return "\n".join(lines) + "\n"


def to_apkg(cards: list[Card]) -> bytes:
    """An Anki package with one note per question; the same cards give the same bytes."""
    deck = genanki.Deck(DECK_ID, DECK_NAME, description="Interview questions from the study cards "
                        "of 'LLM Papers, Executed' (python -m llmnotes flashcards).")
    for card in cards:
        for question in card.questions:
            deck.add_note(genanki.Note(
                model=MODEL,
                fields=[_field(question.q), _field(question.q_zh), _field(question.a),
                        _field(card.chapter), _field(card.key)],
                tags=_tags(card),
                guid=question_guid(card, question),
            ))
    timestamp = int(max(card.path.stat().st_mtime for card in cards))
    with tempfile.TemporaryDirectory() as folder:
        database = Path(folder) / "collection.anki2"
        with closing(sqlite3.connect(database)) as connection:
            genanki.Package(deck).write_to_db(connection.cursor(), timestamp,
                                              itertools.count(timestamp * 1000))
            connection.commit()
        entries = {"collection.anki2": database.read_bytes(), "media": b"{}"}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, entries[name])
    return buffer.getvalue()


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` through a temporary file beside ``path``: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_bytes(data)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def export(papers: Path, out: Path) -> int:
    """Write the questions of the cards in ``papers`` to ``out`` (format from its suffix).

    Returns the number of notes written. Raises :class:`ExportError` for an unknown suffix, an
    empty ``papers`` folder or an unwritable ``out``, and :class:`~llmnotes.book.cards.CardError` for
    a missing folder or a bad card.
    """
    suffix = out.suffix.lower()
    if suffix not in FORMATS:
        raise ExportError(f"{out}: unknown flashcard format {suffix or '(no suffix)'!r}; "
                          f"use one of {', '.join(FORMATS)}")
    cards = load_cards(papers)
    if not cards:
        raise ExportError(f"{papers}: no study cards (*.yml) to export")
    data = to_apkg(cards) if suffix == ".apkg" else to_tsv(cards).encode("utf-8")
    try:
        write_atomically(out, data)
    except OSError as error:
        raise ExportError(f"{out}: cannot write: {error.strerror or error}") from None
    return sum(len(card.questions) for card in cards)
