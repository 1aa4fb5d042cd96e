"""GRU encoder-decoders with and without attention: RNNencdec and RNNsearch.

* :class:`RNNEncDec`: the encoder-decoder of Cho et al. (2014), "Learning Phrase Representations
  using RNN Encoder-Decoder for Statistical Machine Translation": a GRU reads the source, its last
  state is the fixed-length summary ``c``, and a GRU decoder sees ``c`` at every step.
* :class:`RNNSearch`: the model of Bahdanau, Cho & Bengio (2015), "Neural Machine Translation by
  Jointly Learning to Align and Translate", ICLR 2015: a bidirectional GRU encoder whose
  annotations are ``h_j = [forward h_j; backward h_j]`` (Section 3.2), and a decoder that at each
  step computes a context ``c_i = sum_j alpha_ij h_j`` from its previous state ``s_{i-1}`` (Eqs. 5-6)
  and feeds it into the GRU, ``s_i = f(s_{i-1}, y_{i-1}, c_i)`` (Eq. 4). The score is additive
  (the paper's) or a dot product (Luong et al., 2015), see :mod:`llmnotes.nn.additive_attention`.

Both are small versions of the paper's models (1000 hidden units there, Section 4.2), with the
maxout deep output replaced by one linear layer on ``[s_i; c_i; E y_{i-1}]``. Teacher forcing:
``forward(src, src_len, tgt_in)`` returns logits for every target position, ``(B, T, vocab)``.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from llmnotes.checks import one_of, positive_fields, shape, token_ids
from llmnotes.models.base import Model
from llmnotes.nn.additive_attention import AdditiveAttention, DotProductAttention
from llmnotes.nn.attention import padding_mask


@dataclass
class Seq2SeqConfig:
    vocab_size: int          # source and target vocabularies have this size (ids 0 = PAD)
    d_model: int = 64        # GRU hidden units (per direction in RNNSearch's encoder)
    d_embed: int = 32        # word embedding size (620 in the paper)
    d_attn: int = 64         # hidden size of the additive alignment model (1000 in the paper)
    score: str = "additive"  # RNNSearch only: "additive" (Bahdanau) or "dot" (Luong's "general")

    def __post_init__(self) -> None:
        positive_fields(self, "vocab_size", "d_model", "d_embed", "d_attn")
        one_of("Seq2SeqConfig.score", self.score, ("additive", "dot"))


def _check_inputs(cfg: Seq2SeqConfig, src: torch.Tensor, src_len: torch.Tensor, tgt_in: torch.Tensor) -> None:
    token_ids("src", src, cfg.vocab_size)
    token_ids("tgt_in", tgt_in, cfg.vocab_size)
    shape("src_len", src_len, (src.shape[0],))
    if tgt_in.shape[0] != src.shape[0]:
        raise ValueError(f"src and tgt_in must have the same batch size, got {src.shape[0]} and {tgt_in.shape[0]}")
    if src_len.numel() and (int(src_len.min()) < 1 or int(src_len.max()) > src.shape[1]):
        raise ValueError(f"src_len must be in [1, {src.shape[1]}], got [{int(src_len.min())}, {int(src_len.max())}]")


class RNNEncDec(Model):
    """Cho et al.'s encoder-decoder (the paper's RNNencdec): everything passes through one vector ``c``."""

    def __init__(self, cfg: Seq2SeqConfig):
        super().__init__()
        self.cfg = cfg
        d, e = cfg.d_model, cfg.d_embed
        self.src_embed = nn.Embedding(cfg.vocab_size, e, padding_idx=0)
        self.tgt_embed = nn.Embedding(cfg.vocab_size, e, padding_idx=0)
        self.encoder = nn.GRU(e, d, batch_first=True)
        self.init_state = nn.Linear(d, d)                 # s_0 = tanh(W c)
        self.decoder = nn.GRU(e + d, d, batch_first=True)  # input [E y_{i-1}; c]
        self.out = nn.Linear(d + d + e, cfg.vocab_size)    # logits from [s_i; c; E y_{i-1}]

    def encode(self, src: torch.Tensor, src_len: torch.Tensor) -> torch.Tensor:
        """The fixed-length summary ``c``: the encoder's state after the last real token, ``(B, d)``."""
        packed = pack_padded_sequence(self.src_embed(src), src_len.cpu(), batch_first=True, enforce_sorted=False)
        _, h_n = self.encoder(packed)                     # (1, B, d)
        return h_n[0]                                     # (B, d)

    def forward(self, src: torch.Tensor, src_len: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        _check_inputs(self.cfg, src, src_len, tgt_in)
        c = self.encode(src, src_len)                                    # (B, d)
        y = self.tgt_embed(tgt_in)                                       # (B, T, e)
        c_t = c.unsqueeze(1).expand(-1, y.shape[1], -1)                  # (B, T, d), the same c at every step
        s0 = torch.tanh(self.init_state(c)).unsqueeze(0)                 # (1, B, d)
        s, _ = self.decoder(torch.cat([y, c_t], dim=-1), s0)             # (B, T, d)
        return self.out(torch.cat([s, c_t, y], dim=-1))                  # (B, T, vocab)


class RNNSearch(Model):
    """Bahdanau et al.'s RNNsearch: bidirectional encoder, a new context ``c_i`` at every target step."""

    def __init__(self, cfg: Seq2SeqConfig):
        super().__init__()
        self.cfg = cfg
        d, e = cfg.d_model, cfg.d_embed
        self.src_embed = nn.Embedding(cfg.vocab_size, e, padding_idx=0)
        self.tgt_embed = nn.Embedding(cfg.vocab_size, e, padding_idx=0)
        self.encoder = nn.GRU(e, d, batch_first=True, bidirectional=True)
        self.init_state = nn.Linear(d, d)                  # s_0 = tanh(W_s backward h_1) (Appendix A.2.2)
        if cfg.score == "additive":
            self.attention = AdditiveAttention(d, 2 * d, cfg.d_attn)
        else:
            self.attention = DotProductAttention(d, 2 * d, general=True)
        self.decoder = nn.GRUCell(e + 2 * d, d)            # s_i = f(s_{i-1}, [E y_{i-1}; c_i])
        self.out = nn.Linear(d + 2 * d + e, cfg.vocab_size)  # logits from [s_i; c_i; E y_{i-1}]

    def encode(self, src: torch.Tensor, src_len: torch.Tensor) -> torch.Tensor:
        """Annotations ``h_j = [forward h_j; backward h_j]`` (Section 3.2), ``(B, S, 2d)``, zero on padding."""
        packed = pack_padded_sequence(self.src_embed(src), src_len.cpu(), batch_first=True, enforce_sorted=False)
        h, _ = self.encoder(packed)
        h, _ = pad_packed_sequence(h, batch_first=True, total_length=src.shape[1])   # (B, S, 2d)
        return h

    def forward(self, src: torch.Tensor, src_len: torch.Tensor, tgt_in: torch.Tensor,
                return_weights: bool = False) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Logits ``(B, T, vocab)``; with ``return_weights`` also the alignment ``alpha`` ``(B, T, S)``."""
        _check_inputs(self.cfg, src, src_len, tgt_in)
        d = self.cfg.d_model
        h = self.encode(src, src_len)                                    # (B, S, 2d)
        mask = padding_mask(src_len, src.shape[1])[:, 0, 0]               # (B, S), True = a real source token
        projected = self.attention.project_keys(h)                      # (B, S, d_attn): U_a h_j, once
        s = torch.tanh(self.init_state(h[:, 0, d:]))                     # (B, d) from the backward state at j = 1
        y = self.tgt_embed(tgt_in)                                       # (B, T, e)
        states, contexts, weights = [], [], []
        for i in range(tgt_in.shape[1]):
            c, alpha = self.attention(s, h, mask, projected)             # (B, 2d), (B, S): Eqs. 5-6 with s_{i-1}
            s = self.decoder(torch.cat([y[:, i], c], dim=-1), s)         # (B, d): Eq. 4
            states.append(s)
            contexts.append(c)
            weights.append(alpha)
        s_all, c_all = torch.stack(states, 1), torch.stack(contexts, 1)  # (B, T, d), (B, T, 2d)
        logits = self.out(torch.cat([s_all, c_all, y], dim=-1))          # (B, T, vocab)
        return (logits, torch.stack(weights, 1)) if return_weights else logits   # alpha: (B, T, S)
