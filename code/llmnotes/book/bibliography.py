"""Read ``papers/references.bib``: the single source of bibliographic facts."""
from __future__ import annotations

import codecs
from dataclasses import dataclass
from pathlib import Path

import latexcodec  # noqa: F401  (registers the "ulatex" codec)
from pybtex.database import BibliographyData, PybtexError, parse_file


class BibError(ValueError):
    """A missing or malformed .bib file or entry; the message names it."""


@dataclass(frozen=True)
class Reference:
    key: str
    title: str
    authors: tuple[str, ...]
    year: str
    venue: str
    url: str

    def short_authors(self, limit: int = 3) -> str:
        names = list(self.authors)
        return ", ".join(names) if len(names) <= limit else f"{', '.join(names[:limit])} et al."


def _plain(text: str) -> str:
    """LaTeX to Unicode (``{\\\"u}`` to ``ü``), braces removed."""
    return codecs.decode(text, "ulatex").replace("{", "").replace("}", "").strip()


def load_bib(path: Path | str) -> BibliographyData:
    path = Path(path)
    if not path.is_file():
        raise BibError(f"{path}: no such bibliography file")
    try:
        return parse_file(str(path), bib_format="bibtex")
    except PybtexError as error:
        raise BibError(f"{path}: cannot parse: {error}") from None


def reference(bib: BibliographyData, key: str) -> Reference:
    """The facts of one entry; :class:`BibError` if the key or a required field is missing."""
    if key not in bib.entries:
        raise BibError(f"no entry '{key}' in references.bib")
    entry = bib.entries[key]
    fields = entry.fields
    for field in ("title", "year"):
        if field not in fields:
            raise BibError(f"references.bib entry '{key}' has no '{field}' field")
    people = entry.persons.get("author", [])
    if not people:
        raise BibError(f"references.bib entry '{key}' has no authors")
    authors = tuple(_plain(" ".join(p.first_names + p.middle_names + p.prelast_names + p.last_names))
                    for p in people)
    venue = fields.get("booktitle") or fields.get("journal") or (
        f"arXiv:{fields['eprint']}" if "eprint" in fields else entry.type)
    url = fields.get("url") or (f"https://arxiv.org/abs/{fields['eprint']}" if "eprint" in fields else "")
    return Reference(key, _plain(fields["title"]), authors, fields["year"], _plain(venue), url)
