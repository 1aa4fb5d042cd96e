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

from llmnotes.attention import MultiHeadAttention, causal_mask


def sinusoidal_positions(n_positions: int, d_model: int) -> torch.Tensor:
    """Section 3.5: PE(pos, 2i) = sin(pos / 10000^(2i/d)), PE(pos, 2i+1) = cos(same)."""
    if n_positions < 1 or d_model < 2 or d_model % 2:
        raise ValueError(f"need n_positions >= 1 and an even d_model >= 2, got {n_positions}, {d_model}")
    pos = torch.arange(n_positions, dtype=torch.float64)[:, None]
    freq = 10000.0 ** (-torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)
    pe = torch.zeros(n_positions, d_model, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(pos * freq)
    pe[:, 1::2] = torch.cos(pos * freq)
    return pe.float()


def position_shift_matrix(offset: int, d_model: int) -> torch.Tensor:
    """The fixed linear map M_k with PE(pos + k) = M_k · PE(pos) for every pos.

    Each (sin, cos) pair of frequency ω is rotated by the angle k·ω: a block-diagonal
    matrix of 2×2 rotations that depends on the offset k only, not on pos.
    """
    if d_model < 2 or d_model % 2:
        raise ValueError(f"d_model must be even and >= 2, got {d_model}")
    freq = 10000.0 ** (-torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)
    m = torch.zeros(d_model, d_model, dtype=torch.float64)
    c, s = torch.cos(offset * freq), torch.sin(offset * freq)
    i = torch.arange(0, d_model, 2)
    m[i, i], m[i, i + 1] = c, s          # sin(a + b) = sin a cos b + cos a sin b
    m[i + 1, i], m[i + 1, i + 1] = -s, c  # cos(a + b) = cos a cos b - sin a sin b
    return m


@dataclass(frozen=True)
class TransformerConfig:
    """Hyperparameters; the defaults are the paper's base model (Table 3)."""

    src_vocab: int
    tgt_vocab: int
    d_model: int = 512
    n_heads: int = 8
    d_ff: int = 2048
    n_encoder_layers: int = 6
    n_decoder_layers: int = 6
    dropout: float = 0.1
    max_len: int = 512
    share_embeddings: bool = False

    def __post_init__(self):
        for name in ("src_vocab", "tgt_vocab", "d_model", "n_heads", "d_ff",
                     "n_encoder_layers", "n_decoder_layers", "max_len"):
            if getattr(self, name) < 1:
                raise ValueError(f"TransformerConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.d_model % self.n_heads:
            raise ValueError(f"TransformerConfig.d_model ({self.d_model}) must be divisible by n_heads ({self.n_heads})")
        if self.d_model % 2:
            raise ValueError(f"TransformerConfig.d_model must be even for sinusoidal positions, got {self.d_model}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"TransformerConfig.dropout must be in [0, 1), got {self.dropout}")
        if self.share_embeddings and self.src_vocab != self.tgt_vocab:
            raise ValueError("share_embeddings needs src_vocab == tgt_vocab")


class FeedForward(nn.Sequential):
    """Eq. 2: FFN(x) = max(0, x W1 + b1) W2 + b2."""

    def __init__(self, d_model: int, d_ff: int, dropout: float):
        super().__init__(nn.Linear(d_model, d_ff), nn.ReLU(), nn.Dropout(dropout), nn.Linear(d_ff, d_model))


class EncoderLayer(nn.Module):
    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        self.self_attn = MultiHeadAttention(cfg.d_model, cfg.n_heads, cfg.dropout)
        self.ffn = FeedForward(cfg.d_model, cfg.d_ff, cfg.dropout)
        self.norm1, self.norm2 = nn.LayerNorm(cfg.d_model), nn.LayerNorm(cfg.d_model)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        x = self.norm1(x + self.drop(self.self_attn(x, x, x, mask)))
        return self.norm2(x + self.drop(self.ffn(x)))


class DecoderLayer(nn.Module):
    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        self.self_attn = MultiHeadAttention(cfg.d_model, cfg.n_heads, cfg.dropout)
        self.cross_attn = MultiHeadAttention(cfg.d_model, cfg.n_heads, cfg.dropout)
        self.ffn = FeedForward(cfg.d_model, cfg.d_ff, cfg.dropout)
        self.norm1, self.norm2, self.norm3 = (nn.LayerNorm(cfg.d_model) for _ in range(3))
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, y: torch.Tensor, memory: torch.Tensor, self_mask: torch.Tensor,
                memory_mask: torch.Tensor | None) -> torch.Tensor:
        y = self.norm1(y + self.drop(self.self_attn(y, y, y, self_mask)))
        y = self.norm2(y + self.drop(self.cross_attn(y, memory, memory, memory_mask)))
        return self.norm3(y + self.drop(self.ffn(y)))


class Transformer(nn.Module):
    """Encoder-decoder Transformer. Token id 0 is padding in both vocabularies."""

    PAD = 0

    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        self.cfg = cfg
        self.src_embed = nn.Embedding(cfg.src_vocab, cfg.d_model, padding_idx=self.PAD)
        self.tgt_embed = self.src_embed if cfg.share_embeddings else nn.Embedding(cfg.tgt_vocab, cfg.d_model, padding_idx=self.PAD)
        self.register_buffer("positions", sinusoidal_positions(cfg.max_len, cfg.d_model), persistent=False)
        self.encoder = nn.ModuleList(EncoderLayer(cfg) for _ in range(cfg.n_encoder_layers))
        self.decoder = nn.ModuleList(DecoderLayer(cfg) for _ in range(cfg.n_decoder_layers))
        self.drop = nn.Dropout(cfg.dropout)
        self.out = nn.Linear(cfg.d_model, cfg.tgt_vocab, bias=False)
        self.out.weight = self.tgt_embed.weight  # Section 3.4: output softmax shares the embedding
        nn.init.normal_(self.tgt_embed.weight, std=cfg.d_model ** -0.5)
        if not cfg.share_embeddings:
            nn.init.normal_(self.src_embed.weight, std=cfg.d_model ** -0.5)

    def _embed(self, embedding: nn.Embedding, tokens: torch.Tensor) -> torch.Tensor:
        if tokens.dim() != 2:
            raise ValueError(f"token ids must have shape (batch, n), got {tuple(tokens.shape)}")
        n = tokens.shape[1]
        if n > self.cfg.max_len:
            raise ValueError(f"sequence length {n} exceeds max_len {self.cfg.max_len}")
        return self.drop(embedding(tokens) * math.sqrt(self.cfg.d_model) + self.positions[:n])

    def encode(self, src: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Encoder stack; returns the memory and the source padding mask (batch, 1, 1, n)."""
        src_mask = (src != self.PAD)[:, None, None, :]
        x = self._embed(self.src_embed, src)
        for layer in self.encoder:
            x = layer(x, src_mask)
        return x, src_mask

    def decode(self, tgt: torch.Tensor, memory: torch.Tensor, src_mask: torch.Tensor) -> torch.Tensor:
        """Decoder stack with causal self-attention; returns logits (batch, n_tgt, tgt_vocab)."""
        self_mask = causal_mask(tgt.shape[1], tgt.device) & (tgt != self.PAD)[:, None, None, :]
        y = self._embed(self.tgt_embed, tgt)
        for layer in self.decoder:
            y = layer(y, memory, self_mask, src_mask)
        return self.out(y)

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        memory, src_mask = self.encode(src)
        return self.decode(tgt_in, memory, src_mask)


@torch.no_grad()
def greedy_decode(model: Transformer, src: torch.Tensor, bos: int, eos: int, max_len: int) -> torch.Tensor:
    """Decode a batch greedily: at each step append the most probable next token.

    Returns ``(batch, <= max_len)`` ids without the BOS; positions after EOS are padding.
    """
    if max_len < 1:
        raise ValueError(f"max_len must be >= 1, got {max_len}")
    model.eval()
    memory, src_mask = model.encode(src)
    out = torch.full((src.shape[0], 1), bos, dtype=torch.long, device=src.device)
    done = torch.zeros(src.shape[0], dtype=torch.bool, device=src.device)
    for _ in range(max_len):
        next_token = model.decode(out, memory, src_mask)[:, -1].argmax(-1)
        next_token = next_token.masked_fill(done, Transformer.PAD)
        out = torch.cat([out, next_token[:, None]], dim=1)
        done |= next_token == eos
        if done.all():
            break
    return out[:, 1:]
