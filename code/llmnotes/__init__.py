"""llmnotes: the library that the chapters of *LLM Papers, Executed* run.

Subpackages by concept: ``nn`` (building blocks), ``models``, ``methods``, ``kernels``,
``tokenizers``, ``data``, ``weights``, ``analysis``; ``book`` is the book's own tooling and
imports no torch. Importing ``llmnotes`` imports no torch either: it only sets environment
variables that torch, NumPy and Triton read when they load (pinned CPU numerics, see
:mod:`llmnotes.numerics`; Triton's CPU interpreter where there is no GPU), and offers
``setup`` lazily.
"""
import os
from pathlib import Path

from llmnotes import numerics

numerics.pin()
# Without a GPU, Triton kernels (llmnotes.kernels.flash_triton) run in Triton's CPU interpreter.
# Triton reads TRITON_INTERPRET when it is first imported, and torch.utils.flop_counter imports
# it whenever it is installed, so the variable is set here, before either can be imported.
if not Path("/dev/nvidiactl").exists():
    os.environ.setdefault("TRITON_INTERPRET", "1")

__all__ = ["setup"]


def __getattr__(name: str):
    if name == "setup":
        from llmnotes.runtime import setup

        return setup
    raise AttributeError(f"module 'llmnotes' has no attribute {name!r}")
