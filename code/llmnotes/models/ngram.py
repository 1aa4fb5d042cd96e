"""N-gram language models with the smoothing methods compared by Chen & Goodman (1999),
"An empirical study of smoothing techniques for language modeling", Computer Speech &
Language 13(4), and the interpolated Kneser-Ney smoothing of Kneser & Ney (1995),
"Improved backing-off for M-gram language modeling", ICASSP.

An n-gram model makes the (n-1)-th order Markov assumption
``p(w_i | w_1 ... w_{i-1}) = p(w_i | w_{i-n+1} ... w_{i-1})`` (Chen & Goodman, Section 1.1).

* :func:`tokenize`, :func:`build_vocab`, :func:`apply_vocab`: lowercase word tokens and a
  closed vocabulary with ``<unk>`` for rare words;
* :func:`count_ngrams` -> :class:`NGramCounts`: the counts of every order up to ``order``
  and, for Kneser-Ney, the continuation counts ``N1+(. h w)``;
* :class:`NGramLM`: ``prob``, ``probs``, ``cross_entropy``, ``perplexity`` for one order and
  one smoothing method: ``"mle"``, ``"add_one"``, ``"absolute_discounting"`` (interpolated)
  or ``"kneser_ney"`` (interpolated).

Conventions. Each sentence is padded with ``order - 1`` start symbols ``<s>`` and ends with
one ``</s>``; the model predicts every word of the sentence and the ``</s>``, never ``<s>``.
The k-grams counted are the k-word windows that end at a predicted position, for
k = 1 ... order; so the counts of a lower order are the same whatever the padding, and one
:class:`NGramCounts` of order 5 serves the models of orders 1 to 5.
"""
from __future__ import annotations

import math
import re
from collections import Counter
from typing import Iterable, Iterator, Sequence

from llmnotes.checks import number, one_of, positive_int

BOS, EOS, UNK = "<s>", "</s>", "<unk>"
SMOOTHINGS = ("mle", "add_one", "absolute_discounting", "kneser_ney")
LOWEST = ("uniform", "unigram")

_WORD = re.compile(r"'?[a-z]+(?:'[a-z]+)*|[^\sa-z]")

Context = tuple[str, ...]
Table = dict[Context, dict[str, int]]


def tokenize(line: str) -> list[str]:
    """Lowercase words (with inner or leading apostrophes: ``o'er``, ``'tis``) and single
    punctuation marks."""
    return _WORD.findall(line.lower())


def build_vocab(sentences: Iterable[Sequence[str]], min_count: int = 2) -> list[str]:
    """The words that occur at least ``min_count`` times, sorted."""
    positive_int("min_count", min_count)
    counts = Counter(w for s in sentences for w in s)
    return sorted(w for w, c in counts.items() if c >= min_count)


def apply_vocab(sentences: Iterable[Sequence[str]], vocab: Iterable[str], unk: str = UNK) -> list[list[str]]:
    """Every word outside ``vocab`` replaced by ``unk``."""
    known = set(vocab)
    return [[w if w in known else unk for w in s] for s in sentences]


def ngram_events(sentences: Iterable[Sequence[str]], order: int) -> Iterator[tuple[Context, str]]:
    """``(context, word)`` for every predicted position: the context is the ``order - 1``
    preceding tokens, padded with ``<s>``; the words are the sentence's and a final ``</s>``."""
    positive_int("order", order)
    pad = [BOS] * (order - 1)
    for sentence in sentences:
        padded = pad + list(sentence) + [EOS]
        for i in range(order - 1, len(padded)):
            yield tuple(padded[i - order + 1:i]), padded[i]


class NGramCounts:
    """Counts ``c(h w)`` of every order k = 1 ... ``order``, grouped by context ``h``.

    ``table(k)[h][w]`` is the count of the k-gram ``h + (w,)`` (``h`` has k-1 tokens);
    ``continuation(k)[h][w]`` is the continuation count ``N1+(. h w)``, the number of
    distinct words ``v`` with ``c(v h w) > 0`` (Chen & Goodman, Section 2.7), for k < order.
    """

    def __init__(self, sentences: Iterable[Sequence[str]], order: int):
        self.order = positive_int("order", order)
        pad = [BOS] * (order - 1)
        stream: list[str] = []
        n_sentences = 0
        for sentence in sentences:
            sentence = list(sentence)
            if BOS in sentence or EOS in sentence:
                raise ValueError(f"sentences must not contain {BOS!r} or {EOS!r}; they are added here")
            stream += pad
            stream += sentence
            stream.append(EOS)
            n_sentences += 1
        if n_sentences == 0 or len(stream) == n_sentences * order:
            raise ValueError("the corpus is empty: no sentence has a word")
        self.n_sentences = n_sentences
        self._tables: list[Table] = [{}]
        for k in range(1, order + 1):
            windows = Counter(zip(*(stream[j:] for j in range(k))))
            table: Table = {}
            for gram, c in windows.items():
                if gram[-1] != BOS:                      # windows ending at a predicted position
                    table.setdefault(gram[:-1], {})[gram[-1]] = c
            self._tables.append(table)
        self.n_tokens = sum(self._tables[1][()].values())
        self.vocab: tuple[str, ...] = tuple(sorted(self._tables[1][()]))
        self._continuation: dict[int, Table] = {}
        self._totals: dict[tuple[int, bool], dict[Context, tuple[int, int]]] = {}
        self._count_of_counts: dict[tuple[int, bool], Counter] = {}

    def _order_arg(self, k: int, highest: int | None = None) -> int:
        highest = self.order if highest is None else highest
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= highest:
            raise ValueError(f"k must be an int in [1, {highest}], got {k!r}")
        return k

    def table(self, k: int) -> Table:
        """``{context: {word: c(context word)}}`` for the k-grams."""
        return self._tables[self._order_arg(k)]

    def continuation(self, k: int) -> Table:
        """``{context: {word: N1+(. context word)}}`` for k < order, computed from the
        (k+1)-gram table and cached."""
        self._order_arg(k, self.order - 1)
        if k not in self._continuation:
            table: Table = {}
            for context, row in self._tables[k + 1].items():
                rest = context[1:]
                for w in row:
                    cell = table.setdefault(rest, {})
                    cell[w] = cell.get(w, 0) + 1
            self._continuation[k] = table
        return self._continuation[k]

    def totals(self, k: int, context: Context, continuation: bool = False) -> tuple[int, int]:
        """``(c(h .), N1+(h .))`` for the context ``h`` of the k-grams: the sum of its counts and
        the number of words seen after it; with ``continuation``, the same for the continuation
        counts, ``(N1+(. h .), |{w: N1+(. h w) > 0}|)``. ``(0, 0)`` for an unseen context.
        Computed on demand and cached."""
        cache = self._totals.setdefault((k, continuation), {})
        if context not in cache:
            row = (self.continuation(k) if continuation else self.table(k)).get(context, {})
            cache[context] = (sum(row.values()), len(row))
        return cache[context]

    def count_of_counts(self, k: int, r: int, continuation: bool = False) -> int:
        """``n_r``: the number of distinct k-grams whose (continuation) count is exactly ``r``."""
        key = (k, continuation)
        if key not in self._count_of_counts:
            table = self.continuation(k) if continuation else self.table(k)
            self._count_of_counts[key] = Counter(c for row in table.values() for c in row.values())
        return self._count_of_counts[key][r]


def count_ngrams(sentences: Iterable[Sequence[str]], order: int) -> NGramCounts:
    """Count the k-grams of ``sentences`` for k = 1 ... ``order`` (see :class:`NGramCounts`)."""
    return NGramCounts(sentences, order)


def ney_discount(n1: int, n2: int) -> float:
    """``D = n1 / (n1 + 2 n2)``, the estimate of Ney, Essen & Kneser (1994) that Chen & Goodman
    use for kneser-ney-fix (Sections 2.6 and 4.1); 0.5 when there are no counts of 1 or 2."""
    return n1 / (n1 + 2 * n2) if n1 + n2 else 0.5


class NGramLM:
    """An n-gram language model of order ``order`` on ``counts``, with one smoothing method.

    ``smoothing``:

    * ``"mle"``: ``c(h w) / c(h .)``, the relative frequency (Chen & Goodman, Section 1.1);
      zero for an unseen n-gram, and zero for every word after an unseen context.
    * ``"add_one"``: ``(c(h w) + 1) / (c(h .) + |V|)``, additive smoothing with delta = 1
      ("plus-one", Sections 2.1 and 4.1).
    * ``"absolute_discounting"``: interpolated absolute discounting (abs-disc-interp, Section 2.6):
      ``max(c(h w) - D, 0) / c(h .) + D N1+(h .) / c(h .) * p(w | h')``, with ``h'`` the
      context without its first word.
    * ``"kneser_ney"``: interpolated Kneser-Ney (Section 2.7; Kneser & Ney 1995): the same
      recursion, with raw counts at the highest order and the continuation counts
      ``N1+(. h w)`` in place of ``c(h w)`` at every lower order.

    A context never seen at some order gives that order no evidence: its weight on the lower
    order is 1 (as in NLTK). ``lowest`` ends the recursion: ``"uniform"`` discounts the unigram
    level too and interpolates it with ``1 / |V|`` (Chen & Goodman's implementations, Section
    4.1, which give every vocabulary word a non-zero probability); ``"unigram"`` stops at the
    undiscounted unigram distribution (the relative frequency for absolute discounting, the
    continuation distribution ``N1+(. w) / N1+(. .)`` for Kneser-Ney), which is NLTK's
    definition in ``AbsoluteDiscountingInterpolated`` and ``KneserNeyInterpolated``.

    ``discount`` is one D in [0, 1] for every order, or ``None`` for Ney's estimate
    ``n1 / (n1 + 2 n2)`` per order, from the counts used at that order (:func:`ney_discount`).

    The vocabulary ``V`` (what the model predicts) is every token counted at a predicted
    position (the words and ``</s>``) plus the optional ``vocab``; map unknown words to
    ``<unk>`` with :func:`apply_vocab` before counting.
    """

    def __init__(self, counts: NGramCounts, order: int | None = None, smoothing: str = "kneser_ney",
                 discount: float | None = None, lowest: str = "uniform", vocab: Iterable[str] = ()):
        if not isinstance(counts, NGramCounts):
            raise ValueError(f"counts must be an NGramCounts (see count_ngrams), got {type(counts).__name__}")
        order = counts.order if order is None else positive_int("order", order)
        if order > counts.order:
            raise ValueError(f"order ({order}) must be <= the order of the counts ({counts.order})")
        self.counts, self.order = counts, order
        self.smoothing = one_of("smoothing", smoothing, SMOOTHINGS)
        self.lowest = one_of("lowest", lowest, LOWEST)
        extra = set(vocab)
        if BOS in extra:
            raise ValueError(f"the vocabulary must not contain {BOS!r}: it is never predicted")
        self.vocab: tuple[str, ...] = tuple(sorted(set(counts.vocab) | extra | {EOS}))
        self._in_vocab = frozenset(self.vocab)
        # per order k: (k, the table used at that order, whether it holds continuation counts)
        self._levels = []
        for k in range(1, order + 1):
            continuation = smoothing == "kneser_ney" and k < order
            table = counts.continuation(k) if continuation else counts.table(k)
            self._levels.append((k, table, continuation))
        if discount is None:
            self.discounts = tuple(ney_discount(counts.count_of_counts(k, 1, c), counts.count_of_counts(k, 2, c))
                                   for k, _, c in self._levels)
        else:
            d = number("discount", discount, 0.0, 1.0)
            self.discounts = (d,) * order

    @classmethod
    def fit(cls, sentences: Iterable[Sequence[str]], order: int, **options) -> "NGramLM":
        """Count ``sentences`` and build the model: ``NGramLM.fit(sents, 3, smoothing="mle")``."""
        return cls(count_ngrams(sentences, order), order, **options)

    def _context(self, context: Sequence[str]) -> Context:
        """The last ``order - 1`` tokens, padded on the left with ``<s>``."""
        context = tuple(context)
        width = self.order - 1
        if width == 0:
            return ()
        context = context[-width:]
        return (BOS,) * (width - len(context)) + context

    def prob(self, word: str, context: Sequence[str] = ()) -> float:
        """``p(word | context)``; ``context`` is the preceding tokens of the sentence (the last
        ``order - 1`` are used; a shorter context is the start of a sentence)."""
        if word not in self._in_vocab:
            raise ValueError(f"{word!r} is not in the model's vocabulary; map rare words with apply_vocab")
        h = self._context(context)
        if self.smoothing in ("mle", "add_one"):
            row = self.counts.table(self.order).get(h, {})
            c, total = row.get(word, 0), self.counts.totals(self.order, h)[0]
            if self.smoothing == "mle":
                return c / total if total else 0.0        # p = 0 after an unseen context
            return (c + 1) / (total + len(self.vocab))
        return self._interpolated(word, h)

    def _interpolated(self, word: str, h: Context) -> float:
        """Absolute discounting / Kneser-Ney, from the lowest order up:
        ``p_k(w|h) = max(c - D, 0) / total + D * types / total * p_{k-1}(w|h')``."""
        p = 1.0 / len(self.vocab)                         # order 0: uniform
        for k, table, continuation in self._levels:
            context = h[len(h) - (k - 1):] if k > 1 else ()
            row = table.get(context)
            if not row:                                   # unseen context: weight 1 on the lower order
                continue
            total, types = self.counts.totals(k, context, continuation)
            c = row.get(word, 0)
            if k == 1 and self.lowest == "unigram":
                p = c / total                             # undiscounted lowest order (NLTK's definition)
                continue
            d = self.discounts[k - 1]
            p = max(c - d, 0.0) / total + d * types / total * p
        return p

    def probs(self, context: Sequence[str] = ()) -> dict[str, float]:
        """``{word: p(word | context)}`` over the vocabulary."""
        return {w: self.prob(w, context) for w in self.vocab}

    def cross_entropy(self, sentences: Iterable[Sequence[str]]) -> float:
        """Bits per predicted token, ``-(1/N) sum log2 p(w_i | h_i)`` over the words and the
        ``</s>`` of each sentence (Chen & Goodman, Section 1.1); ``inf`` if any p is 0."""
        total, n = 0.0, 0
        for context, word in ngram_events(sentences, self.order):
            p = self.prob(word, context)
            if p == 0.0:
                return math.inf
            total -= math.log2(p)
            n += 1
        if n == 0:
            raise ValueError("no sentences to evaluate")
        return total / n

    def perplexity(self, sentences: Iterable[Sequence[str]]) -> float:
        """``2 ** cross_entropy``: the inverse geometric mean of the probabilities of the tokens."""
        return 2.0 ** self.cross_entropy(sentences)
