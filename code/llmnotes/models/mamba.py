"""A small Mamba language model (Gu & Dao, 2023, Section 3.4): embedding, ``n_layer`` residual
blocks ``x + MambaBlock(RMSNorm(x))``, a final RMSNorm and a tied output projection. No
attention, no MLP blocks and no position embeddings: the SSM's recurrence orders the tokens.
``ssm="lti"`` swaps the selective SSM for a time-invariant one in the same architecture.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from llmnotes.checks import one_of, positive_fields, token_ids
from llmnotes.models.base import Model
from llmnotes.nn.norms import RMSNorm
from llmnotes.nn.ssm import SSM_KINDS, MambaBlock


@dataclass(frozen=True)
class MambaConfig:
    vocab_size: int
    n_layer: int = 2
    d_model: int = 64
    d_state: int = 16
    expand: int = 2
    d_conv: int = 4
    ssm: str = "selective"

    def __post_init__(self):
        positive_fields(self, "vocab_size", "n_layer", "d_model", "d_state", "expand", "d_conv")
        one_of("MambaConfig.ssm", self.ssm, SSM_KINDS)


class Mamba(Model):
    def __init__(self, cfg: MambaConfig):
        super().__init__()
        self.cfg = cfg
        self.tok_emb = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.norms = nn.ModuleList(RMSNorm(cfg.d_model) for _ in range(cfg.n_layer))
        self.blocks = nn.ModuleList(MambaBlock(cfg.d_model, cfg.d_state, cfg.expand, cfg.d_conv, cfg.ssm)
                                    for _ in range(cfg.n_layer))
        self.norm = RMSNorm(cfg.d_model)
        self.head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
        self.head.weight = self.tok_emb.weight                        # tied; N(0, 1) embedding (torch default)

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None):
        """Logits ``(B, T, vocab)``; with ``targets`` (``-100`` = not scored), also the mean cross-entropy."""
        token_ids("idx", idx, self.cfg.vocab_size)
        x = self.tok_emb(idx)                                          # (B, T, d_model)
        for norm, block in zip(self.norms, self.blocks):
            x = x + block(norm(x))                                     # (B, T, d_model)
        logits = self.head(self.norm(x))                               # (B, T, vocab)
        if targets is None:
            return logits
        return logits, F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
