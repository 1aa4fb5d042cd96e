"""Command line: ``python -m llmnotes <command> ...``.

    execute NOTEBOOK...   re-execute notebooks in place, refreshing their stored outputs
    flashcards --out FILE export every study-card question as an Anki deck (.apkg) or TSV
    quiz                  ask study-card questions in the terminal (Leitner boxes)

Errors in the input (a bad card, an unknown tag, ...) exit with status 2 and a message.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def execute(notebooks: list[Path], timeout: int = 600) -> int:
    """Run each notebook top to bottom in its own folder and save it with its outputs."""
    import nbformat
    from nbclient import NotebookClient

    missing = [str(p) for p in notebooks if not p.is_file()]
    if missing:
        print(f"error: no such notebook: {', '.join(missing)}", file=sys.stderr)
        return 2
    for path in notebooks:
        start = time.perf_counter()
        notebook = nbformat.read(path, as_version=4)
        NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute()
        nbformat.write(notebook, path)
        print(f"executed {path} in {time.perf_counter() - start:.1f} s")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m llmnotes", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("execute", help="re-execute notebooks and store their outputs")
    run.add_argument("notebooks", nargs="+", type=Path)
    run.add_argument("--timeout", type=int, default=600, help="seconds per cell (default 600)")

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
    from .cards import CardError
    from .flashcards import ExportError, export
    from .quiz import QuizError, quiz
    try:
        if args.command == "flashcards":
            count = export(args.papers, args.out)
            print(f"wrote {count} notes to {args.out}")
        elif args.command == "quiz":
            quiz(args.papers, args.progress, args.tag, args.n)
        else:
            raise AssertionError(args.command)
    except (CardError, ExportError, QuizError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
