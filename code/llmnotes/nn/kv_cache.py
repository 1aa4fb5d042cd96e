"""The key/value cache of autoregressive decoding.

Generating token ``t`` needs the keys and values of positions ``0 .. t-1`` at every layer.
They do not change once computed (a position only attends to earlier ones), so a decoder
keeps them and runs each new token alone: one token's projections per step instead of the
whole prefix. :class:`KVCache` holds one :class:`LayerCache` per layer; attention layers call
:meth:`LayerCache.update` with the new keys and values and attend to everything returned.
"""
from __future__ import annotations

import torch

from llmnotes.checks import positive_int


class LayerCache:
    """Keys and values ``(B, H_kv, T, d_head)`` of the positions one layer has seen."""

    def __init__(self):
        self.k: torch.Tensor | None = None
        self.v: torch.Tensor | None = None

    def __len__(self) -> int:
        return 0 if self.k is None else self.k.shape[2]

    def update(self, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Append the new positions' keys and values; return those of all positions so far."""
        if self.k is not None:
            if k.shape[1] != self.k.shape[1] or self.k.shape[0] not in (1, k.shape[0]):
                raise ValueError(f"new keys {tuple(k.shape)} do not continue the cached {tuple(self.k.shape)}")
            k = torch.cat([self.k.expand(k.shape[0], *self.k.shape[1:]), k], dim=2)
            v = torch.cat([self.v.expand(v.shape[0], *self.v.shape[1:]), v], dim=2)
        self.k, self.v = k, v
        return k, v

    def nbytes(self) -> int:
        return 0 if self.k is None else self.k.numel() * self.k.element_size() * 2


class KVCache:
    """One :class:`LayerCache` per layer; ``len(cache)`` is the number of positions cached.

    A cache filled for a batch of one (a shared prompt) can continue a batch of any size: its
    keys and values are broadcast over the new batch on the next update.
    """

    def __init__(self, n_layer: int):
        self.layers = [LayerCache() for _ in range(positive_int("n_layer", n_layer))]

    def __len__(self) -> int:
        return len(self.layers[0])

    def __getitem__(self, layer: int) -> LayerCache:
        return self.layers[layer]

    def nbytes(self) -> int:
        """Bytes of all cached keys and values."""
        return sum(layer.nbytes() for layer in self.layers)

    def copy(self) -> "KVCache":
        """A cache that starts from the same positions and grows on its own (tensors are shared)."""
        new = KVCache(len(self.layers))
        for mine, theirs in zip(self.layers, new.layers):
            theirs.k, theirs.v = mine.k, mine.v
        return new

    def reorder(self, rows: torch.Tensor) -> None:
        """Keep, in place, cache row ``rows[i]`` as row ``i`` (beam search: each surviving beam
        continues the prefix of the beam it came from). A cache of batch 1 is broadcast."""
        for layer in self.layers:
            if layer.k is not None:
                layer.k, layer.v = layer.k.index_select(0, rows), layer.v.index_select(0, rows)
