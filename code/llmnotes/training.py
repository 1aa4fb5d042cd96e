"""The training loop (Adam, a learning rate per step, a progress bar), its schedules, and evaluation."""
from __future__ import annotations

import os
from typing import Callable, Iterator

import torch
from tqdm import tqdm

from llmnotes.checks import positive_int
from llmnotes.data.batches import lm_batches


def warmup_inverse_sqrt(step: int, d_model: int, warmup: int) -> float:
    """Eq. 3 of Vaswani et al.: lr = d_model^-0.5 · min(step^-0.5, step · warmup^-1.5).

    Linear warm-up for ``warmup`` steps, then decay with the inverse square root of the step.
    ``step`` counts from 1.
    """
    if step < 1 or warmup < 1 or d_model < 1:
        raise ValueError(f"step, warmup and d_model must be >= 1, got {step}, {warmup}, {d_model}")
    return d_model ** -0.5 * min(step ** -0.5, step * warmup ** -1.5)


def warmup_linear_decay(step: int, peak: float, warmup: int, total: int) -> float:
    """Linear warm-up to ``peak`` over ``warmup`` steps, then linear decay to 0 at ``total``."""
    if not 1 <= warmup < total or step < 1:
        raise ValueError(f"need 1 <= warmup < total and step >= 1, got {warmup}, {total}, {step}")
    if step <= warmup:
        return peak * step / warmup
    return peak * max(0.0, (total - step) / (total - warmup))


def train(
    model: torch.nn.Module,
    batches: Iterator,
    loss_fn: Callable[[torch.nn.Module, object], torch.Tensor],
    steps: int,
    lr: Callable[[int], float],
    betas: tuple[float, float] = (0.9, 0.98),
    eps: float = 1e-9,
    clip: float | None = 1.0,
    desc: str = "training",
    progress: bool = True,
) -> list[float]:
    """Adam with the paper's betas and eps (Section 5.3) and a per-step learning rate.

    ``loss_fn(model, batch)`` returns a scalar loss. Returns the loss of every step. The bar
    shows the running loss; pass ``progress=False`` to hide it (``LLMNOTES_PROGRESS=0`` in the
    environment hides every bar: the tests and stored notebooks compare results, not timings).
    """
    positive_int("steps", steps)
    optimizer = torch.optim.Adam(model.parameters(), lr=1.0, betas=betas, eps=eps)
    model.train()
    losses = []
    hidden = not progress or os.environ.get("LLMNOTES_PROGRESS") == "0"
    bar = tqdm(range(1, steps + 1), desc=desc, disable=hidden, mininterval=5.0)
    for step in bar:
        for group in optimizer.param_groups:
            group["lr"] = lr(step)
        try:
            batch = next(batches)
        except StopIteration:
            raise ValueError(f"the batch iterator ran out after {step - 1} of {steps} steps") from None
        loss = loss_fn(model, batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()
        losses.append(loss.item())
        if step % 50 == 0 or step == steps:
            bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
    model.eval()
    return losses


@torch.no_grad()
def evaluate_lm(model, data: torch.Tensor, seq_len: int, n_batches: int = 20, batch_size: int = 32,
                seed: int = 1234) -> float:
    """Mean cross-entropy (nats per token) of a language model on fixed random windows of ``data``.

    The windows depend only on ``seed``, so two models evaluated with the same seed see the same text.
    ``model(x, y)`` must return ``(logits, loss)``, as :class:`~llmnotes.models.gpt.GPT` does.
    """
    model.eval()
    batches = lm_batches(data, seq_len, batch_size, torch.Generator().manual_seed(seed))
    losses = [model(x, y)[1].item() for x, y in (next(batches) for _ in range(positive_int("n_batches", n_batches)))]
    return sum(losses) / len(losses)
