"""The library's layout: no import cycles, the book's tooling free of torch, no orphan modules."""
import ast
import subprocess
import sys
from pathlib import Path

import pytest

from llmnotes.book.cards import load_cards

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "code" / "llmnotes"
ENTRY_POINTS = {"llmnotes", "llmnotes.__main__", "llmnotes.kernel",   # imports, `python -m`, the Jupyter kernel
                "llmnotes.book.sphinx_ext", "llmnotes.book.budget"}    # _config.yml, code/bin/test
TORCH_FREE = {"llmnotes", "llmnotes.__main__", "llmnotes.numerics", "llmnotes.checks", "llmnotes.claims",
              "llmnotes.kernel"}                                           # and every llmnotes.book module


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _import_nodes(tree: ast.Module, top_level: bool):
    """Import statements anywhere, or only those that run when the module is imported."""
    if not top_level:
        yield from (n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom)))
        return
    todo = list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            todo += [child for child in ast.iter_child_nodes(node) if isinstance(child, ast.stmt)]


def imports(name: str, top_level: bool = False) -> set[str]:
    """The llmnotes modules (and third-party top-level packages) ``name`` imports.

    ``from llmnotes import numerics`` depends on the module ``llmnotes.numerics``, not on the
    package's ``__init__``; ``from llmnotes import setup`` depends on the package.
    """
    found = set()
    package = name if MODULES[name].name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    for node in _import_nodes(tree, top_level):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
            continue
        base = node.module or ""
        if node.level:
            parts = package.split(".")
            base = ".".join(parts[:len(parts) - node.level + 1] + ([base] if base else []))
        submodules = {f"{base}.{alias.name}" for alias in node.names} & set(MODULES)
        found |= submodules
        if len(submodules) < len(node.names):
            found.add(base)
    return {m for m in found if m in MODULES or not m.startswith("llmnotes")}


GRAPH = {name: {m for m in imports(name) if m in MODULES and m != name} for name in MODULES}


def test_no_module_imports_another_in_a_circle():
    state, cycles = {}, []

    def visit(node, stack):
        state[node] = "open"
        for child in sorted(GRAPH[node]):
            if state.get(child) == "open":
                cycles.append(stack[stack.index(child):] + [child])
            elif child not in state:
                visit(child, stack + [child])
        state[node] = "done"

    for name in sorted(GRAPH):
        if name not in state:
            visit(name, [name])
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


TOP_LEVEL = {name: {m for m in imports(name, top_level=True) if m in MODULES and m != name} for name in MODULES}


def _reachable(start: set[str], graph: dict[str, set[str]] = GRAPH) -> set[str]:
    seen, todo = set(), list(start)
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo += graph.get(name, ())
    return seen


@pytest.mark.parametrize("name", sorted(m for m in MODULES if m in TORCH_FREE or m.startswith("llmnotes.book")))
def test_the_books_tooling_and_the_package_root_import_no_torch(name):
    heavy = {m for m in _reachable({name}, TOP_LEVEL) for dep in imports(m, top_level=True)
             if dep.split(".")[0] in ("torch", "triton")}
    assert not heavy, f"{name} reaches torch through {sorted(heavy)}"


def test_the_quiz_command_imports_no_torch():
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "llmnotes", "quiz", "--help"],
                            capture_output=True, text=True, check=True)
    imported = {line.split("|")[-1].strip().split(".")[0] for line in result.stderr.splitlines() if "|" in line}
    assert "torch" not in imported and "numpy" not in imported


def test_every_module_is_used_by_a_chapter_or_another_module():
    cards = load_cards(ROOT / "papers")
    listed = {m for card in cards for m in card.code}
    unknown = sorted(listed - set(MODULES))
    assert not unknown, f"cards list modules that do not exist: {unknown}"
    used = _reachable(listed | ENTRY_POINTS) | {m for deps in GRAPH.values() for m in deps}
    packages = {name for name, path in MODULES.items() if path.name == "__init__.py"}
    orphans = sorted(set(MODULES) - used - packages)
    assert not orphans, f"modules no card lists and no module imports: {orphans}"
