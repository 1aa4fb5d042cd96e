"""The unigram language model of subwords and subword regularisation (Kudo, 2018, Sections 2-3).

A segmentation :math:`\\mathbf{x}=(x_1,\\dots,x_M)` of a string :math:`X` has probability
:math:`P(\\mathbf{x})=\\prod_i p(x_i)` (Eq. 6): pieces are drawn independently from one
vocabulary. Every way of cutting :math:`X` into vocabulary pieces is a path through a *lattice*
whose node ``j`` is the position after the ``j``-th character and whose edge ``i -> j`` is the
piece ``X[i:j]``. Two computations on that lattice:

* **Viterbi** (Eq. 7): the most probable segmentation, by dynamic programming over positions,
  ``best[j] = max_i best[i] + log p(X[i:j])`` (:meth:`Unigram.viterbi`). This is what
  SentencePiece's ``encode`` returns.
* **Subword regularisation** (Section 3.3): during training, sample a segmentation with
  probability :math:`P(\\mathbf{x})^\\alpha / \\sum_{\\mathbf{x}'} P(\\mathbf{x}')^\\alpha`
  over *all* segmentations (the paper's :math:`l=\\infty`) by forward-filtering /
  backward-sampling: the forward pass sums the weights of all paths into each node,
  ``Z[j] = logsumexp_i Z[i] + alpha log p(X[i:j])``; the backward pass walks from the end,
  choosing the last piece ``X[i:j]`` with probability ``exp(Z[i] + alpha log p(X[i:j]) - Z[j])``
  (:meth:`Unigram.samples`). Small ``alpha`` flattens the distribution, large ``alpha``
  concentrates it on the Viterbi segmentation.

The piece table can be read from a trained SentencePiece model (:meth:`Unigram.from_sentencepiece`):
its scores are the log-probabilities :math:`\\log p(x)`. Whitespace is the piece character
``▁`` (U+2581) and a word's first piece carries it (SentencePiece's ``add_dummy_prefix``).
"""
from __future__ import annotations

import math
from typing import Mapping

import torch

from llmnotes.checks import positive, positive_int

SPACE = "\u2581"
"""SentencePiece's meta symbol for whitespace: ``"Hello world" -> "▁Hello▁world"``."""


def _logsumexp(values: list[float]) -> float:
    top = max(values)
    return top + math.log(sum(math.exp(v - top) for v in values))


class Unigram:
    """A unigram language model over subword pieces: ``log_probs[piece] = log p(piece)``."""

    def __init__(self, log_probs: Mapping[str, float]):
        if not log_probs:
            raise ValueError("log_probs is empty: a unigram model needs at least one piece")
        table = {}
        for piece, score in log_probs.items():
            if not isinstance(piece, str) or not piece:
                raise ValueError(f"every piece must be a non-empty str, got {piece!r}")
            if isinstance(score, bool) or not isinstance(score, (int, float)) or not math.isfinite(score):
                raise ValueError(f"log_probs[{piece!r}] must be a finite number, got {score!r}")
            table[piece] = float(score)
        self.log_probs = table
        self.max_piece_len = max(len(p) for p in table)

    @classmethod
    def from_sentencepiece(cls, processor) -> "Unigram":
        """The normal pieces and scores of a SentencePiece unigram model (a
        ``sentencepiece.SentencePieceProcessor``); control, unknown, unused and byte pieces are
        left out, as SentencePiece never places them in a segmentation."""
        pieces = {}
        for i in range(processor.get_piece_size()):
            if processor.is_control(i) or processor.is_unknown(i) or processor.is_unused(i) or processor.is_byte(i):
                continue
            pieces[processor.id_to_piece(i)] = processor.get_score(i)
        return cls(pieces)

    def __len__(self) -> int:
        return len(self.log_probs)

    @staticmethod
    def normalize(text: str) -> str:
        """SentencePiece's whitespace handling (``remove_extra_whitespaces`` and
        ``add_dummy_prefix``, no Unicode normalisation): ``" Hello  world" -> "▁Hello▁world"``."""
        if not isinstance(text, str):
            raise ValueError(f"text must be a str, got {type(text).__name__}")
        words = text.split(" ")
        return "".join(SPACE + w for w in words if w)

    def lattice(self, text: str) -> list[list[tuple[int, float]]]:
        """``edges[j]``: every ``(i, log p(text[i:j]))`` with ``text[i:j]`` a piece, ``i`` ascending.

        Raises ``ValueError`` if some position cannot be reached (a character no piece covers).
        """
        if not isinstance(text, str) or not text:
            raise ValueError("text must be a non-empty str")
        n = len(text)
        edges: list[list[tuple[int, float]]] = [[] for _ in range(n + 1)]
        reachable = [False] * (n + 1)
        reachable[0] = True
        for i in range(n):
            if not reachable[i]:
                continue
            for j in range(i + 1, min(n, i + self.max_piece_len) + 1):
                score = self.log_probs.get(text[i:j])
                if score is not None:
                    edges[j].append((i, score))
                    reachable[j] = True
        if not reachable[n]:
            stuck = max(j for j in range(n + 1) if reachable[j])
            raise ValueError(f"no piece covers {text[stuck]!r} at position {stuck} of text {text[:40]!r}: "
                             "unknown character")
        return edges

    def viterbi(self, text: str) -> list[str]:
        """The most probable segmentation of (already normalised) ``text`` (Kudo, 2018, Eq. 7).

        Ties go to the candidate with the earliest start of its last piece, as in SentencePiece
        (which relaxes edges in order of start position and replaces only a strictly better path).
        """
        edges = self.lattice(text)
        n = len(text)
        best: list[float | None] = [None] * (n + 1)
        back = [0] * (n + 1)
        best[0] = 0.0
        for j in range(1, n + 1):
            for i, score in edges[j]:               # i ascending: the earliest start wins ties
                if best[i] is None:
                    continue
                candidate = best[i] + score
                if best[j] is None or candidate > best[j]:
                    best[j], back[j] = candidate, i
        pieces, j = [], n
        while j > 0:
            pieces.append(text[back[j]:j])
            j = back[j]
        return pieces[::-1]

    def encode(self, text: str) -> list[str]:
        """Pieces of raw ``text``: :meth:`normalize`, then :meth:`viterbi`."""
        return self.viterbi(self.normalize(text))

    def log_prob(self, pieces: list[str]) -> float:
        """:math:`\\log P(\\mathbf{x}) = \\sum_i \\log p(x_i)` of one segmentation (Eq. 6)."""
        unknown = [p for p in pieces if p not in self.log_probs]
        if unknown:
            raise ValueError(f"pieces not in the vocabulary: {unknown[:5]}")
        return sum(self.log_probs[p] for p in pieces)

    def forward(self, text: str, alpha: float = 1.0) -> tuple[list[list[tuple[int, float]]], list[float]]:
        """The lattice and the forward log-weights ``Z[j]`` of all paths from 0 to ``j`` under
        :math:`P^\\alpha` (``Z[-1]`` is the log normaliser of the sampling distribution)."""
        alpha = positive("alpha", alpha)
        edges = self.lattice(text)
        z = [0.0] + [-math.inf] * len(text)
        for j in range(1, len(text) + 1):
            terms = [z[i] + alpha * score for i, score in edges[j] if z[i] > -math.inf]
            if terms:
                z[j] = _logsumexp(terms)
        return edges, z

    def samples(self, text: str, alpha: float, n: int, generator: torch.Generator) -> list[list[str]]:
        """``n`` segmentations of ``text``, each drawn with probability
        :math:`P(\\mathbf{x})^\\alpha / \\sum_{\\mathbf{x}'} P(\\mathbf{x}')^\\alpha` over all
        segmentations (Kudo, 2018, Section 3.3 with :math:`l=\\infty`): one forward pass, then a
        backward walk per sample that picks each last piece given the forward weights."""
        positive_int("n", n)
        if not isinstance(generator, torch.Generator):
            raise ValueError(f"generator must be a torch.Generator, got {type(generator).__name__}")
        edges, z = self.forward(text, alpha)
        # For each end j, the cumulative probabilities of its incoming edges (the backward step).
        choices: list[tuple[list[int], list[float]] | None] = [None] * (len(text) + 1)
        for j in range(1, len(text) + 1):
            starts, cumulative, total = [], [], 0.0
            for i, score in edges[j]:
                if z[i] > -math.inf:
                    total += math.exp(z[i] + alpha * score - z[j])
                    starts.append(i)
                    cumulative.append(total)
            choices[j] = (starts, cumulative)
        uniforms = torch.rand(n, len(text), generator=generator, dtype=torch.float64).tolist()
        out = []
        for u in uniforms:
            pieces, j, k = [], len(text), 0
            while j > 0:
                starts, cumulative = choices[j]
                draw = u[k] * cumulative[-1]           # cumulative[-1] is 1 up to rounding
                k += 1
                index = next((m for m, c in enumerate(cumulative) if draw < c), len(starts) - 1)
                pieces.append(text[starts[index]:j])
                j = starts[index]
            out.append(pieces[::-1])
        return out

    def sample(self, text: str, alpha: float, generator: torch.Generator) -> list[str]:
        """One segmentation drawn from :math:`P(\\mathbf{x})^\\alpha` (see :meth:`samples`)."""
        return self.samples(text, alpha, 1, generator)[0]

    def segmentations(self, text: str, limit: int = 100_000) -> list[tuple[tuple[str, ...], float]]:
        """Every segmentation of ``text`` into pieces with its :math:`\\log P(\\mathbf{x})`,
        by depth-first enumeration (their number grows exponentially with the length)."""
        positive_int("limit", limit)
        edges = self.lattice(text)
        outgoing: list[list[tuple[int, float]]] = [[] for _ in range(len(text) + 1)]
        for j, incoming in enumerate(edges):
            for i, score in incoming:
                outgoing[i].append((j, score))
        found: list[tuple[tuple[str, ...], float]] = []

        def extend(i: int, pieces: list[str], score: float) -> None:
            if i == len(text):
                if len(found) >= limit:
                    raise ValueError(f"{text!r} has more than limit={limit} segmentations")
                found.append((tuple(pieces), score))
                return
            for j, piece_score in outgoing[i]:
                extend(j, pieces + [text[i:j]], score + piece_score)

        extend(0, [], 0.0)
        return found

    def distribution(self, text: str, alpha: float = 1.0) -> dict[tuple[str, ...], float]:
        """The exact sampling distribution :math:`P(\\mathbf{x})^\\alpha/\\sum P^\\alpha` over all
        segmentations of ``text``, by enumeration (for checking :meth:`samples` on short strings)."""
        alpha = positive("alpha", alpha)
        segs = self.segmentations(text)
        log_z = _logsumexp([alpha * s for _, s in segs])
        return {pieces: math.exp(alpha * s - log_z) for pieces, s in segs}
