"""Byte-level BPE (Radford et al., 2019, Section 2.2; Sennrich et al., 2016): GPT-2's tokenizer,
as used by SmolLM2 and most Llama-family models.

Text is split into pre-tokens (words, numbers, punctuation runs, whitespace), each pre-token's
UTF-8 bytes are mapped to printable characters (so every byte sequence has a spelling), and
learned merges are applied in rank order. The vocabulary and merges come from a model file
(:func:`llmnotes.weights.gguf.tokenizer_from_gguf`).
"""
from __future__ import annotations

from functools import lru_cache

import torch


@lru_cache(maxsize=1)
def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible map from the 256 bytes to printable characters (spaces become 'Ġ')."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) \
        + list(range(ord("®"), ord("ÿ") + 1))
    chars, extra = {}, 0
    for b in range(256):
        if b in printable:
            chars[b] = chr(b)
        else:
            chars[b] = chr(256 + extra)
            extra += 1
    return chars


# GPT-2's pre-tokenisation: contractions, letters, numbers, other symbols, whitespace runs.
GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""


def pretokenize(text: str) -> list[str]:
    """GPT-2's pre-tokens of ``text`` (words with their leading space, numbers, punctuation runs,
    whitespace), each spelled with one character per UTF-8 byte: ``" the" -> "Ġthe"``."""
    import regex

    if not isinstance(text, str):
        raise ValueError(f"text must be a str, got {type(text).__name__}")
    byte_char = bytes_to_unicode()
    return ["".join(byte_char[b] for b in piece.encode("utf-8")) for piece in regex.findall(GPT2_PATTERN, text)]


def merge_pair(symbols: list, a, b, new) -> list | None:
    """``symbols`` with every occurrence of the pair ``(a, b)`` replaced by ``new``, left to right and
    non-overlapping (``a a a`` with ``(a, a)`` gives ``aa a``); ``None`` if the pair is absent."""
    n, i, out, found = len(symbols), 0, [], False
    while i < n:
        if i + 1 < n and symbols[i] == a and symbols[i + 1] == b:
            out.append(new)
            i += 2
            found = True
        else:
            out.append(symbols[i])
            i += 1
    return out if found else None


def apply_merges(parts: list[str], ranks: dict[tuple[str, str], int]) -> list[str]:
    """Merge adjacent symbols of one word, the pair with the lowest merge rank first (every
    occurrence of it, left to right), until no adjacent pair has a rank (Sennrich et al., 2016,
    Section 3.2: "apply the learned operations to merge the characters into larger, known symbols")."""
    parts = list(parts)
    while len(parts) > 1:
        pairs = [(ranks.get(pair, float("inf")), i) for i, pair in enumerate(zip(parts, parts[1:]))]
        rank, i = min(pairs)
        if rank == float("inf"):
            break
        first, second = parts[i], parts[i + 1]
        parts = merge_pair(parts, first, second, first + second)
    return parts


class Tokenizer:
    """Byte-level BPE: split text into words, map bytes to characters, apply merges by rank.

    Special tokens (``<|im_start|>``, ``<|im_end|>``, ...) are matched verbatim before BPE.
    """

    def __init__(self, tokens: list[str], merges: list[str], special: list[int] = (), eos_id: int | None = None,
                 chat_system: str | None = None):
        import regex

        self.tokens = tokens
        self.ids = {tok: i for i, tok in enumerate(tokens)}
        self.ranks = {tuple(m.split(" ")): r for r, m in enumerate(merges)}
        self.special = {tokens[i]: i for i in special}
        self._special_ids = set(self.special.values())
        self.eos_id = eos_id
        self.chat_system = chat_system
        self._split_special = regex.compile("(" + "|".join(regex.escape(s) for s in
                                                           sorted(self.special, key=len, reverse=True)) + ")") \
            if self.special else None
        self._char_byte = {c: b for b, c in bytes_to_unicode().items()}
        self._cache: dict[str, list[int]] = {}

    def _bpe(self, word: str) -> list[int]:
        """Merge the characters of one pre-token, lowest merge rank first, until none applies."""
        if word in self._cache:
            return self._cache[word]
        ids = [self.ids[p] for p in apply_merges(list(word), self.ranks)]
        self._cache[word] = ids
        return ids

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` (no BOS is added: ``tokenizer.ggml.add_bos_token`` is false)."""
        if not isinstance(text, str):
            raise ValueError(f"encode expects a str, got {type(text).__name__}")
        ids: list[int] = []
        chunks = self._split_special.split(text) if self._split_special is not None else [text]
        for i, chunk in enumerate(chunks):
            if i % 2:  # a special token
                ids.append(self.special[chunk])
                continue
            for word in pretokenize(chunk):
                ids.extend(self._bpe(word))
        return ids

    def decode(self, ids) -> str:
        """Text of ``ids`` (special tokens included as their text)."""
        ids = ids.tolist() if isinstance(ids, torch.Tensor) else list(ids)
        if any(not 0 <= i < len(self.tokens) for i in ids):
            raise ValueError(f"token ids must be in [0, {len(self.tokens)})")
        data = bytearray()
        for i in ids:
            token = self.tokens[i]
            if i in self._special_ids:
                data += token.encode("utf-8")
            else:
                data += bytes(self._char_byte[c] for c in token)
        return data.decode("utf-8", errors="replace")

    def chat(self, messages: list[dict]) -> list[int]:
        """ChatML prompt of the GGUF's ``tokenizer.chat_template``, ending with the assistant turn.

        ``<|im_start|>{role}\\n{content}<|im_end|>\\n`` per message, the default system message
        first unless one is given, then ``<|im_start|>assistant\\n``.
        """
        if not messages or any(not isinstance(m, dict) or "role" not in m or "content" not in m
                               for m in messages):
            raise ValueError("messages must be a non-empty list of {'role': ..., 'content': ...} dicts")
        text = ""
        if messages[0]["role"] != "system" and self.chat_system is not None:
            text += f"<|im_start|>system\n{self.chat_system}<|im_end|>\n"
        for m in messages:
            text += f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n"
        return self.encode(text + "<|im_start|>assistant\n")
