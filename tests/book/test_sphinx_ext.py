"""The Sphinx extension renders cards into a small book, and a bad source fails the build."""
import subprocess
import sys
from pathlib import Path

import nbformat
import yaml
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

ROOT = Path(__file__).resolve().parents[2]
CARD = yaml.safe_load((ROOT / "papers" / "vaswani2017attention.yml").read_text(encoding="utf-8"))
CONF = """
extensions = ["myst_nb", "sphinx_design", "sphinxcontrib.bibtex", "llmnotes.book.sphinx_ext"]
bibtex_bibfiles = ["papers/references.bib"]
nb_execution_mode = "off"
myst_enable_extensions = ["dollarmath"]
exclude_patterns = ["_build"]
root_doc = "index"
"""


def make_book(tmp_path: Path, card: dict | None = None, claim_output: str | None = None,
              key: str = "vaswani2017attention", term: str = "Causal mask") -> Path:
    (tmp_path / "papers").mkdir()
    (tmp_path / "book" / "classics").mkdir(parents=True)
    (tmp_path / "conf.py").write_text(CONF, encoding="utf-8")
    (tmp_path / "papers" / "references.bib").write_text(
        (ROOT / "papers" / "references.bib").read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "papers" / f"{key}.yml").write_text(yaml.safe_dump(card or CARD, allow_unicode=True), encoding="utf-8")
    if claim_output is None:
        claim_output = "\n".join(f"CLAIM {c['id']}: REPRODUCED measured=1 expect=1 (>=)" for c in CARD["claims"])
    cell = new_code_cell("print('claims')", execution_count=1)
    cell.outputs = [new_output("stream", name="stdout", text=claim_output + "\n")]
    notebook = new_notebook(cells=[
        new_markdown_cell(f"# Chapter\n\n```{{paper-info}} {key}\n```\n\nA {{term}}`{term}`.\n\n"
                          f"```{{interview-card}} {key}\n```"), cell],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                  "language_info": {"name": "python"}})
    nbformat.write(notebook, tmp_path / "book" / "classics" / "transformer.ipynb")
    (tmp_path / "book" / "claims.md").write_text("# Claims\n\n```{claims-ledger}\n```\n", encoding="utf-8")
    (tmp_path / "bibliography.md").write_text("# Bibliography\n\n```{bibliography}\n:all:\n```\n", encoding="utf-8")
    entries = [e for e in yaml.safe_load((ROOT / "book" / "glossary.yml").read_text(encoding="utf-8"))
               if e["chapter"] == "book/classics/transformer.ipynb"]  # the only chapter of this book
    (tmp_path / "book" / "glossary.yml").write_text(yaml.safe_dump(entries, allow_unicode=True), encoding="utf-8")
    pages = {"glossary": "```{glossary-table} book/glossary.yml\n```", "qa-bank": "```{qa-bank}\n```",
             "cheatsheet": "```{cheat-sheet}\n```"}
    for name, body in pages.items():
        (tmp_path / f"{name}.md").write_text(f"# {name}\n\n{body}\n", encoding="utf-8")
    (tmp_path / "index.md").write_text(
        "# Test book\n\n```{toctree}\nbook/classics/transformer\nbook/claims\nbibliography\n"
        + "\n".join(pages) + "\n```\n", encoding="utf-8")
    return tmp_path


def build(book: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sphinx", "-W", "-q", "-b", "html", str(book), str(book / "_build")],
                          capture_output=True, text=True, timeout=300)


def test_cards_render_into_the_chapter_and_ledger(tmp_path):
    result = build(make_book(tmp_path))
    assert result.returncode == 0, result.stderr
    chapter = (tmp_path / "_build" / "book" / "classics" / "transformer.html").read_text(encoding="utf-8")
    assert "Attention Is All You Need" in chapter and "Łukasz Kaiser" in chapter
    assert chapter.count("llmnotes-qa") >= len(CARD["questions"])
    ledger = (tmp_path / "_build" / "book" / "claims.html").read_text(encoding="utf-8")
    assert "```" not in ledger, "directive markup leaked into the page as text"
    assert "<table" in ledger and "<code class=\"docutils literal notranslate\"><span class=\"pre\">transformer/toy-translation" in ledger
    assert "<td><p>REPRODUCED</p></td>" in ledger


def test_bad_card_fails_the_build_naming_the_field(tmp_path):
    card = dict(CARD)
    del card["deep_detail"]
    result = build(make_book(tmp_path, card=card))
    assert result.returncode != 0
    assert "field 'deep_detail' is missing" in result.stderr


def test_card_without_bib_entry_fails_the_build(tmp_path):
    result = build(make_book(tmp_path, key="nobody2099"))
    assert result.returncode != 0
    assert "no entry 'nobody2099' in references.bib" in result.stderr


def test_claim_without_stored_measurement_fails_the_build(tmp_path):
    result = build(make_book(tmp_path, claim_output="no claims were printed"))
    assert result.returncode != 0
    assert "has no stored measurement" in result.stderr


def test_mathjax_is_served_locally(tmp_path):
    assert build(make_book(tmp_path)).returncode == 0
    page = (tmp_path / "_build" / "index.html").read_text(encoding="utf-8")
    assert "_static/mathjax/tex-chtml.js" in page and "cdn.jsdelivr" not in page
    assert (tmp_path / "_build" / "_static" / "mathjax" / "tex-chtml.js").is_file()


def test_study_pages_render_every_question_summary_and_term(tmp_path):
    assert build(make_book(tmp_path)).returncode == 0
    bank = (tmp_path / "_build" / "qa-bank.html").read_text(encoding="utf-8")
    assert bank.count("llmnotes-bank-item") == len(CARD["questions"]) and "```" not in bank
    assert all(f"llmnotes-tag-{tag}" in bank for tag in CARD["tags"])
    assert 'data-tag="attention"' in bank and "llmnotes.js" in bank
    sheet = (tmp_path / "_build" / "cheatsheet.html").read_text(encoding="utf-8")
    assert "5-minute summary" in sheet and "Deep detail" in sheet and "```" not in sheet
    glossary = (tmp_path / "_build" / "glossary.html").read_text(encoding="utf-8")
    assert "因果掩码" in glossary and 'id="term-Causal-mask"' in glossary


def test_undefined_glossary_term_fails_the_build(tmp_path):
    result = build(make_book(tmp_path, term="Quantum attention"))
    assert result.returncode != 0
    assert "term not in glossary" in result.stderr
