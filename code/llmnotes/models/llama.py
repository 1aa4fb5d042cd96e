"""LLaMA: a GPT-style decoder with RMSNorm, SwiGLU and rotary embeddings (Touvron et al., 2023).

Section 2.2 of the paper lists the three changes to the original Transformer decoder:

* **Pre-normalisation** with RMSNorm (Zhang & Sennrich, 2019): every sub-layer's *input* is
  normalised, ``x + Attn(RMSNorm(x))`` and ``x + FFN(RMSNorm(x))``, plus a final RMSNorm.
* **SwiGLU** feed-forward (Shazeer, 2020) with hidden width ``2/3·4d`` instead of ``4d``, so the
  three weight matrices cost what the two of a ``4d`` ReLU MLP cost.
* **Rotary embeddings** (Su et al., 2021) applied to queries and keys at every layer, instead of
  absolute position embeddings added to the input.

Grouped-query attention (``n_kv_head < n_head``; Ainslie et al., 2023) is *not* in LLaMA 1; it
came with Llama 2 (34B/70B). It is supported because the real checkpoint the book loads,
SmolLM2-135M, uses it. With ``n_kv_head == n_head`` the model is exactly LLaMA 1.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from llmnotes.checks import divides, positive, positive_fields, token_ids
from llmnotes.models.base import Decoder, init_normal
from llmnotes.nn.attention import MultiHeadAttention, causal_mask
from llmnotes.nn.feedforward import SwiGLU, ffn_hidden_size
from llmnotes.nn.kv_cache import KVCache, LayerCache
from llmnotes.nn.norms import RMSNorm
from llmnotes.nn.positions import rope_cache


@dataclass(frozen=True)
class LlamaConfig:
    """Hyper-parameters of a LLaMA decoder (Table 2 of the paper gives the four sizes).

    ``n_kv_head`` defaults to ``n_head`` (plain multi-head attention, as in LLaMA 1) and
    ``d_ff`` to :func:`~llmnotes.nn.feedforward.ffn_hidden_size` of ``d_model``.
    """

    vocab_size: int = 32000
    max_seq_len: int = 2048
    n_layer: int = 32
    n_head: int = 32
    n_kv_head: int | None = None
    d_model: int = 4096
    d_ff: int | None = None
    rope_theta: float = 10000.0
    norm_eps: float = 1e-6
    tie_embeddings: bool = False

    def __post_init__(self):
        if self.n_kv_head is None:
            object.__setattr__(self, "n_kv_head", self.n_head)
        if self.d_ff is None:
            object.__setattr__(self, "d_ff", ffn_hidden_size(self.d_model))
        positive_fields(self, "vocab_size", "max_seq_len", "n_layer", "n_head", "n_kv_head", "d_model", "d_ff")
        divides("LlamaConfig.n_head", self.n_head, "LlamaConfig.d_model", self.d_model)
        divides("LlamaConfig.n_kv_head", self.n_kv_head, "LlamaConfig.n_head", self.n_head)
        if self.d_head % 2:
            raise ValueError(f"LlamaConfig head dimension d_model/n_head = {self.d_head} must be even for RoPE")
        positive("LlamaConfig.rope_theta", self.rope_theta)
        positive("LlamaConfig.norm_eps", self.norm_eps)

    @property
    def d_head(self) -> int:
        return self.d_model // self.n_head


class LlamaBlock(nn.Module):
    """Pre-normalised block: ``h = x + Attn(RMSNorm(x))``, ``out = h + SwiGLU(RMSNorm(h))``."""

    def __init__(self, cfg: LlamaConfig):
        super().__init__()
        self.attn_norm = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.attn = MultiHeadAttention(cfg.d_model, cfg.n_head, cfg.n_kv_head, bias=False)
        self.ffn_norm = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.ffn = SwiGLU(cfg.d_model, cfg.d_ff)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, rope: tuple[torch.Tensor, torch.Tensor],
                cache: LayerCache | None = None) -> torch.Tensor:
        h = x + self.attn(self.attn_norm(x), mask=mask, rope=rope, cache=cache)   # (B, T, d_model)
        return h + self.ffn(self.ffn_norm(h))


class Llama(Decoder):
    """Token embedding → ``n_layer`` :class:`LlamaBlock` → RMSNorm → output projection.

    No position embedding: positions enter only through the rotary q/k rotation.
    """

    def __init__(self, cfg: LlamaConfig):
        super().__init__()
        self.cfg = cfg
        self.tok_emb = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.blocks = nn.ModuleList(LlamaBlock(cfg) for _ in range(cfg.n_layer))
        self.norm = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
        if cfg.tie_embeddings:
            self.head.weight = self.tok_emb.weight
        self.set_rope(*rope_cache(cfg.d_head, cfg.max_seq_len, cfg.rope_theta))
        self.apply(init_normal)

    def set_rope(self, cos: torch.Tensor, sin: torch.Tensor) -> None:
        """The rotary angles ``(max_seq_len, d_head/2)``, as non-persistent buffers."""
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)

    def hidden(self, ids: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        """Final-layer states (after the last RMSNorm), ``(B, T, d_model)``; see :meth:`forward`."""
        token_ids("ids", ids, self.cfg.vocab_size)
        start = 0 if cache is None else len(cache)
        end = start + ids.shape[1]
        if end > self.cfg.max_seq_len:
            raise ValueError(f"sequence length {end} exceeds max_seq_len {self.cfg.max_seq_len}")
        rope = self.rope_cos[start:end], self.rope_sin[start:end]             # (T, d_head/2) each
        mask = causal_mask(ids.shape[1], ids.device, offset=start)            # (T, end)
        x = self.tok_emb(ids)                                                 # (B, T, d_model)
        for i, block in enumerate(self.blocks):
            x = block(x, mask, rope, None if cache is None else cache[i])
        return self.norm(x)

    def forward(self, ids: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        """Logits ``(B, T, vocab)`` for token ids ``(B, T)``.

        With ``cache``, ``ids`` continue the sequence whose keys and values the cache holds,
        and the cache is extended.
        """
        return self.head(self.hidden(ids, cache))                             # (B, T, vocab)


def llama_parameter_count(n_layer: int, d_model: int, vocab_size: int, n_head: int = 1,
                          n_kv_head: int | None = None, d_ff: int | None = None,
                          tie_embeddings: bool = False) -> int:
    """Exact parameter count of :class:`Llama`, in closed form.

    Per layer: attention ``2d² + 2·d·(n_kv_head·d/n_head)`` (``4d²`` without GQA), SwiGLU
    ``3·d·h`` and two RMSNorm gains ``2d``. Add the embedding ``V·d``, the output projection
    ``V·d`` (unless tied) and the final norm ``d``. With ``h`` = ``ffn_hidden_size(d)`` this
    gives the sizes of Table 2 of the paper (6.7B, 13.0B, 32.5B, 65.2B).
    """
    cfg = LlamaConfig(vocab_size=vocab_size, n_layer=n_layer, n_head=n_head, n_kv_head=n_kv_head,
                      d_model=d_model, d_ff=d_ff, tie_embeddings=tie_embeddings)   # validates the sizes
    kv_dim = cfg.n_kv_head * cfg.d_head
    per_layer = 2 * d_model * d_model + 2 * d_model * kv_dim + 3 * d_model * cfg.d_ff + 2 * d_model
    embeddings = vocab_size * d_model * (1 if tie_embeddings else 2)
    return n_layer * per_layer + embeddings + d_model
