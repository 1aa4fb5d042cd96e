"""The glossary (术语表): ``book/glossary.yml``, one entry per term.

Each entry has ``term`` (English), ``zh`` (Chinese), ``definition`` (one line) and
``chapter`` (the book page that explains it, ``book/<part>/<slug>.ipynb`` or ``.md``).
Chapters link to entries with the ``{term}`` role; Sphinx fails the build (under ``-W``) on a
term that is not defined here.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from llmnotes.book.cards import read_yaml

FIELDS = ("term", "zh", "definition", "chapter")


class GlossaryError(ValueError):
    """A malformed glossary; the message names the entry and the field."""


@dataclass(frozen=True)
class Term:
    term: str
    zh: str
    definition: str
    chapter: str

    @property
    def docname(self) -> str:
        return str(Path(self.chapter).with_suffix(""))


def load_glossary(path: Path | str) -> list[Term]:
    """All entries, sorted by English term (case-insensitive)."""
    path = Path(path)
    data = read_yaml(path, GlossaryError, "glossary")
    if not isinstance(data, list) or not data:
        raise GlossaryError(f"{path}: must be a non-empty list of entries")
    terms = []
    for i, entry in enumerate(data):
        if not isinstance(entry, dict) or set(entry) != set(FIELDS):
            raise GlossaryError(f"{path}: entry {i} must have exactly the keys {', '.join(FIELDS)}; got {entry!r:.80}")
        for field in FIELDS:
            if not isinstance(entry[field], str) or not entry[field].strip() or "\n" in entry[field].strip():
                raise GlossaryError(f"{path}: entry {i} ({entry.get('term')!r}) field '{field}' must be one non-empty line")
        terms.append(Term(*(entry[f].strip() for f in FIELDS)))
    names = [t.term.lower() for t in terms]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise GlossaryError(f"{path}: terms defined twice: {duplicates}")
    return sorted(terms, key=lambda t: t.term.lower())
