"""Tokenizers: character-level, BERT's WordPiece, GPT-2's byte-level BPE."""
