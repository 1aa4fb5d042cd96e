"""Memory, measured: the tensors a computation keeps alive, and the state an optimizer allocates."""
from __future__ import annotations

import copy
import weakref
from typing import Callable

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves


class _LiveTensorBytes(TorchDispatchMode):
    """Sums the storage bytes of the tensors alive between aten operators, and their peak.

    Every operator call passes through ``__torch_dispatch__``; each output's storage is
    counted once (views and in-place results share it) and released by a ``weakref``
    callback when the last tensor on it is garbage-collected. ``baseline`` holds the storages
    that existed before the call (the inputs): counted from the start, never released.
    """

    def __init__(self, baseline: dict[int, int]):
        super().__init__()
        self.storages: dict[int, list] = {key: [None, size] for key, size in baseline.items()}
        self.live = self.peak = sum(baseline.values())

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        result = func(*args, **(kwargs or {}))
        for tensor in (result,) if isinstance(result, torch.Tensor) else tree_leaves(result):
            if isinstance(tensor, torch.Tensor):
                self._track(tensor)
        return result

    def _track(self, tensor: torch.Tensor) -> None:
        storage = tensor.untyped_storage()
        key, size = storage.data_ptr(), storage.nbytes()
        entry = self.storages.get(key)
        if entry is None:                            # a new storage: {weak refs to its tensors}, bytes
            entry = self.storages[key] = [{}, size]
            self.live += size
            self.peak = max(self.peak, self.live)
        if entry[0] is not None:                     # None marks an input, alive throughout
            ref = weakref.ref(tensor, lambda ref, key=key: self._release(key, ref))
            entry[0][id(ref)] = ref

    def _release(self, key: int, ref: weakref.ref) -> None:
        entry = self.storages.get(key)
        if entry is None or entry[0] is None:
            return
        entry[0].pop(id(ref), None)
        if not entry[0]:                             # the last tensor on this storage is gone
            self.live -= entry[1]
            del self.storages[key]


def peak_memory(fn, *args, **kwargs) -> int:
    """Peak bytes of the tensors alive while ``fn(*args, **kwargs)`` runs: inputs, outputs, temporaries.

    Measured by a ``TorchDispatchMode`` (:class:`_LiveTensorBytes`) rather than by the
    allocator: it sees exactly the tensors passed between operators, which is what a GPU
    implementation keeps in HBM, and it is deterministic on any CPU (no allocator caching,
    no thread-dependent workspaces). Scratch space that a single fused kernel allocates for
    itself is invisible to it, as on-chip memory is. Runs under ``torch.no_grad()``: this is
    the memory of the forward pass, not of the activations saved for training. Subtract the
    bytes of the inputs and outputs to get the *additional* memory of Theorem 1.
    """
    tensors = [a for a in tree_leaves((args, kwargs)) if isinstance(a, torch.Tensor)]
    baseline = {t.untyped_storage().data_ptr(): t.untyped_storage().nbytes() for t in tensors}
    with torch.no_grad(), _LiveTensorBytes(baseline) as mode:
        result = fn(*args, **kwargs)
        peak = mode.peak
    del result
    return peak


def adam_state_bytes(model: torch.nn.Module, loss_fn: Callable[[torch.nn.Module], torch.Tensor]) -> int:
    """Bytes of optimizer state that one Adam step allocates for ``model``.

    Adam keeps two moment tensors (and a step counter) for every parameter that receives a
    gradient; frozen parameters get none. The step is taken on a copy, so ``model`` is left
    untouched. ``loss_fn(model)`` returns a scalar loss to differentiate.
    """
    model = copy.deepcopy(model)
    if not any(p.requires_grad for p in model.parameters()):
        raise ValueError("the model has no trainable parameters")
    optimizer = torch.optim.Adam(model.parameters())
    loss_fn(model).backward()
    optimizer.step()
    return sum(t.numel() * t.element_size() for state in optimizer.state.values()
               for t in state.values() if torch.is_tensor(t))
