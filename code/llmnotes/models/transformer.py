"""The encoder-decoder Transformer (Vaswani et al., 2017, Section 3, Figure 1).

Post-layer-norm residual blocks (``LayerNorm(x + Sublayer(x))``, Section 5.4), sinusoidal
positions (Section 3.5), embeddings scaled by √d_model and tied with the output softmax
(Section 3.4).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from llmnotes.checks import divides, positive_fields, probability, token_ids
from llmnotes.models.base import Model
from llmnotes.nn.attention import MultiHeadAttention, causal_mask
from llmnotes.nn.block import TransformerBlock
from llmnotes.nn.feedforward import FeedForward
from llmnotes.nn.kv_cache import KVCache, LayerCache
from llmnotes.nn.positions import sinusoidal_positions


@dataclass(frozen=True)
class TransformerConfig:
    """Hyperparameters; the defaults are the paper's base model (Table 3)."""

    src_vocab: int
    tgt_vocab: int
    max_seq_len: int = 512
    n_encoder_layers: int = 6
    n_decoder_layers: int = 6
    n_head: int = 8
    d_model: int = 512
    d_ff: int = 2048
    dropout: float = 0.1
    share_embeddings: bool = False

    def __post_init__(self):
        positive_fields(self, "src_vocab", "tgt_vocab", "max_seq_len", "n_encoder_layers", "n_decoder_layers",
               "n_head", "d_model", "d_ff")
        divides("TransformerConfig.n_head", self.n_head, "TransformerConfig.d_model", self.d_model)
        if self.d_model % 2:
            raise ValueError(f"TransformerConfig.d_model must be even for sinusoidal positions, got {self.d_model}")
        probability("TransformerConfig.dropout", self.dropout)
        if self.share_embeddings and self.src_vocab != self.tgt_vocab:
            raise ValueError("share_embeddings needs src_vocab == tgt_vocab")


class DecoderLayer(nn.Module):
    """Masked self-attention, then attention over the encoder output, then the FFN, each post-norm."""

    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        self.self_attn = MultiHeadAttention(cfg.d_model, cfg.n_head, dropout=cfg.dropout)
        self.cross_attn = MultiHeadAttention(cfg.d_model, cfg.n_head, dropout=cfg.dropout)
        self.ffn = FeedForward(cfg.d_model, cfg.d_ff, "relu")
        self.attn_norm, self.cross_norm, self.ffn_norm = (nn.LayerNorm(cfg.d_model) for _ in range(3))
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, y: torch.Tensor, memory: torch.Tensor, self_mask: torch.Tensor,
                memory_mask: torch.Tensor | None, cache: LayerCache | None = None) -> torch.Tensor:
        y = self.attn_norm(y + self.drop(self.self_attn(y, mask=self_mask, cache=cache)))        # (B, T_tgt, d)
        y = self.cross_norm(y + self.drop(self.cross_attn(y, context=memory, mask=memory_mask)))
        return self.ffn_norm(y + self.drop(self.ffn(y)))


class Transformer(Model):
    """Encoder-decoder Transformer. Token id 0 is padding in both vocabularies."""

    PAD = 0

    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        self.cfg = cfg
        self.src_embed = nn.Embedding(cfg.src_vocab, cfg.d_model, padding_idx=self.PAD)
        self.tgt_embed = self.src_embed if cfg.share_embeddings else nn.Embedding(cfg.tgt_vocab, cfg.d_model, padding_idx=self.PAD)
        self.register_buffer("positions", sinusoidal_positions(cfg.max_seq_len, cfg.d_model), persistent=False)
        self.encoder = nn.ModuleList(
            TransformerBlock(cfg.d_model, cfg.n_head, cfg.d_ff, "relu", pre_norm=False, dropout=cfg.dropout)
            for _ in range(cfg.n_encoder_layers))
        self.decoder = nn.ModuleList(DecoderLayer(cfg) for _ in range(cfg.n_decoder_layers))
        self.drop = nn.Dropout(cfg.dropout)
        self.out = nn.Linear(cfg.d_model, cfg.tgt_vocab, bias=False)
        self.out.weight = self.tgt_embed.weight  # Section 3.4: output softmax shares the embedding
        nn.init.normal_(self.tgt_embed.weight, std=cfg.d_model ** -0.5)
        if not cfg.share_embeddings:
            nn.init.normal_(self.src_embed.weight, std=cfg.d_model ** -0.5)

    def _embed(self, embedding: nn.Embedding, tokens: torch.Tensor, start: int = 0) -> torch.Tensor:
        token_ids("tokens", tokens, embedding.num_embeddings)
        end = start + tokens.shape[1]
        if end > self.cfg.max_seq_len:
            raise ValueError(f"sequence length {end} exceeds max_seq_len {self.cfg.max_seq_len}")
        return self.drop(embedding(tokens) * math.sqrt(self.cfg.d_model) + self.positions[start:end])

    def encode(self, src: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Encoder stack; returns the memory ``(B, T_src, d)`` and the source padding mask ``(B, 1, 1, T_src)``."""
        src_mask = (src != self.PAD)[:, None, None, :]
        x = self._embed(self.src_embed, src)
        for layer in self.encoder:
            x = layer(x, src_mask)
        return x, src_mask

    def decode(self, tgt: torch.Tensor, memory: torch.Tensor, src_mask: torch.Tensor,
               cache: KVCache | None = None) -> torch.Tensor:
        """Decoder stack with causal self-attention; returns logits ``(B, T_tgt, tgt_vocab)``.

        Target padding sits after the end of each sentence, where the causal mask already hides
        it from every real token, so the self-attention needs no padding mask.
        """
        start = 0 if cache is None else len(cache)
        self_mask = causal_mask(tgt.shape[1], tgt.device, offset=start)
        y = self._embed(self.tgt_embed, tgt, start)
        for i, layer in enumerate(self.decoder):
            y = layer(y, memory, self_mask, src_mask, None if cache is None else cache[i])
        return self.out(y)

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        memory, src_mask = self.encode(src)
        return self.decode(tgt_in, memory, src_mask)

    def conditioned(self, src: torch.Tensor) -> "ConditionedDecoder":
        """The decoder bound to the encoding of ``src``: a decoder-only LM for :func:`llmnotes.decoding.generate`."""
        return ConditionedDecoder(self, src)


class ConditionedDecoder(nn.Module):
    """``Transformer.decode`` with a fixed source: ``forward(tgt, cache)`` -> logits, like a GPT."""

    def __init__(self, model: Transformer, src: torch.Tensor):
        super().__init__()
        self.model = model
        with torch.no_grad():
            self.memory, self.src_mask = model.encode(src)

    @property
    def max_seq_len(self) -> int:
        return self.model.cfg.max_seq_len

    def new_cache(self) -> KVCache:
        return KVCache(self.model.cfg.n_decoder_layers)

    def forward(self, tgt: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        if tgt.shape[0] != self.memory.shape[0]:
            raise ValueError(f"tgt has batch {tgt.shape[0]}, the source {self.memory.shape[0]}")
        return self.model.decode(tgt, self.memory, self.src_mask, cache)

