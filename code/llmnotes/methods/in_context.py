"""In-context learning: classify by prompting with k demonstrations, no gradient updates.

Brown et al. (2020), Section 2 and Figure 2.1: *zero-shot* gives the model a task description
and the query; *one-shot* adds one solved example ("demonstration") and *few-shot* adds k of
them, all in the context window; the weights never change. For a multiple-choice task the
paper scores each candidate answer by the model's likelihood of it given the context
(Section 2.4) and picks the most likely one. Here the candidates are label words that are a
single token each, so the score is the next-token log-probability of the label after
``Sentiment:``.

The labelled sentences (:mod:`llmnotes.data.sentiment`) are written for this book; the
demonstration pool and the test set do not overlap.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import torch

from llmnotes.checks import positive_int
from llmnotes.data.sentiment import DEMO_POOL, LABELS, TEST_SET, Example

INSTRUCTION = "Classify the sentiment of each review as positive or negative."


def format_example(text: str, label: str | None = None) -> str:
    """One review in the prompt format; without a label it ends at ``Sentiment:``."""
    if label is not None and label not in LABELS:
        raise ValueError(f"label must be one of {LABELS}, got {label!r}")
    return f"Review: {text}\nSentiment:" + (f" {label}" if label is not None else "")


def build_prompt(demonstrations: Sequence[Example], query: str, instruction: str = INSTRUCTION) -> str:
    """Task description, k solved demonstrations, then the unsolved query (Figure 2.1).

    With no demonstrations this is the zero-shot prompt; the next token after the returned
    text is the model's answer.
    """
    blocks = [instruction] if instruction else []
    blocks += [format_example(d.text, d.label) for d in demonstrations]
    blocks.append(format_example(query))
    return "\n\n".join(blocks)


def choose_demonstrations(pool: Sequence[Example], k: int, generator: torch.Generator) -> list[Example]:
    """``k`` demonstrations from ``pool``, balanced across labels, in random order.

    Each label gets ``k // 2`` examples; for odd ``k`` the label of the extra one is drawn at
    random, so over many draws both labels appear equally often.
    """
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    by_label = {label: [e for e in pool if e.label == label] for label in LABELS}
    counts = {label: k // len(LABELS) for label in LABELS}
    if k % len(LABELS):
        extra = LABELS[int(torch.randint(len(LABELS), (1,), generator=generator))]
        counts[extra] += 1
    chosen = []
    for label in LABELS:
        if counts[label] > len(by_label[label]):
            raise ValueError(f"k={k} needs {counts[label]} {label!r} demonstrations, "
                             f"the pool has {len(by_label[label])}")
        picks = torch.randperm(len(by_label[label]), generator=generator)[:counts[label]]
        chosen += [by_label[label][i] for i in picks.tolist()]
    order = torch.randperm(len(chosen), generator=generator).tolist()
    return [chosen[i] for i in order]


def label_token_ids(encode: Callable[[str], list[int]], labels: Sequence[str] = LABELS) -> list[int]:
    """The token id of ``" " + label`` for each label; each must be exactly one token.

    Comparing next-token scores is only a fair comparison of the labels when every label is a
    single token; a multi-token label would need the sum of its tokens' log-probabilities.
    """
    ids = []
    for label in labels:
        tokens = encode(" " + label)
        if len(tokens) != 1:
            raise ValueError(f"label {label!r} encodes to {len(tokens)} tokens {tokens}; "
                             "pick label words that are single tokens")
        ids.append(tokens[0])
    if len(set(ids)) != len(ids):
        raise ValueError(f"labels {list(labels)} share a token id: {ids}")
    return ids


@torch.no_grad()
def next_token_log_probs(model: Callable[..., torch.Tensor], prefix: Sequence[int],
                         continuations: Sequence[Sequence[int]], candidates: Sequence[int],
                         pad_id: int = 0, batch_size: int = 16) -> torch.Tensor:
    """Log-probabilities ``(len(continuations), len(candidates))`` of each candidate next token
    after ``prefix + continuation``.

    ``model(ids)`` maps a ``(B, T)`` LongTensor to logits ``(B, T, V)``. All prompts of one
    k-shot evaluation share their prefix (task description and demonstrations), so when the
    model keeps a key/value cache (``model.new_cache()``, as :class:`~llmnotes.models.llama.Llama`
    does) the prefix is run once and only the continuations are
    batched, and only the last position of each prompt goes through the output layer;
    otherwise every prompt is run in full. Batches are right-padded: in a causal model the
    logits at a prompt's last real token cannot see the padding after it, so no attention mask
    is needed.
    """
    if not continuations or any(len(c) == 0 for c in continuations):
        raise ValueError("need at least one continuation, each with at least one token")
    positive_int("batch_size", batch_size)
    prefix = list(prefix)
    use_cache = bool(prefix) and hasattr(model, "new_cache")
    if use_cache:
        prefix_cache = model.new_cache()
        model.hidden(torch.tensor([prefix], dtype=torch.long), cache=prefix_cache)
        prompts = [list(c) for c in continuations]
    else:
        prompts = [prefix + list(c) for c in continuations]
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    out = torch.empty(len(prompts), len(candidates))
    cand = torch.tensor(list(candidates), dtype=torch.long)
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        lengths = torch.tensor([len(prompts[i]) for i in rows])
        ids = torch.full((len(rows), int(lengths.max())), pad_id, dtype=torch.long)
        for r, i in enumerate(rows):
            ids[r, :len(prompts[i])] = torch.tensor(prompts[i], dtype=torch.long)
        if use_cache:  # the same prefix for every row: its keys and values broadcast over the batch
            states = model.hidden(ids, cache=prefix_cache.copy())                # (B, T, d_model)
            last = model.head(states[torch.arange(len(rows)), lengths - 1]).float()
        else:
            logits = model(ids)
            if logits.dim() != 3 or logits.shape[:2] != ids.shape:
                raise ValueError(f"model must return logits (B, T, V) for ids {tuple(ids.shape)}, "
                                 f"got {tuple(logits.shape)}")
            last = logits[torch.arange(len(rows)), lengths - 1].float()
        out[rows] = torch.log_softmax(last, dim=-1)[:, cand]
    return out


@dataclass(frozen=True)
class KShotResult:
    """Predictions of k-shot prompting for several demonstration draws."""

    k: int
    margins: torch.Tensor   # (draws, n): log p(" positive") - log p(" negative")
    gold: torch.Tensor      # (n,): 1 for positive, 0 for negative

    @property
    def hits(self) -> torch.Tensor:
        """(draws, n): 1 where the prediction is right."""
        return ((self.margins > 0).long() == self.gold).long()

    @property
    def accuracy(self) -> float:
        """Mean accuracy over test examples and demonstration draws."""
        return float(self.hits.float().mean())

    @property
    def draw_accuracies(self) -> list[float]:
        return self.hits.float().mean(dim=1).tolist()

    @property
    def predicted_positive(self) -> float:
        """Share of predictions that say positive: 0.5 for an unbiased classifier here."""
        return float((self.margins > 0).float().mean())


def evaluate_k_shot(model: Callable[..., torch.Tensor], encode: Callable[[str], list[int]], k: int,
                    test: Sequence[Example] = TEST_SET, pool: Sequence[Example] = DEMO_POOL,
                    draws: int = 1, generator: torch.Generator | None = None, pad_id: int = 0,
                    batch_size: int = 16) -> KShotResult:
    """k-shot prompting on ``test``, repeated for ``draws`` sets of demonstrations drawn with ``generator``.

    Each draw picks ``k`` balanced demonstrations from ``pool``; every test example is then
    classified with the same prompt prefix. The prediction is the label whose token is more
    likely next (Section 2.4). A prompt is tokenised as ``encode(prefix) + encode(query
    part)``; :func:`prompt_parts` gives both strings.
    """
    if LABELS != ("negative", "positive"):
        raise ValueError("evaluate_k_shot expects LABELS = ('negative', 'positive')")
    positive_int("draws", draws)
    ids = label_token_ids(encode)
    generator = torch.Generator().manual_seed(0) if generator is None else generator
    margins = []
    for _ in range(draws):
        demos = choose_demonstrations(pool, k, generator)
        prefix, queries = prompt_parts(demos, [ex.text for ex in test])
        scores = next_token_log_probs(model, encode(prefix), [encode(q) for q in queries], ids,
                                      pad_id=pad_id, batch_size=batch_size)
        margins.append(scores[:, 1] - scores[:, 0])
    gold = torch.tensor([LABELS.index(ex.label) for ex in test])
    return KShotResult(k, torch.stack(margins), gold)


def prompt_parts(demonstrations: Sequence[Example], queries: Sequence[str],
                 instruction: str = INSTRUCTION) -> tuple[str, list[str]]:
    """The shared prefix and the per-query parts whose concatenation is :func:`build_prompt`."""
    if not instruction and not demonstrations:
        raise ValueError("a prompt needs an instruction or at least one demonstration as its prefix")
    full = [build_prompt(demonstrations, q, instruction) for q in queries]
    prefix = build_prompt(demonstrations, "", instruction).rsplit("\n\n", 1)[0]
    if any(not p.startswith(prefix) for p in full):
        raise ValueError("prompts do not share the prefix")
    return prefix, [p[len(prefix):] for p in full]
