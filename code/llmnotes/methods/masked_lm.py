"""The masked language model of BERT (Devlin et al., 2019, Section 3.1, "Task #1", and Appendix C.2).

A bidirectional encoder cannot be trained to predict the next token: every position sees
every other. Instead a random 15% of the tokens are chosen, most of them replaced by
``[MASK]``, and the model predicts the originals from both sides.
"""
from __future__ import annotations

import torch

from llmnotes.checks import probability

IGNORE = -100  # label of positions the masked LM does not predict (PyTorch's cross-entropy default)


def mask_tokens(
    input_ids: torch.Tensor, mask_id: int, vocab_size: int, generator: torch.Generator,
    special_ids: tuple[int, ...] = (), select: float = 0.15, to_mask: float = 0.8, to_random: float = 0.1,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The masked-LM corruption of Section 3.1 and Appendix C.2.

    Each position that is not a special token (``[CLS]``, ``[SEP]``, ``[PAD]``...) is selected
    with probability ``select`` (15%). A selected token is replaced by ``[MASK]`` with
    probability ``to_mask`` (80%), by a token drawn uniformly from the vocabulary with
    probability ``to_random`` (10%), and left unchanged otherwise (10%). Returns the corrupted
    ids and the labels: the original id at selected positions, ``IGNORE`` (-100) elsewhere.
    """
    if input_ids.dtype != torch.long:
        raise ValueError(f"input_ids must be int64 token ids, got {input_ids.dtype}")
    for name, p in (("select", select), ("to_mask", to_mask), ("to_random", to_random), ("to_mask + to_random", to_mask + to_random)):
        probability(name, p)
    if not 0 <= mask_id < vocab_size:
        raise ValueError(f"mask_id {mask_id} is outside the vocabulary of size {vocab_size}")
    eligible = torch.ones_like(input_ids, dtype=torch.bool)
    for special in special_ids:
        eligible &= input_ids != special
    u = torch.rand(input_ids.shape, generator=generator)
    selected = eligible & (u < select)
    action = torch.rand(input_ids.shape, generator=generator)
    random_ids = torch.randint(vocab_size, input_ids.shape, generator=generator)
    corrupted = input_ids.clone()
    corrupted[selected & (action < to_mask)] = mask_id
    use_random = selected & (action >= to_mask) & (action < to_mask + to_random)
    corrupted[use_random] = random_ids[use_random]
    labels = torch.where(selected, input_ids, torch.full_like(input_ids, IGNORE))
    return corrupted, labels
