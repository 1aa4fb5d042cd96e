"""Shared fixtures: small fake study cards written into ``tmp_path/papers``."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml


def _questions(key: str, count: int = 6) -> list[dict[str, str]]:
    """``count`` distinct questions whose text names the paper ``key``."""
    return [{"q": f"{key} question {i}?", "q_zh": f"{key} 问题 {i}?", "a": f"{key} answer {i}."}
            for i in range(1, count + 1)]


@pytest.fixture
def write_card(tmp_path):
    """``write_card(key, chapter, tags=..., questions=...)`` writes a valid card to tmp_path/papers."""
    papers = tmp_path / "papers"
    papers.mkdir(exist_ok=True)

    def write(key: str, chapter: str, tags: tuple[str, ...] = ("attention",),
              questions: list[dict[str, str]] | None = None) -> Path:
        slug = Path(chapter).stem
        card = {
            "chapter": chapter,
            "summary": f"What {key} is about.",
            "contributions": ["first", "second", "third"],
            "deep_detail": "One detail worth mastering.",
            "questions": questions if questions is not None else _questions(key),
            "claims": [{"id": f"{slug}/result", "statement": "It works."}],
            "tags": list(tags),
            "code": ["llmnotes.nn.attention"],
        }
        path = papers / f"{key}.yml"
        path.write_text(yaml.safe_dump(card, allow_unicode=True, sort_keys=False), encoding="utf-8")
        return path

    return write


@pytest.fixture
def study_book(tmp_path, write_card) -> Path:
    """Two cards whose book order (from ``_toc.yml``) is the reverse of their key order.

    vaswani2017 (tags attention, architecture) comes first, then kaplan2020 (tag scaling);
    six questions each. Returns the papers folder.
    """
    write_card("vaswani2017", "book/classics/transformer.ipynb", tags=("attention", "architecture"))
    write_card("kaplan2020", "book/method/scaling.ipynb", tags=("scaling",))
    toc = {"root": "intro", "parts": [{"chapters": [{"file": "book/classics/transformer"},
                                                    {"file": "book/method/scaling"}]}]}
    (tmp_path / "_toc.yml").write_text(yaml.safe_dump(toc), encoding="utf-8")
    return tmp_path / "papers"
