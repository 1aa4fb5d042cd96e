"""llmnotes: the library that the chapters of *LLM Papers, Executed* run.

Each module implements one concept from one paper (``attention``, ``transformer``, ...) or
one piece of the book's machinery (``cards``, ``claims``, ``sphinx_ext``).
"""
from llmnotes.runtime import setup

__all__ = ["setup"]
