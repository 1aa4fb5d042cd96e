"""A fixed-window feed-forward language model (Bengio et al., 2003, "A Neural Probabilistic
Language Model", JMLR 3, Section 2): the next token from the embeddings of the previous
``n_context`` tokens only.

The model is the baseline of Mikolov et al. (2010): a recurrent model sees the whole history
through its state, this one sees a window of fixed size, however it is trained.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from llmnotes.checks import positive_fields, token_ids
from llmnotes.models.base import Model


@dataclass(frozen=True)
class FeedForwardLMConfig:
    vocab_size: int
    n_context: int = 4        # tokens of history the prediction sees (Bengio et al.'s n - 1)
    d_model: int = 16         # embedding size (their m)
    d_ff: int = 128           # hidden tanh units (their h)
    direct: bool = False      # their optional direct connections W x from the embeddings to the output

    def __post_init__(self):
        positive_fields(self, "vocab_size", "n_context", "d_model", "d_ff")


class FeedForwardLM(Model):
    """``y = b + W x + U tanh(d + H x)`` with ``x`` the concatenated embeddings of the window (Eq. 1).

    At position ``t`` the window is tokens ``t - n_context + 1 .. t``; positions before the
    sequence start read a learned padding embedding (index ``vocab_size``), so ``forward`` gives
    logits at every position, with the interface of :class:`~llmnotes.models.gpt.GPT`.
    """

    def __init__(self, cfg: FeedForwardLMConfig):
        super().__init__()
        self.cfg = cfg
        width = cfg.n_context * cfg.d_model
        self.tok_emb = nn.Embedding(cfg.vocab_size + 1, cfg.d_model)     # C, plus the padding row
        self.hidden = nn.Linear(width, cfg.d_ff)                          # H and d
        self.head = nn.Linear(cfg.d_ff, cfg.vocab_size)                   # U and b
        self.direct = nn.Linear(width, cfg.vocab_size, bias=False) if cfg.direct else None   # W

    def windows(self, idx: torch.Tensor) -> torch.Tensor:
        """The ``n_context`` tokens each position sees, ``(B, T, n_context)``, left-padded."""
        token_ids("idx", idx, self.cfg.vocab_size)
        n = self.cfg.n_context
        padded = F.pad(idx, (n - 1, 0), value=self.cfg.vocab_size)       # (B, T + n - 1)
        return padded.unfold(1, n, 1)                                     # (B, T, n)

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None):
        """Logits ``(B, T, vocab)``; with ``targets``, also the mean cross-entropy."""
        x = self.tok_emb(self.windows(idx)).flatten(2)                    # (B, T, n · d_model)
        logits = self.head(torch.tanh(self.hidden(x)))                    # (B, T, vocab)
        if self.direct is not None:
            logits = logits + self.direct(x)
        if targets is None:
            return logits
        return logits, F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
