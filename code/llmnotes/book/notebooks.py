"""What the book-integrity tests and the claims ledger read from a chapter notebook."""
from __future__ import annotations

import re
from pathlib import Path

import nbformat

from llmnotes.claims import ClaimResult, parse_lines

# The paper-notes template (DESIGN.md, "A chapter"): level-2 headings, in this order.
TEMPLATE = (
    "Basic info (基本信息)",
    "Core problem (核心问题)",
    "Core contributions (核心贡献)",
    "Method (方法)",
    "Experiments: reproducing the key results (实验)",
    "Strengths and limitations (优缺点)",
    "Takeaways (启发)",
    "Related papers (相关论文)",
    "Interview card (面试速记)",
)
_HEADING = re.compile(r"^##\s+(.+?)\s*$", re.MULTILINE)
_CHECK = re.compile(r"""check\(\s*["']([^"']+)["']""")


def read(path: Path | str) -> nbformat.NotebookNode:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such notebook: {path}")
    return nbformat.read(path, as_version=4)


def headings(notebook: nbformat.NotebookNode) -> list[str]:
    """Level-2 headings of the markdown cells, in order."""
    return [h for cell in notebook.cells if cell.cell_type == "markdown" for h in _HEADING.findall(cell.source)]


def checked_claim_ids(notebook: nbformat.NotebookNode) -> list[str]:
    """Claim ids passed to ``check(...)`` in the code cells."""
    return [i for cell in notebook.cells if cell.cell_type == "code" for i in _CHECK.findall(cell.source)]


def stored_claim_lines(notebook: nbformat.NotebookNode) -> list[ClaimResult]:
    """The claim lines in the stored (executed) outputs."""
    text = "\n".join(
        output.get("text", "")
        for cell in notebook.cells if cell.cell_type == "code"
        for output in cell.get("outputs", []) if output.get("output_type") == "stream"
    )
    return parse_lines(text)
