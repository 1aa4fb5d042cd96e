"""What every model of the book shares."""
from __future__ import annotations

from torch import nn

from llmnotes.nn.kv_cache import KVCache


class Model(nn.Module):
    """A model with a config ``cfg``; ``n_params()`` counts every parameter once (tied ones once)."""

    def n_params(self) -> int:
        """All parameters, embeddings included; see ``analysis.scaling_laws.non_embedding_params``
        for Kaplan et al.'s count without them."""
        return sum(p.numel() for p in self.parameters())


class Decoder(Model):
    """A decoder-only model (``cfg.max_seq_len``, ``cfg.n_layer``) that :mod:`llmnotes.decoding` can run."""

    @property
    def max_seq_len(self) -> int:
        return self.cfg.max_seq_len

    def new_cache(self) -> KVCache:
        return KVCache(self.cfg.n_layer)


def init_normal(module: nn.Module, std: float = 0.02) -> None:
    """GPT-2/BERT initialisation: weights N(0, std), biases zero (apply with ``model.apply``)."""
    if isinstance(module, (nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, std=std)
    if isinstance(module, nn.Linear) and module.bias is not None:
        nn.init.zeros_(module.bias)
