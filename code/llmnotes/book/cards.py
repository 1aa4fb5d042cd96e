"""Study cards: one YAML file per paper in ``papers/``, named ``<bibkey>.yml``.

A card is the single source of a chapter's interview material (DESIGN.md, "The three
sources of truth"). Fields::

    chapter: book/classics/transformer.ipynb   # the chapter that studies the paper
    summary: ...                               # the 5-minute spoken summary
    contributions: [..., ..., ...]             # exactly three
    deep_detail: ...                           # one technical detail worth mastering
    questions: [{q, q_zh, a}, ...]             # at least five
    claims: [{id, statement}, ...]             # results the chapter re-measures
    tags: [...]
    code: [llmnotes.nn.attention, ...]         # the library modules the chapter uses

:func:`load_card` raises :class:`CardError` naming the file, the field and what is wrong.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

MIN_QUESTIONS = 6
N_CONTRIBUTIONS = 3
FIELDS = ("chapter", "summary", "contributions", "deep_detail", "questions", "claims", "tags", "code")
_MODULE = re.compile(r"^llmnotes(\.[a-z_][a-z0-9_]*)+$")
_TAG = re.compile(r"^[a-z0-9][a-z0-9-]*$")


class CardError(ValueError):
    """A malformed study card; the message names the file and the field."""


@dataclass(frozen=True)
class Question:
    q: str
    q_zh: str
    a: str


@dataclass(frozen=True)
class Claim:
    id: str
    statement: str


@dataclass(frozen=True)
class Card:
    key: str
    path: Path
    chapter: str
    summary: str
    contributions: tuple[str, ...]
    deep_detail: str
    questions: tuple[Question, ...]
    claims: tuple[Claim, ...]
    tags: tuple[str, ...]
    code: tuple[str, ...]

    @property
    def part(self) -> str:
        """The book part, from the chapter path: ``book/<part>/<slug>``."""
        return Path(self.chapter).parts[1]

    @property
    def slug(self) -> str:
        return Path(self.chapter).stem

    @property
    def docname(self) -> str:
        """The chapter's Sphinx document name (path without suffix)."""
        return str(Path(self.chapter).with_suffix(""))


def _text(data: dict, field: str, fail) -> str:
    value = data.get(field)
    if not isinstance(value, str) or not value.strip():
        fail(field, f"must be a non-empty string, got {value!r}")
    return value.strip()


def read_yaml(path: Path, error: type[ValueError], what: str) -> object:
    """Parse a YAML file, raising ``error`` that names the file if it is missing or invalid."""
    if not path.is_file():
        raise error(f"{path}: no such {what} file")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as problem:
        raise error(f"{path}: not valid YAML: {problem}") from None


def load_card(path: Path | str) -> Card:
    """Load and validate one card."""
    path = Path(path)

    def fail(field: str, problem: str):
        raise CardError(f"{path}: field '{field}' {problem}")

    data = read_yaml(path, CardError, "card")
    if not isinstance(data, dict):
        raise CardError(f"{path}: a card must be a mapping of fields, got {type(data).__name__}")
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise CardError(f"{path}: unknown field(s) {unknown}; allowed: {list(FIELDS)}")
    for field in FIELDS:
        if field not in data:
            fail(field, "is missing")

    chapter = _text(data, "chapter", fail)
    parts = Path(chapter).parts
    if len(parts) != 3 or parts[0] != "book" or Path(chapter).suffix not in (".ipynb", ".md"):
        fail("chapter", f"must be 'book/<part>/<slug>.ipynb' or '.md', got {chapter!r}")

    contributions = data["contributions"]
    if not isinstance(contributions, list) or len(contributions) != N_CONTRIBUTIONS:
        fail("contributions", f"must be a list of exactly {N_CONTRIBUTIONS} strings")
    for i, item in enumerate(contributions):
        if not isinstance(item, str) or not item.strip():
            fail(f"contributions[{i}]", "must be a non-empty string")

    questions = data["questions"]
    if not isinstance(questions, list) or len(questions) < MIN_QUESTIONS:
        fail("questions", f"must be a list of at least {MIN_QUESTIONS} questions")
    parsed_questions = []
    for i, item in enumerate(questions):
        if not isinstance(item, dict) or set(item) != {"q", "q_zh", "a"}:
            fail(f"questions[{i}]", f"must have exactly the keys q, q_zh, a; got {item!r:.80}")
        parsed_questions.append(Question(*(_text(item, k, lambda f, p: fail(f"questions[{i}].{f}", p))
                                           for k in ("q", "q_zh", "a"))))
    seen_q = [q.q for q in parsed_questions]
    if len(set(seen_q)) != len(seen_q):
        fail("questions", "contains the same question twice")

    claims = data["claims"]
    if not isinstance(claims, list) or not claims:
        fail("claims", "must be a non-empty list of {id, statement}")
    parsed_claims = []
    for i, item in enumerate(claims):
        if not isinstance(item, dict) or set(item) != {"id", "statement"}:
            fail(f"claims[{i}]", "must have exactly the keys id, statement")
        claim_id = _text(item, "id", lambda f, p: fail(f"claims[{i}].{f}", p))
        prefix = Path(chapter).stem
        if not claim_id.startswith(prefix + "/"):
            fail(f"claims[{i}].id", f"must start with the chapter slug '{prefix}/', got {claim_id!r}")
        parsed_claims.append(Claim(claim_id, _text(item, "statement", lambda f, p: fail(f"claims[{i}].{f}", p))))
    ids = [c.id for c in parsed_claims]
    if len(set(ids)) != len(ids):
        fail("claims", "contains the same id twice")

    tags = data["tags"]
    if not isinstance(tags, list) or not tags or not all(isinstance(t, str) and _TAG.match(t) for t in tags):
        fail("tags", f"must be a non-empty list of lowercase words joined by '-', got {tags!r}")

    code = data["code"]
    if not isinstance(code, list) or not code or not all(isinstance(m, str) and _MODULE.match(m) for m in code):
        fail("code", f"must be a non-empty list of module names like 'llmnotes.models.gpt', got {code!r}")
    if len(set(code)) != len(code):
        fail("code", "lists a module twice")

    return Card(
        key=path.stem,
        path=path,
        chapter=chapter,
        summary=_text(data, "summary", fail),
        contributions=tuple(c.strip() for c in contributions),
        deep_detail=_text(data, "deep_detail", fail),
        questions=tuple(parsed_questions),
        claims=tuple(parsed_claims),
        tags=tuple(tags),
        code=tuple(code),
    )


def load_cards(papers: Path | str) -> list[Card]:
    """Every card in a ``papers/`` folder, in book order when ``_toc.yml`` sits beside it."""
    papers = Path(papers)
    if not papers.is_dir():
        raise CardError(f"{papers}: no such folder of study cards")
    cards = [load_card(p) for p in sorted(papers.glob("*.yml"))]
    toc = papers.parent / "_toc.yml"
    if toc.is_file():
        order = {doc: i for i, doc in enumerate(toc_documents(toc))}
        cards.sort(key=lambda c: (order.get(c.docname, len(order)), c.key))
    return cards


def toc_documents(toc: Path | str) -> list[str]:
    """The document names of ``_toc.yml`` in reading order (root first)."""
    data = yaml.safe_load(Path(toc).read_text(encoding="utf-8"))
    docs = [data["root"]]

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                docs.append(node["file"])
            for key in ("parts", "chapters", "sections"):
                for child in node.get(key, []):
                    walk(child)

    walk(data)
    return docs
