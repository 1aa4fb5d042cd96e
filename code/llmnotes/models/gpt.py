"""A decoder-only GPT: causal self-attention, learned positions, Transformer blocks.

The architecture of GPT-2/GPT-3 (Radford et al., 2019; Brown et al., 2020, Section 2.1) at
any size: token + learned position embeddings, ``n_layer`` pre-norm blocks
``x + Attn(LN(x))`` and ``x + MLP(LN(x))`` (MLP width ``d_ff = 4d``, GELU), a final LayerNorm,
and an output projection tied to the token embedding. ``pre_norm=False`` gives GPT-1's
post-norm blocks ``LN(x + Attn(x))`` (Radford et al., 2018), with no final LayerNorm.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from llmnotes.checks import (
    divides,
    one_of,
    positive_fields,
    positive_int,
    probability,
    token_ids,
)
from llmnotes.models.base import Decoder, Model, init_normal
from llmnotes.nn.attention import causal_mask, prefix_lm_mask
from llmnotes.nn.block import TransformerBlock
from llmnotes.nn.feedforward import ACTIVATIONS
from llmnotes.nn.kv_cache import KVCache


@dataclass(frozen=True)
class GPTConfig:
    vocab_size: int
    max_seq_len: int = 128
    n_layer: int = 4
    n_head: int = 4
    d_model: int = 128
    d_ff: int | None = None          # None: 4 · d_model
    dropout: float = 0.0
    pre_norm: bool = True
    activation: str = "gelu"

    def __post_init__(self):
        positive_fields(self, "vocab_size", "max_seq_len", "n_layer", "n_head", "d_model")
        divides("GPTConfig.n_head", self.n_head, "GPTConfig.d_model", self.d_model)
        if self.d_ff is None:
            object.__setattr__(self, "d_ff", 4 * self.d_model)
        positive_int("GPTConfig.d_ff", self.d_ff)
        probability("GPTConfig.dropout", self.dropout)
        one_of("GPTConfig.activation", self.activation, ACTIVATIONS)


class GPT(Decoder):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.cfg = cfg
        self.tok_emb = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.pos_emb = nn.Embedding(cfg.max_seq_len, cfg.d_model)
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(
            TransformerBlock(cfg.d_model, cfg.n_head, cfg.d_ff, cfg.activation, cfg.pre_norm, dropout=cfg.dropout)
            for _ in range(cfg.n_layer))
        self.norm = nn.LayerNorm(cfg.d_model) if cfg.pre_norm else nn.Identity()
        self.head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
        self.head.weight = self.tok_emb.weight                    # weight tying (Press & Wolf, 2017)
        self.apply(init_normal)

    def hidden(self, idx: torch.Tensor, cache: KVCache | None = None,
               prefix: int | torch.Tensor | None = None) -> torch.Tensor:
        """Final-layer states (after the last LayerNorm), ``(B, T, d_model)``.

        Attention is causal; with ``prefix`` (a length, or one per sequence) the first ``prefix``
        positions see each other in both directions: the prefix LM of Raffel et al. (2020,
        Section 3.2.1), see :func:`~llmnotes.nn.attention.prefix_lm_mask`. Positions count from
        the start of the sequence, cached ones included.
        """
        token_ids("idx", idx, self.cfg.vocab_size)
        start = 0 if cache is None else len(cache)                # positions already cached
        t = idx.shape[1]
        if start + t > self.cfg.max_seq_len:
            raise ValueError(f"sequence length {start + t} exceeds max_seq_len {self.cfg.max_seq_len}")
        positions = torch.arange(start, start + t, device=idx.device)
        x = self.drop(self.tok_emb(idx) + self.pos_emb(positions))           # (B, T, d_model)
        if prefix is None:
            mask = causal_mask(t, idx.device, offset=start)                   # (T, start + T)
        else:                                                                 # the rows of the new positions
            mask = prefix_lm_mask(prefix, start + t, idx.device)[..., start:, :]  # ([B, 1,] T, start + T)
        for i, block in enumerate(self.blocks):
            x = block(x, mask, None if cache is None else cache[i])
        return self.norm(x)

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None, cache: KVCache | None = None,
                prefix: int | torch.Tensor | None = None):
        """Logits ``(B, T, vocab)``; with ``targets``, also the mean cross-entropy.

        ``prefix`` makes the first positions fully visible to each other (see :meth:`hidden`).
        """
        logits = self.head(self.hidden(idx, cache, prefix))                   # (B, T, vocab)
        if targets is None:
            return logits
        return logits, F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


class ScalarHeadGPT(Model):
    """A GPT body with a linear scalar head at every position: a reward model or a value function.

    ``forward(idx)`` returns ``(B, T)``: the scalar read at each position, which thanks to the
    causal mask depends only on the tokens up to it. The reward of a response is the value at
    its last token (:meth:`score`); PPO's value function uses every position.
    """

    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.cfg = cfg
        self.body = GPT(cfg)
        self.value_head = nn.Linear(cfg.d_model, 1)
        nn.init.zeros_(self.value_head.weight)
        nn.init.zeros_(self.value_head.bias)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return self.value_head(self.body.hidden(idx)).squeeze(-1)                # (B, T)

    def score(self, idx: torch.Tensor, last: torch.Tensor) -> torch.Tensor:
        """The scalar at position ``last[i]`` of row ``i`` (the response's final token), ``(B,)``."""
        if last.shape != idx.shape[:1]:
            raise ValueError(f"last must have shape ({idx.shape[0]},), got {tuple(last.shape)}")
        return self(idx).gather(1, last.unsqueeze(1)).squeeze(1)


def gpt_non_embedding_count(n_layer: int, d_model: int) -> int:
    """Non-embedding parameters of :class:`GPT` (Kaplan et al.'s ``N``): ``n_layer (12 d² + 13 d) + 2 d``.

    ``12 d²`` are the weight matrices of attention (``4 d²``) and MLP (``8 d²``), as in Kaplan
    et al.'s Eq. 2.1; ``13 d`` the biases and LayerNorms of a block; ``2 d`` the final LayerNorm.
    """
    positive_int("n_layer", n_layer)
    positive_int("d_model", d_model)
    return n_layer * (12 * d_model ** 2 + 13 * d_model) + 2 * d_model


def gpt_parameter_count(n_layer: int, d_model: int, vocab_size: int, max_seq_len: int) -> int:
    """Exact parameter count of :class:`GPT` (tied output head), in closed form.

    :func:`gpt_non_embedding_count` plus the token and position embeddings (``V·d + T·d``).
    This is how the sizes of Brown et al. (2020), Table 2.1, follow from ``n_layer`` and
    ``d_model`` with GPT-2's vocabulary (50257) and a 2048-token context.
    """
    positive_int("vocab_size", vocab_size)
    positive_int("max_seq_len", max_seq_len)
    return gpt_non_embedding_count(n_layer, d_model) + (vocab_size + max_seq_len) * d_model
