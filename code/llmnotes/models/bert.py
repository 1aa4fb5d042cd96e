"""BERT: a bidirectional Transformer encoder pre-trained with a masked language model
(Devlin et al., 2019).

The architecture of Section 3 ("Model Architecture"): token + learned position + segment
embeddings, summed and layer-normalised; ``L`` (``n_layer``) post-norm Transformer encoder
blocks (Vaswani et al., 2017) of width ``H`` (``d_model``) with ``A`` (``n_head``) heads and a
GELU feed-forward network of width ``4H``; a pooler ``tanh(W h_[CLS] + b)`` that feeds
sentence-level heads such as next sentence prediction (Section 3.1, Task #2). The masked-LM
corruption is :func:`llmnotes.methods.masked_lm.mask_tokens`; the real BERT-architecture
checkpoint all-MiniLM-L6-v2 loads into this code with :mod:`llmnotes.weights.minilm`.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from llmnotes.checks import (
    divides,
    positive,
    positive_fields,
    probability,
    same_shape,
    token_ids,
)
from llmnotes.models.base import Model, init_normal
from llmnotes.nn.attention import causal_mask
from llmnotes.nn.block import TransformerBlock


@dataclass(frozen=True)
class BertConfig:
    """Hyper-parameters; Section 3 calls them ``L`` (n_layer), ``H`` (d_model) and ``A`` (n_head)."""

    vocab_size: int = 30522
    max_seq_len: int = 512
    n_layer: int = 12
    n_head: int = 12
    d_model: int = 768
    d_ff: int | None = None          # None: 4H ("filter size 4H", Section 3)
    type_vocab: int = 2
    norm_eps: float = 1e-12
    dropout: float = 0.1
    init_std: float = 0.02           # BERT's initializer_range (tuned for H=768; tiny models learn faster with ~1/sqrt(H))

    def __post_init__(self):
        if self.d_ff is None:
            object.__setattr__(self, "d_ff", 4 * self.d_model)
        positive_fields(self, "vocab_size", "max_seq_len", "n_layer", "n_head", "d_model", "d_ff", "type_vocab")
        divides("BertConfig.n_head", self.n_head, "BertConfig.d_model", self.d_model)
        probability("BertConfig.dropout", self.dropout)
        positive("BertConfig.init_std", self.init_std)

    @classmethod
    def base(cls, **changes) -> "BertConfig":
        """BERT-Base: L=12, H=768, A=12 (Section 3)."""
        return cls(**({"n_layer": 12, "d_model": 768, "n_head": 12} | changes))

    @classmethod
    def large(cls, **changes) -> "BertConfig":
        """BERT-Large: L=24, H=1024, A=16 (Section 3)."""
        return cls(**({"n_layer": 24, "d_model": 1024, "n_head": 16} | changes))


def bert_parameter_count(n_layer, d_model, vocab_size, max_seq_len=512, type_vocab=2, d_ff=None, pooler: bool = True):
    """Parameters of the encoder (with pooler, without pre-training heads), as a formula.

    Works on ints and on sympy symbols alike (``L``, ``H``, ``V``, ``P``, ``T`` below)::

        embeddings  (V + P + T)·H + 2H                  token, position, segment tables + LayerNorm
        per layer   4H² + 4H                            Q, K, V, output projections with biases
                    2·H·ffn + ffn + H                   feed-forward H -> ffn -> H with biases
                    4H                                  two LayerNorms (gain and bias)
        pooler      H² + H                              tanh(W h_[CLS] + b)

    With ``ffn = 4H`` a layer has ``12H² + 13H`` parameters.
    """
    L, H, V, P, T = n_layer, d_model, vocab_size, max_seq_len, type_vocab
    ffn = 4 * H if d_ff is None else d_ff
    embeddings = (V + P + T) * H + 2 * H
    layer = (4 * H * H + 4 * H) + (2 * H * ffn + ffn + H) + 4 * H
    return embeddings + L * layer + ((H * H + H) if pooler else 0)


class BertEmbeddings(nn.Module):
    """Input representation of Figure 2: token + segment + position embeddings, then LayerNorm."""

    def __init__(self, cfg: BertConfig):
        super().__init__()
        self.tok_emb = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.pos_emb = nn.Embedding(cfg.max_seq_len, cfg.d_model)
        self.type_emb = nn.Embedding(cfg.type_vocab, cfg.d_model)
        self.norm = nn.LayerNorm(cfg.d_model, eps=cfg.norm_eps)
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)
        x = self.tok_emb(input_ids) + self.pos_emb(positions) + self.type_emb(token_type_ids)   # (B, T, H)
        return self.dropout(self.norm(x))


class BERT(Model):
    """The encoder: ``forward`` returns the last hidden states ``(B, T, H)``;
    ``pool`` turns the ``[CLS]`` state into the pooled sentence vector ``(B, H)``."""

    def __init__(self, cfg: BertConfig):
        super().__init__()
        self.cfg = cfg
        self.embeddings = BertEmbeddings(cfg)
        self.blocks = nn.ModuleList(
            TransformerBlock(cfg.d_model, cfg.n_head, cfg.d_ff, "gelu", pre_norm=False, norm_eps=cfg.norm_eps,
                             dropout=cfg.dropout) for _ in range(cfg.n_layer))
        self.pooler = nn.Linear(cfg.d_model, cfg.d_model)
        self.apply(functools.partial(init_normal, std=cfg.init_std))   # the released code's N(0, 0.02)

    def forward(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor | None = None,
                attention_mask: torch.Tensor | None = None, causal: bool = False) -> torch.Tensor:
        """Bidirectional self-attention over every non-padding token (``attention_mask`` 1 =
        real token). ``causal=True`` adds a causal mask: the same network as a left-to-right LM."""
        token_ids("input_ids", input_ids, self.cfg.vocab_size)
        n = input_ids.shape[1]
        if n > self.cfg.max_seq_len:
            raise ValueError(f"sequence length {n} exceeds max_seq_len {self.cfg.max_seq_len}")
        token_type_ids = torch.zeros_like(input_ids) if token_type_ids is None else token_type_ids
        same_shape(input_ids=input_ids, token_type_ids=token_type_ids,
                   **({} if attention_mask is None else {"attention_mask": attention_mask}))
        mask = None if attention_mask is None else attention_mask.bool()[:, None, None, :]   # (B, 1, 1, T)
        if causal:
            mask = causal_mask(n, input_ids.device) if mask is None else mask & causal_mask(n, input_ids.device)
        x = self.embeddings(input_ids, token_type_ids)                                   # (B, T, H)
        for block in self.blocks:
            x = block(x, mask)
        return x

    def pool(self, hidden: torch.Tensor) -> torch.Tensor:
        """Section 3.1 / Figure 1: C = tanh(W h_[CLS] + b), the input of the NSP classifier."""
        return torch.tanh(self.pooler(hidden[:, 0]))                                     # (B, H)


class BertLM(Model):
    """BERT with the masked-LM head of the released code: ``dense -> GELU -> LayerNorm``, then
    the output projection tied to the token embedding, plus an output bias.

    ``forward(ids, causal=True)`` turns the same parameters into a left-to-right language model
    (used in the chapter to compare the two objectives at equal size)."""

    def __init__(self, cfg: BertConfig):
        super().__init__()
        self.cfg = cfg
        self.bert = BERT(cfg)
        self.transform = nn.Linear(cfg.d_model, cfg.d_model)
        self.transform_norm = nn.LayerNorm(cfg.d_model, eps=cfg.norm_eps)
        self.bias = nn.Parameter(torch.zeros(cfg.vocab_size))
        init_normal(self.transform, cfg.init_std)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                causal: bool = False) -> torch.Tensor:
        """Logits ``(B, T, vocab)`` for every position."""
        h = self.bert(input_ids, attention_mask=attention_mask, causal=causal)             # (B, T, H)
        h = self.transform_norm(F.gelu(self.transform(h)))
        return h @ self.bert.embeddings.tok_emb.weight.T + self.bias


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Average of the token states of the real (non-padding) tokens: ``(B, T, H) -> (B, H)``."""
    if hidden.shape[:2] != attention_mask.shape:
        raise ValueError(f"attention_mask {tuple(attention_mask.shape)} does not match hidden states "
                         f"{tuple(hidden.shape)}")
    weights = attention_mask.to(hidden.dtype).unsqueeze(-1)                              # (B, T, 1)
    return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
