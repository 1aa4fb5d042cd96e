"""A generated translation-like task whose true word alignment is known, for attention models.

Built for the chapter on Bahdanau, Cho & Bengio (2015), "Neural Machine Translation by Jointly
Learning to Align and Translate" (ICLR 2015). Its Figure 2 shows a fixed-vector encoder-decoder
degrading as sentences get longer, and its Figure 3 shows learned soft alignments; here both can
be measured because every target word has one known source word:

* **dictionary** - source word ``w`` translates to target word ``DICTIONARY[w]`` (a fixed
  permutation), so each target word needs exactly one source word;
* **local reordering** - adjacent words swap places: target position ``i`` translates source
  position ``i XOR 1`` (``0<->1``, ``2<->3``, ...; an odd last word stays), like an
  adjective-noun swap between English and French;
* **variable length** - sources have ``min_len`` to ``max_len`` words, and the target has as many
  words, then EOS, which is aligned to the source EOS.

Token ids: ``PAD = 0``, ``BOS = 1``, ``EOS = 2``, words ``3 .. 3 + N_WORDS - 1`` in both languages.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from llmnotes.checks import positive_int

PAD, BOS, EOS = 0, 1, 2
N_SPECIAL = 3
N_WORDS = 24
VOCAB_SIZE = N_SPECIAL + N_WORDS
# The dictionary: a fixed permutation of the word ids (the same for every seed; only sentences are random).
DICTIONARY = torch.cat([torch.arange(N_SPECIAL), N_SPECIAL + (7 * torch.arange(N_WORDS) + 5) % N_WORDS])


def true_alignment(n: int) -> torch.Tensor:
    """The source position each of the ``n`` target words translates: ``i XOR 1``, odd tail fixed."""
    positive_int("n", n)
    i = torch.arange(n)
    j = i ^ 1
    return torch.where(j < n, j, i)


@dataclass(frozen=True)
class AlignmentBatch:
    """One batch; ``S = max_len + 1`` (words, EOS, padding) and ``T = max_len + 1``."""

    src: torch.Tensor        # (B, S) source words, EOS, PAD
    src_len: torch.Tensor    # (B,) number of source tokens including EOS
    tgt_in: torch.Tensor     # (B, T) BOS, target words, PAD (decoder input, teacher forcing)
    tgt_out: torch.Tensor    # (B, T) target words, EOS, PAD (what the decoder must predict)
    alignment: torch.Tensor  # (B, T) source position of each tgt_out token, -1 on padding

    @property
    def n_words(self) -> torch.Tensor:
        """Source length in words (without EOS), ``(B,)``."""
        return self.src_len - 1

    def __len__(self) -> int:
        return self.src.shape[0]


def make_batch(batch_size: int, min_len: int, max_len: int, generator: torch.Generator) -> AlignmentBatch:
    """``batch_size`` random sentences with lengths uniform in ``[min_len, max_len]`` words."""
    positive_int("batch_size", batch_size)
    positive_int("min_len", min_len)
    positive_int("max_len", max_len)
    if min_len > max_len:
        raise ValueError(f"min_len ({min_len}) must be <= max_len ({max_len})")
    lengths = torch.randint(min_len, max_len + 1, (batch_size,), generator=generator)
    words = torch.randint(N_SPECIAL, VOCAB_SIZE, (batch_size, max_len), generator=generator)
    width = max_len + 1
    src = torch.full((batch_size, width), PAD)
    tgt_in = torch.full((batch_size, width), PAD)
    tgt_out = torch.full((batch_size, width), PAD)
    alignment = torch.full((batch_size, width), -1)
    for b, n in enumerate(lengths.tolist()):
        src[b, :n] = words[b, :n]
        src[b, n] = EOS
        align = torch.cat([true_alignment(n), torch.tensor([n])])       # EOS aligns to the source EOS
        tgt_out[b, :n + 1] = torch.cat([DICTIONARY[src[b, align[:n]]], torch.tensor([EOS])])
        tgt_in[b, 0] = BOS
        tgt_in[b, 1:n + 1] = tgt_out[b, :n]
        alignment[b, :n + 1] = align
    return AlignmentBatch(src, lengths + 1, tgt_in, tgt_out, alignment)
