"""LoRA: low-rank adaptation of frozen weights (Hu et al., 2022, Section 4.1).

A frozen pretrained weight W0 (d_out × d_in) is adapted by a trainable low-rank update:

    h = W0 x + (α / r) · B A x,     A: r × d_in (random init),  B: d_out × r (zero init)

so at the start of fine-tuning the model is exactly the pretrained one. After training,
``merge`` folds B A into W0 and inference costs nothing extra (Section 4.1, "No additional
inference latency").
"""
from __future__ import annotations

import math

import torch
from torch import nn


def lora_parameters(d_in: int, d_out: int, r: int) -> int:
    """Trainable parameters of one rank-r adapter on a d_out × d_in weight: r·(d_in + d_out)."""
    if min(d_in, d_out, r) < 1:
        raise ValueError(f"d_in, d_out and r must be >= 1, got {d_in}, {d_out}, {r}")
    if r > min(d_in, d_out):
        raise ValueError(f"rank r={r} exceeds min(d_in, d_out)={min(d_in, d_out)}")
    return r * (d_in + d_out)


class LoRALinear(nn.Module):
    """A frozen ``nn.Linear`` plus a trainable rank-r update scaled by α/r."""

    def __init__(self, base: nn.Linear, r: int, alpha: float | None = None):
        super().__init__()
        if not isinstance(base, nn.Linear):
            raise ValueError(f"LoRALinear wraps an nn.Linear, got {type(base).__name__}")
        lora_parameters(base.in_features, base.out_features, r)  # validates r
        self.base, self.r = base, r
        self.scaling = (alpha if alpha is not None else r) / r
        for p in self.base.parameters():
            p.requires_grad_(False)
        self.lora_a = nn.Parameter(torch.empty(r, base.in_features))
        self.lora_b = nn.Parameter(torch.zeros(base.out_features, r))  # zero: start at W0
        nn.init.kaiming_uniform_(self.lora_a, a=math.sqrt(5))
        self.merged = False

    def delta_weight(self) -> torch.Tensor:
        return self.scaling * self.lora_b @ self.lora_a

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.base(x)
        if not self.merged:
            out = out + self.scaling * (x @ self.lora_a.T) @ self.lora_b.T
        return out

    @torch.no_grad()
    def merge(self) -> None:
        """W ← W0 + (α/r) B A: one matrix, no extra inference cost."""
        if self.merged:
            raise ValueError("adapter is already merged")
        self.base.weight += self.delta_weight()
        self.merged = True

    @torch.no_grad()
    def unmerge(self) -> None:
        """Subtract the update again, e.g. to switch to another task's adapter."""
        if not self.merged:
            raise ValueError("adapter is not merged")
        self.base.weight -= self.delta_weight()
        self.merged = False


def apply_lora(model: nn.Module, targets: tuple[str, ...], r: int, alpha: float | None = None) -> list[str]:
    """Freeze ``model`` and wrap every ``nn.Linear`` whose attribute name is in ``targets``.

    Returns the dotted names of the wrapped modules. Raises if no module matched, which
    usually means a typo in ``targets``.
    """
    for p in model.parameters():
        p.requires_grad_(False)
    wrapped = []
    for name, module in list(model.named_modules()):
        for child_name, child in list(module.named_children()):
            if child_name in targets and isinstance(child, nn.Linear):
                setattr(module, child_name, LoRALinear(child, r, alpha))
                wrapped.append(f"{name}.{child_name}" if name else child_name)
    if not wrapped:
        raise ValueError(f"no nn.Linear named any of {targets} in the model")
    return wrapped


def trainable_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def energy_in_top_k(delta: torch.Tensor, k: int) -> float:
    """Share of ‖ΔW‖²_F carried by the top-k singular values of a weight update.

    Section 7 asks whether the update learned by adaptation has a low "intrinsic rank"; a value
    near 1 for small ``k`` means ΔW is close to a rank-k matrix.
    """
    if delta.dim() != 2:
        raise ValueError(f"delta must be a matrix (d_out, d_in), got shape {tuple(delta.shape)}")
    if not 1 <= k <= min(delta.shape):
        raise ValueError(f"k must be in [1, {min(delta.shape)}], got {k}")
    s2 = torch.linalg.svdvals(delta.double()) ** 2
    total = s2.sum()
    if total == 0:
        raise ValueError("delta is the zero matrix; its energy has no top-k share")
    return float(s2[:k].sum() / total)


def subspace_similarity(a1: torch.Tensor, a2: torch.Tensor, i: int, j: int) -> float:
    """Section 7.2, Eq. 4: φ(A1, A2, i, j) = ‖U_iᵀ U_j‖²_F / min(i, j).

    U_i holds the top-i right singular vectors of ``a1`` (an r1 × d_in LoRA ``A`` matrix), U_j the
    top-j of ``a2``. φ is 1 when one subspace contains the other and 0 when they are orthogonal.
    """
    if a1.dim() != 2 or a2.dim() != 2 or a1.shape[1] != a2.shape[1]:
        raise ValueError(f"a1 and a2 must be matrices (r, d_in) with the same d_in, got "
                         f"{tuple(a1.shape)} and {tuple(a2.shape)}")
    if not (1 <= i <= min(a1.shape) and 1 <= j <= min(a2.shape)):
        raise ValueError(f"need 1 <= i <= {min(a1.shape)} and 1 <= j <= {min(a2.shape)}, got i={i}, j={j}")
    u1 = torch.linalg.svd(a1.double(), full_matrices=False).Vh[:i].T
    u2 = torch.linalg.svd(a2.double(), full_matrices=False).Vh[:j].T
    return float((u1.T @ u2).pow(2).sum() / min(i, j))
