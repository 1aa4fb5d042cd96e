"""``python -m llmnotes``: the book's command line (:mod:`llmnotes.book.cli`)."""
import sys

from llmnotes.book.cli import main

sys.exit(main())
