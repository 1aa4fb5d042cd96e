"""Tiled and fused attention: FlashAttention in PyTorch and as a Triton kernel."""
