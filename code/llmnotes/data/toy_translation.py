"""A toy translation task generated in code, with the structure that makes translation hard.

The "source language" has 20 words, the "target language" its own vocabulary. Translating
a sentence means three things at once, as in real translation:

* **lexical mapping** - each source word has its own target word (a dictionary);
* **reordering** - the target states the words in reverse order;
* **variable length** - sentences have 3 to 10 words, and 5 of the source words are
  compounds that become *two* target words, so output length differs from input length.

Exact match on held-out sentences (sentences never seen in training) is the metric.
"""
from __future__ import annotations

import random
from dataclasses import dataclass

import torch

PAD, BOS, EOS = 0, 1, 2
SPECIALS = ("<pad>", "<bos>", "<eos>")
N_WORDS = 20
N_COMPOUNDS = 5
MIN_WORDS, MAX_WORDS = 3, 10


def source_vocab() -> list[str]:
    return [*SPECIALS, *(f"s{i}" for i in range(N_WORDS))]


def target_vocab() -> list[str]:
    simple = [f"t{i}" for i in range(N_WORDS - N_COMPOUNDS)]
    halves = [f"{p}{i}" for i in range(N_COMPOUNDS) for p in ("a", "b")]
    return [*SPECIALS, *simple, *halves]


def translate(words: list[str]) -> list[str]:
    """The reference translation: reverse, then map each word (compounds to two words)."""
    out = []
    for word in reversed(words):
        if not (word.startswith("s") and word[1:].isdigit() and int(word[1:]) < N_WORDS):
            raise ValueError(f"not a source word: {word!r}")
        i = int(word[1:])
        out += [f"t{i}"] if i < N_WORDS - N_COMPOUNDS else [f"a{i - N_WORDS + N_COMPOUNDS}", f"b{i - N_WORDS + N_COMPOUNDS}"]
    return out


@dataclass(frozen=True)
class Split:
    src: torch.Tensor  # (n, MAX_WORDS + 1), EOS-terminated, PAD-padded
    tgt: torch.Tensor  # (n, 2 * MAX_WORDS + 2), BOS ... EOS, PAD-padded

    def __len__(self) -> int:
        return self.src.shape[0]


def _encode(tokens: list[str], vocab: list[str], width: int, bos: bool) -> list[int]:
    index = {w: i for i, w in enumerate(vocab)}
    ids = ([BOS] if bos else []) + [index[t] for t in tokens] + [EOS]
    return ids + [PAD] * (width - len(ids))


def make_splits(n_train: int, n_test: int, seed: int = 0) -> tuple[Split, Split]:
    """Random sentences; the test split holds only sentences absent from the training split."""
    if n_train < 1 or n_test < 1:
        raise ValueError(f"n_train and n_test must be >= 1, got {n_train}, {n_test}")
    rng = random.Random(seed)

    def sentence() -> tuple[str, ...]:
        return tuple(f"s{rng.randrange(N_WORDS)}" for _ in range(rng.randint(MIN_WORDS, MAX_WORDS)))

    train = [sentence() for _ in range(n_train)]
    seen = set(train)
    test = [s for s in (sentence() for _ in range(n_test)) if s not in seen]
    src_vocab, tgt_vocab = source_vocab(), target_vocab()

    def split(sentences: list[tuple[str, ...]]) -> Split:
        src = [_encode(list(s), src_vocab, MAX_WORDS + 1, bos=False) for s in sentences]
        tgt = [_encode(translate(list(s)), tgt_vocab, 2 * MAX_WORDS + 2, bos=True) for s in sentences]
        return Split(torch.tensor(src), torch.tensor(tgt))

    return split(train), split(test)


def exact_match(predicted: torch.Tensor, reference: torch.Tensor) -> float:
    """Fraction of sequences whose tokens up to and including EOS equal the reference.

    ``predicted`` is decoder output without BOS; ``reference`` is the target without BOS.
    """
    if predicted.dim() != 2 or reference.dim() != 2 or predicted.shape[0] != reference.shape[0]:
        raise ValueError(f"need two (batch, n) tensors with the same batch, got "
                         f"{tuple(predicted.shape)} and {tuple(reference.shape)}")
    width = max(predicted.shape[1], reference.shape[1])
    pad = lambda t: torch.nn.functional.pad(t, (0, width - t.shape[1]), value=PAD)
    predicted, reference = pad(predicted), pad(reference)
    return (predicted == reference).all(dim=1).float().mean().item()


def detokenize(ids: torch.Tensor, vocab: list[str]) -> str:
    """Token ids to words, stopping at EOS and skipping PAD/BOS."""
    words = []
    for i in ids.tolist():
        if i == EOS:
            break
        if i not in (PAD, BOS):
            words.append(vocab[i])
    return " ".join(words)
