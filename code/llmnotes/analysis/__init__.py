"""Fits and accounting: power laws, scaling laws and compute-optimal allocation, FLOP, memory and
parameter counts, and the statistics of small evaluations."""
