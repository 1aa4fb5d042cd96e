"""Command line: ``python -m llmnotes <command> ...``.

    execute NOTEBOOK...       re-execute notebooks in place, refreshing their stored outputs
    robustness NOTEBOOK...    re-run notebooks under other seeds and native numerics; update the record
    robustness --check        exit 0 only if the record is fresh and every reproduced claim held in every run
    numerics                  say whether outputs compare bit for bit here (strict) or not (lax), and why
    kernel                    install the .venv Jupyter kernel with pinned numerics
    flashcards --out FILE     export every study-card question as an Anki deck (.apkg) or TSV
    quiz                      ask study-card questions in the terminal (Leitner boxes)

Errors in the input (a bad card, an unknown tag, a missing notebook, ...) exit with status 2
and a message. Nothing here imports torch.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def execute(notebooks: list[Path], timeout: int = 600) -> int:
    """Run each notebook top to bottom in its own folder and save it with its outputs.

    No execution timestamps are stored (``record_timing=False``), so a re-executed notebook
    differs from the stored one only where its outputs do.
    """
    import nbformat
    from nbclient import NotebookClient

    missing = [str(p) for p in notebooks if not p.is_file()]
    if missing:
        print(f"error: no such notebook: {', '.join(missing)}", file=sys.stderr)
        return 2
    for path in notebooks:
        start = time.perf_counter()
        notebook = nbformat.read(path, as_version=4)
        NotebookClient(notebook, timeout=timeout, kernel_name="python3", record_timing=False,
                       resources={"metadata": {"path": str(path.parent)}}).execute()
        for cell in notebook.cells:
            cell.metadata.pop("execution", None)
        nbformat.write(notebook, path)
        print(f"executed {path} in {time.perf_counter() - start:.1f} s")
    return 0


def robustness(notebooks: list[Path], check: bool, seeds: list[int], jobs: int) -> int:
    from llmnotes.book import robustness as record

    root = Path.cwd()
    if check:
        ok, line = record.summary(root)
        print(line)
        return 0 if ok else 1
    if not notebooks:
        print("error: name the notebooks to re-run, or pass --check", file=sys.stderr)
        return 2
    missing = [str(p) for p in notebooks if not p.is_file()]
    if missing:
        print(f"error: no such notebook: {', '.join(missing)}", file=sys.stderr)
        return 2
    record.run(root, notebooks, tuple(seeds), jobs)
    return 0


def numerics_mode(shell: bool) -> int:
    """Print ``strict`` or ``lax: <reason>``; with ``shell``, ``export`` lines for bash instead."""
    import shlex

    from llmnotes import numerics

    mode, reason = numerics.mode()
    if not shell:
        print(mode if mode == "strict" else f"lax: {reason}")
        return 0
    exports = {**numerics.pin({}), "LLMNOTES_MODE": mode, "LLMNOTES_MODE_REASON": reason}
    print("\n".join(f"export {name}={shlex.quote(value)}" for name, value in exports.items()))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m llmnotes", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("execute", help="re-execute notebooks and store their outputs")
    run.add_argument("notebooks", nargs="+", type=Path)
    run.add_argument("--timeout", type=int, default=600, help="seconds per cell (default 600)")

    robust = commands.add_parser("robustness", help="re-run notebooks under other seeds; check the record")
    robust.add_argument("notebooks", nargs="*", type=Path)
    robust.add_argument("--check", action="store_true", help="check the record instead of running")
    robust.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds (default 0 1 2)")
    robust.add_argument("--jobs", type=int, default=2, help="notebooks run side by side (default 2)")

    numerics = commands.add_parser("numerics", help="strict or lax comparison of outputs on this machine")
    numerics.add_argument("--shell", action="store_true", help="print bash export lines (pins and mode)")
    kernel = commands.add_parser("kernel", help="install the Jupyter kernel with pinned numerics")
    kernel.add_argument("--prefix", type=Path, default=Path(sys.prefix), help="environment (default: this one)")

    cards = commands.add_parser("flashcards", help="export the study-card questions as flashcards")
    cards.add_argument("--out", type=Path, required=True,
                       help="the file to write; its suffix picks the format: .apkg (Anki) or .tsv")
    cards.add_argument("--papers", type=Path, default=Path("papers"),
                       help="the folder of study cards (default: papers)")

    quiz = commands.add_parser("quiz", help="ask study-card questions, most urgent first")
    quiz.add_argument("--tag", help="only questions from cards with this tag")
    quiz.add_argument("--n", type=int, default=10, help="how many questions (default 10)")
    quiz.add_argument("--papers", type=Path, default=Path("papers"),
                      help="the folder of study cards (default: papers)")
    quiz.add_argument("--progress", type=Path, default=Path("~/.llmnotes/progress.json"),
                      help="the progress file (default: ~/.llmnotes/progress.json)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "execute":
        return execute(args.notebooks, args.timeout)
    if args.command == "numerics":
        return numerics_mode(args.shell)
    if args.command == "kernel":
        from llmnotes.kernel import install

        print(f"installed the pinned-numerics kernel in {install(args.prefix)}")
        return 0
    from llmnotes.book.cards import CardError
    from llmnotes.book.flashcards import ExportError, export
    from llmnotes.book.quiz import QuizError, quiz
    try:
        if args.command == "robustness":
            return robustness(args.notebooks, args.check, args.seeds, args.jobs)
        if args.command == "flashcards":
            count = export(args.papers, args.out)
            print(f"wrote {count} notes to {args.out}")
        elif args.command == "quiz":
            quiz(args.papers, args.progress, args.tag, args.n)
        else:
            raise AssertionError(args.command)
    except (CardError, ExportError, QuizError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0
