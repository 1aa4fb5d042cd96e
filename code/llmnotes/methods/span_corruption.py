"""Span corruption, T5's pre-training objective (Raffel et al., 2020, Sections 3.1.4 and 3.3.4).

A fraction ``noise_density`` (15%) of the tokens is dropped in contiguous spans of mean length
``mean_noise_span_length`` (3). Each span is replaced in the input by one sentinel token, unique
within the sequence, and the target lists the dropped spans, each after its sentinel, followed by
one final sentinel (Figure 2)::

    original: Thank you for inviting me to your party last week .
    inputs:   Thank you <X> me to your party <Y> week .
    targets:  <X> for inviting <Y> last <Z>

Only the dropped tokens are predicted, so the target is about ``noise_density`` times the input
length plus one sentinel per span: shorter than BERT-style objectives that predict the whole
sequence, and shorter for long spans than for single tokens (Section 3.3.4's speed argument).
The noise mask follows ``random_spans_noise_mask`` of T5's code (``t5/data/preprocessors.py``).
"""
from __future__ import annotations

from typing import Sequence

import torch

from llmnotes.checks import number, positive_int


def _random_segmentation(n_items: int, n_segments: int, generator: torch.Generator | None) -> torch.Tensor:
    """Split ``n_items`` into ``n_segments`` non-empty parts, every split equally likely: ``(n_segments,)``."""
    cuts = torch.zeros(n_items - 1, dtype=torch.bool)
    cuts[:n_segments - 1] = True                                       # n_segments - 1 segment starts ...
    cuts = cuts[torch.randperm(n_items - 1, generator=generator)]      # ... among the n_items - 1 gaps
    segment_id = torch.cat([torch.zeros(1, dtype=torch.long), cuts.long().cumsum(0)])   # (n_items,)
    return torch.bincount(segment_id, minlength=n_segments)


def noise_counts(length: int, noise_density: float = 0.15, mean_noise_span_length: float = 3.0) -> tuple[int, int]:
    """The number of noise tokens and of noise spans, fixed by the arguments (not random)::

        n_noise = round(length · noise_density),  clipped to [1, length - 1]
        n_spans = round(n_noise / mean_noise_span_length),  at least 1

    Section 3.3.4's example: 500 tokens at 15% are 75 noise tokens, in 25 spans of mean length 3.
    """
    if positive_int("length", length) < 2:
        raise ValueError(f"length must be at least 2 (one noise and one kept token), got {length}")
    number("noise_density", noise_density, 0.0, 1.0, low_open=True, high_open=True)
    number("mean_noise_span_length", mean_noise_span_length, low=1.0)
    n_noise = min(max(round(length * noise_density), 1), length - 1)
    n_spans = max(round(n_noise / mean_noise_span_length), 1)
    if n_spans > length - n_noise:
        raise ValueError(f"{n_spans} noise spans need as many kept tokens between them, but only "
                         f"{length - n_noise} of {length} are kept: lower noise_density ({noise_density}) "
                         f"or raise mean_noise_span_length ({mean_noise_span_length})")
    return n_noise, n_spans


def random_spans_noise_mask(length: int, noise_density: float = 0.15, mean_noise_span_length: float = 3.0,
                            generator: torch.Generator | None = None) -> torch.Tensor:
    """A boolean ``(length,)`` mask, ``True`` at the tokens to drop.

    :func:`noise_counts` fixes how many tokens and spans; the span lengths, and the lengths of the
    kept stretches between them, are random segmentations of those counts. Kept and noise spans
    alternate, starting with a kept one. ``mean_noise_span_length = 1`` puts every noise token in
    its own span: i.i.d. token masking with exactly ``n_noise`` tokens.
    """
    n_noise, n_spans = noise_counts(length, noise_density, mean_noise_span_length)
    noise_lengths = _random_segmentation(n_noise, n_spans, generator)            # (n_spans,)
    kept_lengths = _random_segmentation(length - n_noise, n_spans, generator)     # (n_spans,)
    span_lengths = torch.stack([kept_lengths, noise_lengths], dim=1).reshape(-1)  # kept, noise, kept, ...
    is_noise = torch.arange(2 * n_spans) % 2 == 1
    return is_noise.repeat_interleave(span_lengths)                               # (length,)


def _check_sentinels(sentinel_ids: Sequence[int], needed: int, tokens: torch.Tensor) -> list[int]:
    sentinels = [int(s) for s in sentinel_ids]
    if len(sentinels) < needed:
        raise ValueError(f"sentinel_ids has {len(sentinels)} ids, {needed} are needed (one per span and a final one)")
    if len(set(sentinels)) != len(sentinels):
        raise ValueError("sentinel_ids must be distinct")
    if torch.isin(tokens, torch.tensor(sentinels)).any():
        raise ValueError("the tokens already contain a sentinel id")
    return sentinels


def corrupt_spans(tokens: torch.Tensor, noise_mask: torch.Tensor,
                  sentinel_ids: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs and targets of span corruption for one sequence ``(n,)`` and its noise mask ``(n,)``.

    Inputs: the tokens with each maximal run of noise replaced by the next sentinel. Targets: for
    each run, its sentinel followed by the dropped tokens, then one more sentinel (Section 3.1.4).
    ``sentinel_ids[k]`` marks the k-th span (T5 counts its sentinels down from the top of the
    vocabulary); at least ``spans + 1`` are needed.
    """
    if tokens.dim() != 1 or noise_mask.shape != tokens.shape or noise_mask.dtype != torch.bool:
        raise ValueError(f"need tokens (n,) and a boolean noise_mask (n,), got {tuple(tokens.shape)} "
                         f"and {tuple(noise_mask.shape)} {noise_mask.dtype}")
    starts = noise_mask & ~torch.cat([torch.zeros(1, dtype=torch.bool), noise_mask[:-1]])   # a span's first token
    n_spans = int(starts.sum())
    sentinel = torch.tensor(_check_sentinels(sentinel_ids, n_spans + 1, tokens))
    span = (starts.long().cumsum(0) - 1).clamp(min=0)                            # (n,) the span a token is in
    inputs = torch.where(starts, sentinel[span], tokens)[~noise_mask | starts]   # a span's start becomes its sentinel
    first = starts[noise_mask]                                                   # (n_noise,)
    where = torch.arange(len(first)) + first.long().cumsum(0)                    # dropped token's place in targets
    targets = torch.empty(len(first) + n_spans + 1, dtype=tokens.dtype)
    targets[where] = tokens[noise_mask]
    targets[where[first] - 1] = sentinel[:n_spans]                               # each sentinel just before its span
    targets[-1] = sentinel[n_spans]                                              # and the final one
    return inputs, targets


def uncorrupt_spans(inputs: torch.Tensor, targets: torch.Tensor, sentinel_ids: Sequence[int]) -> torch.Tensor:
    """The original sequence from the outputs of :func:`corrupt_spans`: each sentinel in ``inputs``
    replaced by the tokens that follow it in ``targets``."""
    sentinels = {int(s): k for k, s in enumerate(sentinel_ids)}
    spans, current = {}, None
    for token in targets.tolist():
        if token in sentinels:
            current = spans.setdefault(sentinels[token], [])
        elif current is None:
            raise ValueError("targets must start with a sentinel")
        else:
            current.append(token)
    out = []
    for token in inputs.tolist():
        out += spans[sentinels[token]] if token in sentinels else [token]
    return torch.tensor(out, dtype=inputs.dtype)
