"""Learning BPE merges from a word-frequency dictionary (Sennrich et al., 2016, Section 3.2,
Algorithm 1), with the incremental pair counts the paper's footnote to Algorithm 1 asks for.

Algorithm 1 of the paper recounts every symbol pair of the whole dictionary before each merge.
"In practice, we increase efficiency by indexing all pairs, and updating data structures
incrementally" (Section 3.2): :func:`train_bpe` keeps

* the count of every adjacent pair, weighted by word frequency,
* for every pair, the set of words it occurs in (so a merge touches only those words), and
* a max-heap of ``(count, pair)`` with lazy deletion (a popped entry whose count is stale is
  pushed back with its current count),

so that one merge costs time proportional to the words that contain the merged pair, not to the
dictionary. Pairs never cross word boundaries, so the input is a dictionary ``word -> count``.

The result equals Hugging Face ``tokenizers``' ``BpeTrainer`` (``tokenizers/src/models/bpe/
trainer.rs``) merge for merge, including its rule for ties: among pairs of equal count the one
with the smallest ``(left id, right id)`` wins, where ids number the initial alphabet in
code-point order and then each new token in the order it was created. :func:`word_counts`
reproduces the byte-level pre-tokenisation of GPT-2 (Radford et al., 2019, Section 2.2), so
that the merges plug into :class:`llmnotes.tokenizers.bpe.Tokenizer`.
"""
from __future__ import annotations

import heapq
from collections import Counter
from dataclasses import dataclass
from functools import cached_property
from typing import Iterable, Mapping

from llmnotes.checks import non_negative_int, positive_int
from llmnotes.tokenizers.bpe import Tokenizer, apply_merges, bytes_to_unicode, merge_pair, pretokenize

Pair = tuple[int, int]


def byte_alphabet() -> list[str]:
    """The 256 characters that stand for the 256 bytes in byte-level BPE (GPT-2's map)."""
    return sorted(bytes_to_unicode().values())


def word_counts(texts: Iterable[str]) -> Counter[str]:
    """How often each byte-level pre-token occurs in ``texts`` (the dictionary BPE learns from)."""
    if isinstance(texts, str):
        raise ValueError("texts must be an iterable of str (e.g. a list of documents), not one str")
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(pretokenize(text))
    return counts


@dataclass(frozen=True)
class BPEModel:
    """What BPE training learns: the vocabulary and the merges in the order they were made.

    ``vocab[i]`` is the token with id ``i``: the alphabet (code-point order), then each token
    created by a merge. ``merges[r]`` is the pair merged at step ``r`` (its rank when encoding),
    ``counts[r]`` the pair's frequency when it was chosen.
    """

    vocab: list[str]
    merges: list[tuple[str, str]]
    counts: list[int]
    alphabet_size: int

    @cached_property
    def ranks(self) -> dict[tuple[str, str], int]:
        """Merge rank of each pair (its position in :attr:`merges`)."""
        return {pair: rank for rank, pair in enumerate(self.merges)}

    def segment(self, word: str | tuple[str, ...]) -> list[str]:
        """The pieces of one word (a ``str`` or a tuple of symbols): the learned merges applied
        in order (:func:`~llmnotes.tokenizers.bpe.apply_merges`); works for unseen words."""
        if not isinstance(word, (str, tuple)) or not word:
            raise ValueError(f"word must be a non-empty str or tuple of symbols, got {word!r}")
        return apply_merges(list(word), self.ranks)

    def tokenizer(self) -> Tokenizer:
        """A byte-level :class:`~llmnotes.tokenizers.bpe.Tokenizer` applying these merges (requires
        that the alphabet covers the 256 byte characters, as :func:`train_byte_level_bpe` ensures)."""
        missing = set(byte_alphabet()) - set(self.vocab[:self.alphabet_size])
        if missing:
            raise ValueError(f"the alphabet lacks {len(missing)} byte characters; train with alphabet=byte_alphabet()")
        return Tokenizer(self.vocab, [f"{a} {b}" for a, b in self.merges])

    def truncated(self, vocab_size: int) -> "BPEModel":
        """The model trained with a smaller ``vocab_size``: BPE is greedy, so a smaller budget
        stops the same sequence of merges earlier."""
        positive_int("vocab_size", vocab_size)
        if not self.alphabet_size <= vocab_size <= len(self.vocab):
            raise ValueError(f"vocab_size must be in [{self.alphabet_size}, {len(self.vocab)}], got {vocab_size}")
        n_merges = 0
        seen = set(self.vocab[:self.alphabet_size])
        for a, b in self.merges:
            if len(seen) >= vocab_size:
                break
            seen.add(a + b)
            n_merges += 1
        return BPEModel(self.vocab[:vocab_size], self.merges[:n_merges], self.counts[:n_merges], self.alphabet_size)


def train_bpe(counts: Mapping[str | tuple[str, ...], int], vocab_size: int, min_frequency: int = 0,
              alphabet: Iterable[str] = ()) -> BPEModel:
    """Learn BPE merges from a dictionary ``word -> frequency`` until the vocabulary has
    ``vocab_size`` tokens (Sennrich et al., 2016, Section 3.2: "the final symbol vocabulary size
    is equal to the size of the initial vocabulary, plus the number of merge operations").

    A word is a ``str`` (its characters are the initial symbols) or a tuple of symbols (e.g.
    ``("l", "o", "w", "</w>")`` with the paper's end-of-word symbol). The initial vocabulary is
    ``alphabet`` plus every symbol seen, sorted. At each step the most frequent adjacent pair is
    merged everywhere; ties go to the smallest ``(left id, right id)`` (HF ``BpeTrainer``'s
    rule). Training stops early when no pair occurs ``min_frequency`` times (and at least once).
    A merge whose string already exists (``"ab" + "c"`` after ``"a" + "bc"``) reuses its token.
    """
    positive_int("vocab_size", vocab_size)
    non_negative_int("min_frequency", min_frequency)
    if not counts:
        raise ValueError("counts is empty: BPE needs a non-empty word-frequency dictionary")
    words: list[list[str]] = []
    freqs: list[int] = []
    for word, freq in counts.items():
        if isinstance(word, str):
            symbols = list(word)
        elif isinstance(word, tuple) and all(isinstance(s, str) and s for s in word):
            symbols = list(word)
        else:
            raise ValueError(f"each word must be a str or a tuple of non-empty str, got {word!r}")
        if not symbols:
            raise ValueError("counts contains an empty word")
        positive_int(f"counts[{word!r}]", freq)
        words.append(symbols)
        freqs.append(freq)
    vocab = sorted(set(alphabet) | {s for w in words for s in w})
    if vocab_size < len(vocab):
        raise ValueError(f"vocab_size={vocab_size} is smaller than the initial alphabet ({len(vocab)} symbols)")
    alphabet_size = len(vocab)
    ids = {token: i for i, token in enumerate(vocab)}
    seqs = [[ids[s] for s in w] for w in words]

    # Index every pair: its weighted count and the words it occurs in.
    pair_count: dict[Pair, int] = {}
    where: dict[Pair, set[int]] = {}
    for i, (seq, freq) in enumerate(zip(seqs, freqs)):
        for pair in zip(seq, seq[1:]):
            pair_count[pair] = pair_count.get(pair, 0) + freq
            where.setdefault(pair, set()).add(i)
    heap = [(-count, pair) for pair, count in pair_count.items()]    # max count, then smallest ids
    heapq.heapify(heap)

    merges: list[tuple[str, str]] = []
    merge_counts: list[int] = []
    while len(vocab) < vocab_size and heap:
        negative, pair = heapq.heappop(heap)
        count = pair_count.get(pair, 0)
        if count != -negative:                   # stale entry: re-queue with the current count
            if count > 0:
                heapq.heappush(heap, (-count, pair))
            continue
        if count < max(min_frequency, 1):
            break
        a, b = pair
        token = vocab[a] + vocab[b]
        new = ids.get(token)
        if new is None:
            new = ids[token] = len(vocab)
            vocab.append(token)
        merges.append((vocab[a], vocab[b]))
        merge_counts.append(count)

        increased: set[Pair] = set()
        for i in where.pop(pair, ()):
            old = seqs[i]
            merged = merge_pair(old, a, b, new)
            if merged is None:                   # the word lost this pair to an earlier merge
                continue
            seqs[i] = merged
            delta: dict[Pair, int] = {}
            for p in zip(old, old[1:]):
                delta[p] = delta.get(p, 0) - 1
            for p in zip(merged, merged[1:]):
                delta[p] = delta.get(p, 0) + 1
            freq = freqs[i]
            for p, d in delta.items():
                if d == 0:
                    continue
                c = pair_count.get(p, 0) + d * freq
                if c > 0:
                    pair_count[p] = c
                else:
                    pair_count.pop(p, None)
                if d > 0:
                    where.setdefault(p, set()).add(i)
                    increased.add(p)
        for p in increased:
            if p in pair_count:
                heapq.heappush(heap, (-pair_count[p], p))
    return BPEModel(vocab, merges, merge_counts, alphabet_size)


def train_byte_level_bpe(texts: Iterable[str], vocab_size: int, min_frequency: int = 0) -> BPEModel:
    """Byte-level BPE as in GPT-2: GPT-2's pre-tokens, the 256 byte characters as the alphabet
    (so any text can be encoded, Radford et al., 2019, Section 2.2), then :func:`train_bpe`."""
    return train_bpe(word_counts(texts), vocab_size, min_frequency, alphabet=byte_alphabet())
