"""What every directive of the book shares: where the sources are, how to emit MyST, how to fail.

Each directive writes MyST text and hands it to the page's own parser, so math and
cross-references in the cards work exactly as in the chapters. A bad card, a missing .bib entry
or a claim without a stored measurement is reported as a build error naming it.
"""
from __future__ import annotations

from pathlib import Path

from docutils import nodes
from docutils.statemachine import StringList
from pybtex.database import BibliographyData
from sphinx.util.docutils import SphinxDirective

from llmnotes.book.bibliography import BibError, load_bib
from llmnotes.book.cards import Card, CardError, Question, load_card, load_cards
from llmnotes.book.glossary import GlossaryError


class BookDirective(SphinxDirective):
    """Shared plumbing: where the sources are, how to emit MyST text, how to fail."""

    def root(self) -> Path:
        return Path(self.env.srcdir)

    def papers(self) -> Path:
        return self.root() / self.config.llmnotes_papers

    def card(self, key: str) -> Card:
        path = self.papers() / f"{key}.yml"
        self.env.note_dependency(str(path))
        return load_card(path)

    def cards(self) -> list[Card]:
        """Every card, in book order; the page is rebuilt when papers/ changes."""
        self.env.note_dependency(str(self.papers()))
        return load_cards(self.papers())

    def bib(self) -> BibliographyData:
        path = self.papers() / "references.bib"
        self.env.note_dependency(str(path))
        return load_bib(path)

    def parse(self, lines: list[str]) -> list[nodes.Node]:
        container = nodes.container(classes=[f"llmnotes-{self.name}"])
        self.state.nested_parse(StringList(lines, source=f"<{self.name}>"), self.content_offset, container)
        return [container]

    def run(self) -> list[nodes.Node]:
        try:
            return self.parse(self.render())
        except (CardError, BibError, GlossaryError, FileNotFoundError) as error:
            raise self.error(f"{self.name}: {error}") from None

    def render(self) -> list[str]:
        raise NotImplementedError


def rubric(text: str, css_class: str = "") -> list[str]:
    """A rubric (an unnumbered heading) in MyST. Tilde fences, because a backtick fence
    cannot carry backticks (a {doc} role, say) in its opening line."""
    return [f"~~~{{rubric}} {text}", *([f":class: {css_class}"] if css_class else []), "~~~"]


def question_lines(question: Question, extra: str = "", classes: str = "") -> list[str]:
    """One Q&A as a folded sphinx-design dropdown (the answer opens on click)."""
    return [
        f"````{{dropdown}} {question.q}",
        f":class-container: {' '.join(['llmnotes-qa', *classes.split()])}",
        "",
        f"*{question.q_zh}*",
        "",
        *question.a.splitlines(),
        *([""] + [extra] if extra else []),
        "````",
        "",
    ]
