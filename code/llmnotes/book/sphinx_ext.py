"""Sphinx extension: render the generated parts of the book from the sources of truth.

Directives (used in MyST pages and notebooks)::

    ```{paper-info} vaswani2017attention
    ```                                  basic-info box: .bib entry + study card
    ```{interview-card} vaswani2017attention
    ```                                  summary, contributions, Q&A (folded), deep detail
    ```{claims-ledger}
    ```                                  every claim of every card with its stored measurement
                                         and the seeded runs it held in

and the interview-preparation pages of :mod:`llmnotes.book.study_pages`.

The extension also serves MathJax from the book itself (the ``mathjax`` package on PyPI),
so the site needs no CDN.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from sphinx.application import Sphinx

from llmnotes.book.bibliography import reference
from llmnotes.book.cards import CardError
from llmnotes.book.directives import BookDirective, question_lines, rubric
from llmnotes.book.notebooks import read, stored_claim_lines
from llmnotes.book.robustness import RECORD
from llmnotes.book.robustness import load as load_record
from llmnotes.book.study_pages import CheatSheet, GlossaryTable, QABank

MATHJAX_FILES = ("tex-chtml.js", "output/chtml/fonts/woff-v2", "input/tex/extensions", "ui", "a11y")


class PaperInfo(BookDirective):
    """The chapter's basic-info box (基本信息), from the .bib entry and the card."""

    required_arguments = 1

    def render(self) -> list[str]:
        key = self.arguments[0]
        card = self.card(key)
        ref = reference(self.bib(), key)
        link = f"[{ref.url}]({ref.url})" if ref.url else "—"
        return [
            "```{admonition} Basic info",
            ":class: llmnotes-paper-info",
            f"- **Title:** {ref.title} {{cite:p}}`{key}`",
            f"- **Authors:** {', '.join(ref.authors)}",
            f"- **Venue:** {ref.venue}, {ref.year}",
            f"- **Link:** {link}",
            f"- **Tags:** {', '.join(card.tags)}",
            f"- **Results re-checked in this chapter:** {len(card.claims)} "
            "(see the {doc}`claims ledger </book/claims>`)",
            "```",
        ]


class InterviewCard(BookDirective):
    """The interview card (面试速记): summary, 3 contributions, Q&A, one deep detail."""

    required_arguments = 1

    def render(self) -> list[str]:
        card = self.card(self.arguments[0])
        lines = [*rubric("5-minute summary"), card.summary, "", *rubric("Three contributions")]
        lines += [f"{i}. {c}" for i, c in enumerate(card.contributions, 1)] + [""]
        lines += rubric("Interview questions (click a question to see the answer)")
        for question in card.questions:
            lines += question_lines(question)
        lines += [*rubric("Deep detail"), card.deep_detail, ""]
        return lines


def _criterion(result) -> str:
    """``(==, rel_tol=0.05)`` with expect 1 reads as ``= 1 (rel_tol=0.05)``; ``>=`` as ``>= 0.9``."""
    comparison, _, tolerances = result.criterion.partition(", ")
    if comparison == "==":
        return f"= {result.expect} ({tolerances})"
    return f"{comparison} {result.expect}"


def _robustness(entry: dict | None, claim_id: str) -> str:
    """``3 of 4`` runs (seeds, native numerics) in which a claim held, from the robustness record."""
    result = (entry or {}).get("claims", {}).get(claim_id)
    return "not recorded" if result is None else f"{result['held']} of {result['runs']}"


class ClaimsLedger(BookDirective):
    """Every claim of every card, with the measurement stored in its executed chapter and the
    number of seeded runs it held in (the robustness record)."""

    def render(self) -> list[str]:
        record_path = self.root() / RECORD
        self.env.note_dependency(str(record_path))
        record = load_record(self.root())
        lines = []
        for card in self.cards():
            notebook_path = self.root() / card.chapter
            self.env.note_dependency(str(notebook_path))
            measured = {r.id: r for r in stored_claim_lines(read(notebook_path))}
            entry = record.get(card.chapter)
            runs = ", ".join(f"seed {r['seed']}" + (" native" if r["numerics"] == "native" else "")
                             for r in (entry or {}).get("runs", []))
            lines += [*rubric(f"{{doc}}`/{card.docname}`"),
                      f"Robustness runs: {runs or 'none recorded'}.", "",
                      "```{list-table}", ":header-rows: 1", ":class: llmnotes-ledger",
                      ":widths: 18 34 10 9 11 8 10", "",
                      "* - Claim", "  - What the paper says", "  - Status", "  - Measured",
                      "  - Criterion", "  - Held in", "  - Setting"]
            for claim in card.claims:
                if claim.id not in measured:
                    raise CardError(f"claim '{claim.id}' of {card.path.name} has no stored "
                                    f"measurement in {card.chapter}; re-execute the chapter")
                result = measured[claim.id]
                lines += [f"* - `{claim.id}`", f"  - {claim.statement}", f"  - {result.status}",
                          f"  - {result.measured}", f"  - {_criterion(result)}",
                          f"  - {_robustness(entry, claim.id)}", f"  - {result.note or '—'}"]
            lines += ["```", ""]
        return lines


def _configure(app: Sphinx, config) -> None:
    """Serve MathJax and the book's own CSS/JS from the package's static folder."""
    config.mathjax_path = "mathjax/tex-chtml.js"
    config.html_static_path = [*config.html_static_path, str(Path(__file__).parent / "static")]


def _copy_mathjax(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    import mathjax

    source = Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"
    target = Path(app.outdir) / "_static" / "mathjax"
    for name in MATHJAX_FILES:
        if (source / name).is_dir():
            shutil.copytree(source / name, target / name, dirs_exist_ok=True)
        else:
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source / name, target / name)


def _dedupe_scripts(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    """Drop repeated <script> entries (same file and attributes, whatever their priority).

    Under Sphinx 7.4 the inline configs of sphinx-thebe and sphinx-togglebutton end up in
    every page twice (filename None and ''), so a second ``const THEBE_JS_URL`` is a console error.
    """
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for script in scripts:
        filename = getattr(script, "filename", script) or ""  # None and "" both mean inline
        key = (str(filename), repr(sorted(getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def setup(app: Sphinx) -> dict:
    app.add_config_value("llmnotes_papers", "papers", "env")
    app.add_directive("paper-info", PaperInfo)
    app.add_directive("interview-card", InterviewCard)
    app.add_directive("claims-ledger", ClaimsLedger)
    app.add_directive("qa-bank", QABank)
    app.add_directive("cheat-sheet", CheatSheet)
    app.add_directive("glossary-table", GlossaryTable)
    app.add_js_file("llmnotes.js")
    app.add_css_file("llmnotes.css")
    app.connect("config-inited", _configure)
    app.connect("build-finished", _copy_mathjax)
    app.connect("html-page-context", _dedupe_scripts, priority=900)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
