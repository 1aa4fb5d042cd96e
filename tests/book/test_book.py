"""Book integrity: the chapters, cards, claims and citations agree with each other."""
import re
from pathlib import Path

import pytest
import yaml
from llmnotes.book import robustness
from llmnotes.book.bibliography import load_bib
from llmnotes.book.cards import load_cards, toc_documents
from llmnotes.book.notebooks import (
    TEMPLATE,
    checked_claim_ids,
    headings,
    read,
    stored_claim_lines,
)

ROOT = Path(__file__).resolve().parents[2]
CARDS = load_cards(ROOT / "papers")
CHAPTERS = sorted((ROOT / "book").glob("*/*.ipynb"))
CITE = re.compile(r"\{cite(?::\w+)?\}`([^`]+)`")
IMPORT = re.compile(r"^\s*(?:from (llmnotes[\w.]*) import (\([\w, \n]+\)|[\w, ]+)|import (llmnotes[\w.]*))", re.MULTILINE)
INCLUDE = re.compile(r"literalinclude\}\s*\.\./\.\./code/(llmnotes/[\w/]+)\.py")


def chapter_id(path: Path) -> str:
    return str(path.relative_to(ROOT))


def test_every_card_points_to_an_existing_chapter():
    missing = [card.chapter for card in CARDS if not (ROOT / card.chapter).is_file()]
    assert not missing, f"cards point to missing chapters: {missing}"


def test_every_chapter_has_a_card():
    carded = {card.chapter for card in CARDS}
    orphans = [chapter_id(p) for p in CHAPTERS if chapter_id(p) not in carded]
    assert not orphans, f"chapters without a study card in papers/: {orphans}"


def test_every_page_is_in_the_table_of_contents_and_vice_versa():
    toc = set(toc_documents(ROOT / "_toc.yml"))
    pages = {str(p.relative_to(ROOT).with_suffix("")) for p in (ROOT / "book").rglob("*")
             if p.suffix in (".md", ".ipynb") and ".ipynb_checkpoints" not in p.parts}
    assert pages == toc, f"not in _toc.yml: {sorted(pages - toc)}; missing files: {sorted(toc - pages)}"


@pytest.mark.parametrize("path", CHAPTERS, ids=chapter_id)
def test_chapter_follows_the_template_in_order(path):
    found = [h for h in headings(read(path)) if h in TEMPLATE]
    assert found == list(TEMPLATE), f"{chapter_id(path)}: template headings {found}"


@pytest.mark.parametrize("card", CARDS, ids=lambda c: c.key)
def test_card_claims_and_chapter_checks_match(card):
    checked = checked_claim_ids(read(ROOT / card.chapter))
    declared = [c.id for c in card.claims]
    assert sorted(set(checked)) == sorted(declared), (
        f"{card.key}: checked but not in card {sorted(set(checked) - set(declared))}; "
        f"in card but not checked {sorted(set(declared) - set(checked))}")


@pytest.mark.parametrize("card", CARDS, ids=lambda c: c.key)
def test_every_claim_has_a_stored_reproduced_or_honest_result(card):
    stored = {r.id: r.status for r in stored_claim_lines(read(ROOT / card.chapter))}
    missing = [c.id for c in card.claims if c.id not in stored]
    assert not missing, f"{card.chapter} has no stored output for {missing}; re-execute it"


@pytest.mark.parametrize("card", CARDS, ids=lambda c: c.key)
def test_chapter_renders_its_basic_info_and_interview_card(card):
    text = "\n".join(c.source for c in read(ROOT / card.chapter).cells if c.cell_type == "markdown")
    assert f"```{{paper-info}} {card.key}" in text
    assert f"```{{interview-card}} {card.key}" in text


def test_every_citation_key_is_in_the_bibliography():
    keys = set(load_bib(ROOT / "papers" / "references.bib").entries)
    cited = set()
    for path in [*CHAPTERS, *(ROOT / "book").rglob("*.md")]:
        text = path.read_text(encoding="utf-8")
        cited |= {k.strip() for group in CITE.findall(text) for k in group.split(",")}
    assert cited - keys == set(), f"cited but not in references.bib: {sorted(cited - keys)}"


def test_every_card_has_a_bibliography_entry():
    keys = set(load_bib(ROOT / "papers" / "references.bib").entries)
    assert {c.key for c in CARDS} <= keys


@pytest.mark.parametrize("path", CHAPTERS, ids=chapter_id)
def test_chapter_is_stored_executed_without_errors(path):
    notebook = read(path)
    code_cells = [c for c in notebook.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code_cells), f"{chapter_id(path)} has unexecuted cells"
    errors = [o for c in code_cells for o in c.outputs if o.output_type == "error"]
    assert not errors, f"{chapter_id(path)} stores an error output"


@pytest.mark.parametrize("path", CHAPTERS, ids=chapter_id)
def test_checked_outputs_do_not_depend_on_where_the_book_is_installed(path):
    # nbval compares these outputs on every machine: a path (e.g. in a library warning) fails a fresh clone
    checked = [c for c in read(path).cells if c.cell_type == "code" and "NBVAL_IGNORE_OUTPUT" not in c.source]
    texts = [o.get("text", "") for c in checked for o in c.outputs if o.output_type == "stream"]
    leaks = [t for t in texts if str(ROOT) in t or "site-packages" in t]
    assert not leaks, f"{chapter_id(path)} stores machine-specific paths: {leaks[0][:120]!r}"


@pytest.mark.parametrize("path", CHAPTERS, ids=chapter_id)
def test_chapter_calls_setup_first(path):
    first_code = next(c for c in read(path).cells if c.cell_type == "code")
    assert "setup(" in first_code.source


def test_config_registers_the_extension():
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    assert "llmnotes.book.sphinx_ext" in config["sphinx"]["extra_extensions"]
    assert config["execute"]["execute_notebooks"] == "off"


@pytest.mark.parametrize("path", CHAPTERS, ids=chapter_id)
def test_stored_notebooks_carry_no_execution_timestamps(path):
    stamped = [i for i, c in enumerate(read(path).cells) if "execution" in c.metadata]
    assert not stamped, f"{chapter_id(path)}: cells {stamped} keep execution timestamps; re-run code/bin/execute"


@pytest.mark.parametrize("path", CHAPTERS, ids=chapter_id)
def test_every_figure_is_numbered_captioned_and_referenced(path):
    notebook = read(path)
    prose = "\n".join(c.source for c in notebook.cells if c.cell_type == "markdown")
    for i, cell in enumerate(notebook.cells):
        images = [o for o in cell.get("outputs", []) if "image/png" in o.get("data", {})]
        if not images:
            continue
        figure = cell.metadata.get("mystnb", {}).get("figure", {})
        assert figure.get("caption") and figure.get("name", "").startswith("fig-"), (
            f"{chapter_id(path)} cell {i}: a figure needs metadata mystnb.figure.caption and name 'fig-...'")
        assert f"{{numref}}`{figure['name']}`" in prose, f"{chapter_id(path)}: the text never refers to {figure['name']}"


@pytest.mark.parametrize("path", CHAPTERS, ids=chapter_id)
def test_experiments_draw_from_their_own_generators(path):
    code = "\n".join(c.source for c in read(path).cells if c.cell_type == "code")
    seeded = re.findall(r"torch\.manual_seed\(|Generator\(\)\.manual_seed\(|np\.random\.seed\(", code)
    assert not seeded, (f"{chapter_id(path)} seeds a generator itself; start each experiment with "
                        "llmnotes.runtime.experiment(name) so that LLMNOTES_SEED changes it and re-running a cell reproduces it")


def chapter_modules(path: Path) -> set[str]:
    """The llmnotes modules a chapter imports in its code cells or shows with literalinclude."""
    notebook = read(path)
    code = "\n".join(c.source for c in notebook.cells if c.cell_type == "code")
    modules = set()
    for module, names, plain in IMPORT.findall(code):
        base = module or plain
        submodules = {f"{base}.{n.split()[0]}" for n in names.strip("()").split(",") if n.strip()}
        modules |= {m for m in submodules if (ROOT / "code" / (m.replace(".", "/") + ".py")).is_file()} or {base}
    prose = "\n".join(c.source for c in notebook.cells if c.cell_type == "markdown")
    modules |= {m.replace("/", ".") for m in INCLUDE.findall(prose)}
    return modules - {"llmnotes", "llmnotes.claims", "llmnotes.runtime"}


@pytest.mark.parametrize("card", CARDS, ids=lambda c: c.key)
def test_card_lists_exactly_the_modules_its_chapter_uses(card):
    used = chapter_modules(ROOT / card.chapter)
    assert set(card.code) == used, (f"{card.key}: code: should be {sorted(used)}; "
                                    f"extra {sorted(set(card.code) - used)}, missing {sorted(used - set(card.code))}")


def test_the_robustness_record_is_fresh_and_every_reproduced_claim_held():
    problems = robustness.problems(ROOT)
    assert not problems, "\n".join(problems)
