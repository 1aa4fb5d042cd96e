"""Argument checks, one line each at the call site, with messages that name the problem.

Every public function and config of the library validates its input with these, so that bad
input raises a ``ValueError`` saying which argument is wrong and why, never a NaN or a deep
traceback. They import no torch: tensors are checked through ``.shape`` and ``.dim()``.
"""
from __future__ import annotations

import math
from typing import Any, Iterable, Sequence


def positive_int(name: str, value: Any) -> int:
    """``value`` as an int >= 1, else ``ValueError('<name> must be a positive int, got ...')``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def non_negative_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be an int >= 0, got {value!r}")
    return value


def number(name: str, value: Any, low: float | None = None, high: float | None = None,
           low_open: bool = False, high_open: bool = False) -> float:
    """A finite real number within optional bounds (closed unless ``*_open``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) and not hasattr(value, "__float__"):
        raise ValueError(f"{name} must be a number, got {value!r}")
    x = float(value)
    if not math.isfinite(x):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if low is not None and (x < low or (low_open and x == low)):
        raise ValueError(f"{name} must be {'>' if low_open else '>='} {low:g}, got {value!r}")
    if high is not None and (x > high or (high_open and x == high)):
        raise ValueError(f"{name} must be {'<' if high_open else '<='} {high:g}, got {value!r}")
    return x


def positive(name: str, value: Any) -> float:
    """A finite number > 0."""
    return number(name, value, low=0.0, low_open=True)


def probability(name: str, value: Any) -> float:
    """A number in [0, 1]."""
    return number(name, value, 0.0, 1.0)


def one_of(name: str, value: Any, choices: Iterable[Any]) -> Any:
    choices = tuple(choices)
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return value


def divides(name_a: str, a: int, name_b: str, b: int) -> None:
    """``a`` divides ``b``, e.g. ``divides('n_head', 8, 'd_model', 512)``."""
    if b % a:
        raise ValueError(f"{name_b} ({b}) must be divisible by {name_a} ({a})")


def positive_fields(cfg: Any, *fields: str) -> None:
    """Each named field of a config dataclass is a positive int (``GPTConfig.n_layer must be ...``)."""
    for field in fields:
        positive_int(f"{type(cfg).__name__}.{field}", getattr(cfg, field))


def shape(name: str, tensor: Any, dims: Sequence[int | str | None]) -> None:
    """``tensor`` has ``len(dims)`` dimensions, each equal to its int entry.

    A ``str`` or ``None`` entry accepts any size; strings name the dimension in the message:
    ``shape('ids', ids, ('batch', 'n'))`` or ``shape('x', x, ('batch', 'n', 512))``.
    """
    actual = tuple(getattr(tensor, "shape", ()))
    if not hasattr(tensor, "shape") or len(actual) != len(dims) or any(
            isinstance(d, int) and d != a for d, a in zip(dims, actual)):
        wanted = ", ".join(str(d) if d is not None else "*" for d in dims)
        raise ValueError(f"{name} must have shape ({wanted}), got {actual}")


def same_shape(**tensors: Any) -> None:
    """All keyword tensors share one shape."""
    shapes = {name: tuple(t.shape) for name, t in tensors.items()}
    if len(set(shapes.values())) > 1:
        raise ValueError("shapes do not match: " + ", ".join(f"{n} {s}" for n, s in shapes.items()))


def token_ids(name: str, ids: Any, vocab_size: int) -> None:
    """A ``(batch, n)`` integer tensor with every id in ``[0, vocab_size)``."""
    shape(name, ids, ("batch", "n"))
    if ids.dtype.is_floating_point or ids.dtype.is_complex:
        raise ValueError(f"{name} must hold integer token ids, got {ids.dtype}")
    if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= vocab_size):
        raise ValueError(f"{name} must be in [0, {vocab_size}), got [{int(ids.min())}, {int(ids.max())}]")
