"""BERT's WordPiece tokenizer (Devlin et al., 2019, Section 3 "Input/Output Representations").

Two stages, as in the released BERT code:

1. :func:`basic_tokenize` cleans the text (drops control characters, maps every whitespace
   character to a space), puts spaces around CJK ideographs (Chinese characters become
   one-character words), optionally lower-cases and strips accents (NFD, then drop the
   combining marks), and splits every word on punctuation.
2. :meth:`WordPiece.wordpiece` cuts each word into vocabulary pieces, greedy longest match
   first; pieces after the first carry the ``##`` prefix. A word that cannot be covered
   entirely becomes ``[UNK]``.

:meth:`WordPiece.encode` adds ``[CLS]`` and ``[SEP]`` (and a second segment with
``token_type_ids`` 1, the input format of Figure 2 of the paper).
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import torch

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def is_whitespace(char: str) -> bool:
    """Space, tab, newline, carriage return, and the Unicode space separators (category Zs)."""
    return char in " \t\n\r" or unicodedata.category(char) == "Zs"


def is_control(char: str) -> bool:
    """Control and format characters (categories Cc, Cf), except the whitespace ones."""
    return char not in "\t\n\r" and unicodedata.category(char) in ("Cc", "Cf")


def is_punctuation(char: str) -> bool:
    """Every non-letter, non-digit, non-space ASCII character (so ``$``, ``^`` and `` ` ``
    count, as in BERT), plus all Unicode punctuation (categories P*)."""
    cp = ord(char)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(char).startswith("P")


def is_cjk(char: str) -> bool:
    """CJK Unified Ideographs and their extensions and compatibility blocks (not kana or hangul)."""
    cp = ord(char)
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF
            or 0x2A700 <= cp <= 0x2B73F or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF
            or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)


def strip_accents(text: str) -> str:
    """Decompose (NFD) and drop the combining marks: ``"café" -> "cafe"``."""
    return "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")


def split_on_punctuation(word: str) -> list[str]:
    """``"don't!" -> ["don", "'", "t", "!"]``: each punctuation character is its own token."""
    pieces: list[str] = []
    start_new = True
    for char in word:
        if is_punctuation(char):
            pieces.append(char)
            start_new = True
        else:
            if start_new:
                pieces.append("")
            pieces[-1] += char
            start_new = False
    return pieces


def basic_tokenize(text: str, lower_case: bool = True) -> list[str]:
    """BERT's BasicTokenizer: clean, isolate CJK characters, lower-case and strip accents,
    split on whitespace and punctuation. Special tokens are not recognised inside ``text``."""
    if not isinstance(text, str):
        raise ValueError(f"text must be a str, got {type(text).__name__}")
    chars = []
    for char in text:
        if char in ("\x00", "\ufffd") or is_control(char):
            continue
        if is_whitespace(char):
            chars.append(" ")
        elif is_cjk(char):
            chars.append(f" {char} ")
        else:
            chars.append(char)
    words = []
    for word in "".join(chars).split():
        if lower_case:
            word = strip_accents(word.lower())
        words.extend(piece for piece in split_on_punctuation(word) if piece)
    return words


@dataclass
class WordPiece:
    """A WordPiece vocabulary (token -> id, in file order) and the tokenizer around it."""

    vocab: dict[str, int]
    lower_case: bool = True
    max_chars_per_word: int = 100
    inverse: dict[int, str] = field(init=False, repr=False)

    def __post_init__(self):
        missing = [t for t in SPECIAL_TOKENS if t not in self.vocab]
        if missing:
            raise ValueError(f"the vocabulary lacks the special tokens {missing}")
        self.inverse = {i: t for t, i in self.vocab.items()}

    @classmethod
    def from_file(cls, path: str | Path, lower_case: bool = True) -> "WordPiece":
        """Read a ``vocab.txt``: one token per line, the id is the line number."""
        path = Path(path)
        if path.is_dir():
            path = path / "vocab.txt"
        if not path.is_file():
            raise ValueError(f"no vocabulary file at {path}")
        tokens = path.read_text(encoding="utf-8").split("\n")
        if tokens and tokens[-1] == "":
            tokens.pop()
        return cls({token.rstrip("\r"): i for i, token in enumerate(tokens)}, lower_case)

    def __len__(self) -> int:
        return len(self.vocab)

    def id(self, token: str) -> int:
        return self.vocab[token]

    def wordpiece(self, word: str) -> list[str]:
        """Greedy longest-match-first segmentation of one word; ``[UNK]`` if it cannot be covered."""
        if len(word) > self.max_chars_per_word:
            return ["[UNK]"]
        pieces, start = [], 0
        while start < len(word):
            end = len(word)
            while end > start:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self.vocab:
                    break
                end -= 1
            else:
                return ["[UNK]"]
            pieces.append(piece)
            start = end
        return pieces

    def tokenize(self, text: str) -> list[str]:
        """Text to WordPiece tokens, without ``[CLS]``/``[SEP]``."""
        return [piece for word in basic_tokenize(text, self.lower_case) for piece in self.wordpiece(word)]

    def encode(self, text: str, pair: str | None = None, max_length: int = 512) -> tuple[list[int], list[int]]:
        """``[CLS] text [SEP]`` (and ``pair [SEP]``) as ids, with their token_type_ids (0, then 1).

        Sequences longer than ``max_length`` are truncated, the longer segment first."""
        first = [self.vocab[t] for t in self.tokenize(text)]
        second = [self.vocab[t] for t in self.tokenize(pair)] if pair is not None else None
        room = max_length - (3 if second is not None else 2)
        if room < 0:
            raise ValueError(f"max_length={max_length} leaves no room for the special tokens")
        while len(first) + len(second or []) > room:
            if second is not None and len(second) > len(first):
                second.pop()
            else:
                first.pop()
        cls_id, sep_id = self.vocab["[CLS]"], self.vocab["[SEP]"]
        ids = [cls_id] + first + [sep_id]
        types = [0] * len(ids)
        if second is not None:
            ids += second + [sep_id]
            types += [1] * (len(second) + 1)
        return ids, types

    def batch(self, texts: list[str], max_length: int = 512) -> dict[str, torch.Tensor]:
        """Encode single sentences and pad them with ``[PAD]`` to the longest: ``input_ids``,
        ``token_type_ids`` and ``attention_mask`` (1 = real token), each ``(batch, n)``."""
        if not texts:
            raise ValueError("batch needs at least one text")
        encoded = [self.encode(t, max_length=max_length) for t in texts]
        n = max(len(ids) for ids, _ in encoded)
        pad = self.vocab["[PAD]"]
        return {
            "input_ids": torch.tensor([ids + [pad] * (n - len(ids)) for ids, _ in encoded]),
            "token_type_ids": torch.tensor([types + [0] * (n - len(types)) for _, types in encoded]),
            "attention_mask": torch.tensor([[1] * len(ids) + [0] * (n - len(ids)) for ids, _ in encoded]),
        }

    def decode(self, ids: list[int] | torch.Tensor) -> str:
        """Ids back to text: join pieces, glue ``##`` continuations, drop ``[PAD]``."""
        ids = ids.tolist() if isinstance(ids, torch.Tensor) else ids
        text = " ".join(self.inverse[i] for i in ids if self.inverse[i] != "[PAD]")
        return text.replace(" ##", "")
