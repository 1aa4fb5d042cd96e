"""Responses inside fixed-width token tensors: which tokens count, and padding after the end."""
from __future__ import annotations

import torch

from llmnotes.checks import shape


def response_mask(responses: torch.Tensor, stop: int) -> torch.Tensor:
    """True for the tokens of each response ``(B, T)`` up to and including its first ``stop`` token."""
    shape("responses", responses, ("batch", "T"))
    is_stop = (responses == stop).long()
    return (is_stop.cumsum(1) - is_stop) == 0          # no stop token strictly before this position


def pad_after_stop(responses: torch.Tensor, stop: int, pad: int) -> torch.Tensor:
    """``responses`` with every token after the first ``stop`` replaced by ``pad``."""
    return responses.masked_fill(~response_mask(responses, stop), pad)
