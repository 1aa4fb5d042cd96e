"""The book's own tooling: the Sphinx extension and generated pages, study cards, bibliography,
glossary, claims ledger, robustness record, flashcards, quiz and the command line. Imports no torch."""
