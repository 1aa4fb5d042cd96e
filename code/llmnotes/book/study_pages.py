"""The interview-preparation pages, generated from the study cards and the glossary.

Directives (registered by :mod:`llmnotes.book.sphinx_ext`)::

    ```{qa-bank}
    ```         every question of every card, by part and chapter, answers folded,
                with a tag filter that works in the static site (static/llmnotes.js)
    ```{cheat-sheet}
    ```         each paper's summary, contributions and deep detail, in book order
    ```{glossary-table} book/glossary.yml
    ```         the glossary file as a Sphinx glossary, the target of {term} roles
"""
from __future__ import annotations

import html
from collections import Counter
from itertools import groupby

from llmnotes.book.bibliography import reference
from llmnotes.book.cards import Card
from llmnotes.book.directives import BookDirective, question_lines, rubric
from llmnotes.book.glossary import load_glossary

PART_TITLES = {"classics": "Classic papers (经典论文)", "technical": "Technical papers (技术论文)"}


class QABank(BookDirective):
    """All Q&A, grouped by part and chapter, each tagged for the client-side filter."""

    def render(self) -> list[str]:
        cards, bib = self.cards(), self.bib()
        total = sum(len(c.questions) for c in cards)
        lines = [*_filter_bar(cards, total), "",
                 f"{total} questions from {len(cards)} paper{'s' if len(cards) != 1 else ''}.", "",
                 "```{list-table} Questions per chapter", ":header-rows: 1", "",
                 "* - Chapter", "  - Questions"]
        for card in cards:
            lines += [f"* - {{doc}}`/{card.docname}`", f"  - {len(card.questions)}"]
        lines += ["```", ""]
        for part, group in groupby(cards, key=lambda c: c.part):
            lines += rubric(PART_TITLES.get(part, part), "llmnotes-bank-part")
            for card in group:
                title = reference(bib, card.key).title
                lines += [*rubric(f"{title} ({len(card.questions)} questions)", "llmnotes-bank-chapter"),
                          "Tags: " + " ".join(f"{{bdg-secondary}}`{t}`" for t in card.tags), ""]
                classes = " ".join(["llmnotes-bank-item", *(f"llmnotes-tag-{t}" for t in card.tags)])
                for question in card.questions:
                    lines += question_lines(question, extra=f"Chapter: {{doc}}`/{card.docname}`",
                                            classes=classes)
        return lines


def _filter_bar(cards: list[Card], total: int) -> list[str]:
    """The tag buttons (a raw HTML block) that static/llmnotes.js wires up."""
    tags = Counter(t for card in cards for t in card.tags for _ in card.questions)
    buttons = ['<button type="button" class="sd-btn sd-btn-outline-primary active" data-tag="all">'
               f'all ({total})</button>']
    buttons += [f'<button type="button" class="sd-btn sd-btn-outline-primary" data-tag="{html.escape(t)}">'
                f'{html.escape(t)} ({n})</button>' for t, n in sorted(tags.items())]
    return ["```{raw} html",
            '<div class="llmnotes-tag-filter" role="toolbar" aria-label="Filter questions by tag">'
            '<span>Filter by tag:</span> ' + " ".join(buttons) +
            ' <span class="llmnotes-tag-count" aria-live="polite"></span></div>', "```"]


class CheatSheet(BookDirective):
    """Each paper's summary, three contributions and deep detail, in book order."""

    def render(self) -> list[str]:
        bib = self.bib()
        lines = []
        for card in self.cards():
            lines += [*rubric(reference(bib, card.key).title, "llmnotes-sheet-title"),
                      f"{{cite:t}}`{card.key}` · {{doc}}`chapter </{card.docname}>`", "",
                      f"**5-minute summary.** {card.summary}", "", "**Three contributions.**", ""]
            lines += [f"{i}. {c}" for i, c in enumerate(card.contributions, 1)]
            lines += ["", f"**Deep detail.** {card.deep_detail}", ""]
        return lines


class GlossaryTable(BookDirective):
    """The glossary as a Sphinx ``glossary``, so ``{term}`` roles resolve (or fail the build).

    The argument is the glossary file, relative to the book root.
    """

    required_arguments = 1

    def render(self) -> list[str]:
        path = self.root() / self.arguments[0]
        self.env.note_dependency(str(path))
        lines = ["```{glossary}", ":sorted:", ""]
        for term in load_glossary(path):
            lines += [term.term, f"  ({term.zh}) {term.definition} See {{doc}}`/{term.docname}`.", ""]
        return lines + ["```"]
