"""Decoding: turning a language model's next-token distribution into text, for every decoder.

A decoder here is any module with ``forward(ids, cache=None) -> logits (B, T, V)``, a
``max_seq_len`` and, if it keeps a key/value cache, ``new_cache()``: :class:`~llmnotes.models.gpt.GPT`,
:class:`~llmnotes.models.llama.Llama`, and the Transformer's decoder bound to a source
(:meth:`~llmnotes.models.transformer.Transformer.conditioned`).

:func:`generate` appends one token at a time, choosing it with :func:`next_token`:

* greedy (``temperature=0``): the most probable token;
* sampling at a temperature: ``softmax(logits / T)``, flatter for ``T > 1``, sharper below 1;
* top-k (Fan et al., 2018): sample among the ``k`` most probable tokens only;
* top-p, "nucleus" (Holtzman et al., 2020): among the smallest set whose probability reaches ``p``.

:func:`beam_search` keeps the ``k`` most probable continuations of every prompt instead of one
(the maximisation-based decoding that Holtzman et al., 2020, Section 3, show to degenerate), and
:func:`token_logprobs` scores given text under the model (their Figure 1).
"""
from __future__ import annotations

import torch

from llmnotes.checks import non_negative_int, number, positive_int


def filter_logits(logits: torch.Tensor, top_k: int | None = None, top_p: float | None = None) -> torch.Tensor:
    """``logits (B, V)`` with every token outside the top-k and outside the top-p nucleus set to ``-inf``."""
    if top_k is not None:
        kth = torch.topk(logits, min(positive_int("top_k", top_k), logits.shape[-1])).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))                 # keep the k largest
    if top_p is not None:
        number("top_p", top_p, 0.0, 1.0, low_open=True)
        sorted_logits, order = logits.sort(dim=-1, descending=True)
        cumulative = sorted_logits.softmax(-1).cumsum(-1)
        outside = cumulative - sorted_logits.softmax(-1) >= top_p                # mass before this token already >= p
        logits = logits.masked_fill(torch.zeros_like(outside).scatter(-1, order, outside), float("-inf"))
    return logits


def next_token(logits: torch.Tensor, temperature: float = 0.0, top_k: int | None = None,
               top_p: float | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
    """One token per row of ``logits (B, V)``: ``(B, 1)`` ids. ``temperature=0`` is greedy."""
    if number("temperature", temperature, low=0.0) == 0:
        return logits.argmax(-1, keepdim=True)
    probs = filter_logits(logits.float() / temperature, top_k, top_p).softmax(-1)
    return torch.multinomial(probs, 1, generator=generator)


@torch.no_grad()
def generate(model, ids: torch.Tensor, max_new_tokens: int, temperature: float = 0.0,
             top_k: int | None = None, top_p: float | None = None, eos_id: int | None = None,
             pad_id: int | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
    """Continue every row of ``ids (B, T)`` by up to ``max_new_tokens`` tokens; returns ``(B, T + new)``.

    With a key/value cache the prompt runs once and every later step feeds one token. Once a
    row has produced ``eos_id``, its later positions hold ``pad_id`` (default: ``eos_id``), and
    decoding stops when every row has finished. A decoder without a cache, or a sequence longer
    than ``max_seq_len``, is run on the last ``max_seq_len`` tokens at every step.
    """
    if ids.dim() != 2 or ids.shape[1] < 1:
        raise ValueError(f"ids must have shape (B, T) with T >= 1, got {tuple(ids.shape)}")
    non_negative_int("max_new_tokens", max_new_tokens)
    pad_id = eos_id if pad_id is None else pad_id
    model.eval()
    cache = model.new_cache() if hasattr(model, "new_cache") else None
    done = torch.zeros(ids.shape[0], dtype=torch.bool, device=ids.device)
    for _ in range(max_new_tokens):
        if cache is not None and ids.shape[1] <= model.max_seq_len:
            logits = model(ids[:, len(cache):], cache=cache)[:, -1]                # only the new positions
        else:
            cache = None                                                           # the window slides: recompute
            logits = model(ids[:, -model.max_seq_len:])[:, -1]
        token = next_token(logits, temperature, top_k, top_p, generator)           # (B, 1)
        if eos_id is not None:
            token = token.masked_fill(done[:, None], pad_id)
            done |= token[:, 0] == eos_id
        ids = torch.cat([ids, token], dim=1)
        if eos_id is not None and done.all():
            break
    return ids


@torch.no_grad()
def beam_search(model, ids: torch.Tensor, max_new_tokens: int, num_beams: int,
                eos_id: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Beam search of fixed length: the ``num_beams`` best continuations of each row of ``ids (B, T)``.

    At every step each beam is extended by every token and the ``num_beams`` extensions with the
    largest total log-probability :math:`\\sum_t \\log p(x_t \\mid x_{<t})` survive (Holtzman et
    al., 2020, Section 3). Every beam runs exactly ``max_new_tokens`` steps (no end-of-sequence
    handling): ``eos_id``, if given, is forbidden (its log-probability is set to ``-inf`` after
    the softmax), so all hypotheses have the same length and a length penalty
    :math:`\\mathrm{score}/L^\\alpha` would not change their order. This is the definition of
    Hugging Face's ``generate(num_beams=k, do_sample=False, min_new_tokens=n, max_new_tokens=n)``
    with the same ``eos_id`` (for any ``length_penalty``).
    The key/value cache is reordered after every step so each beam keeps its own prefix.

    Returns ``sequences (B, num_beams, T + max_new_tokens)`` best first and their total
    log-probabilities ``scores (B, num_beams)`` of the new tokens.
    """
    if ids.dim() != 2 or ids.shape[1] < 1:
        raise ValueError(f"ids must have shape (B, T) with T >= 1, got {tuple(ids.shape)}")
    positive_int("max_new_tokens", max_new_tokens)
    k = positive_int("num_beams", num_beams)
    if ids.shape[1] + max_new_tokens > model.max_seq_len:
        raise ValueError(f"prompt ({ids.shape[1]}) + max_new_tokens ({max_new_tokens}) exceeds max_seq_len {model.max_seq_len}")
    model.eval()
    batch = ids.shape[0]
    cache = model.new_cache() if hasattr(model, "new_cache") else None
    seqs = ids.repeat_interleave(k, dim=0)                                         # (B*k, T)
    scores = torch.full((batch, k), float("-inf"), device=ids.device)
    scores[:, 0] = 0.0                                                             # one live beam at first: no duplicates
    offsets = torch.arange(batch, device=ids.device)[:, None] * k                  # (B, 1)
    for _ in range(max_new_tokens):
        if cache is not None:
            logits = model(seqs[:, len(cache):], cache=cache)[:, -1]               # (B*k, V)
        else:
            logits = model(seqs)[:, -1]                                            # (B*k, V)
        vocab = logits.shape[-1]
        logp = logits.float().log_softmax(-1)                                      # (B*k, V)
        if eos_id is not None:
            logp[:, eos_id] = float("-inf")                                        # fixed length: no beam ends
        total = scores.reshape(-1, 1) + logp                                       # (B*k, V)
        scores, flat = total.view(batch, k * vocab).topk(k, dim=-1)                # (B, k), best first
        rows = (flat // vocab + offsets).view(-1)                                  # (B*k,) beam each came from
        seqs = torch.cat([seqs[rows], (flat % vocab).view(-1, 1)], dim=1)          # (B*k, T + step)
        if cache is not None:
            cache.reorder(rows)
    return seqs.view(batch, k, -1), scores


@torch.no_grad()
def token_logprobs(model, ids: torch.Tensor, start: int = 1) -> torch.Tensor:
    """``log p(ids[:, t] | ids[:, :t])`` for ``t = start .. T-1``: ``(B, T - start)``, one forward pass."""
    if ids.dim() != 2 or ids.shape[1] < 2:
        raise ValueError(f"ids must have shape (B, T) with T >= 2, got {tuple(ids.shape)}")
    if not 1 <= positive_int("start", start) < ids.shape[1]:
        raise ValueError(f"start must be in 1 .. {ids.shape[1] - 1}, got {start}")
    model.eval()
    logp = model(ids)[:, start - 1:-1].float().log_softmax(-1)                    # (B, T - start, V)
    return logp.gather(-1, ids[:, start:, None])[..., 0]                          # (B, T - start)
