"""Where our GPT's training step loses time against nanoGPT's: the measurements behind issue 11's note.

Same config as ``speed.py`` (4 layers, 4 heads, width 128, context 64, batch 12), pinned numerics,
2 threads. Prints, for ours and nanoGPT, the median time of the forward pass, forward + backward,
and one AdamW step; then the tokens/s ratio to nanoGPT of three variants of our attention, run
interleaved in one process:

* ``ours``: separate ``q_proj``, ``k_proj``, ``v_proj`` (what the book uses, so that LoRA can adapt
  W_q and W_v alone and checkpoints load by name);
* ``fused GEMM``: the same three parameters, concatenated into one matrix product per step;
* ``one qkv_proj``: a single fused projection parameter, as nanoGPT's ``c_attn``.

    bash -c 'source code/bin/_env.sh; python code/benchmarks/training_gap.py --nanogpt /tmp/nanoGPT/model.py'
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from llmnotes import setup

sys.path.insert(0, str(Path(__file__).parent))
import speed  # noqa: E402  (the benchmark's model loader, batch and training step)

from llmnotes.data.batches import lm_batches  # noqa: E402
from llmnotes.data.shakespeare import shakespeare  # noqa: E402
from llmnotes.models.gpt import GPT, GPTConfig  # noqa: E402
from llmnotes.nn.attention import MultiHeadAttention  # noqa: E402
from llmnotes.runtime import experiment  # noqa: E402
from llmnotes.tokenizers.char import CharTokenizer  # noqa: E402


def fused_gemm_forward(self, x, context=None, mask=None, rope=None, cache=None):
    b, t, _ = x.shape
    weight = torch.cat([self.q_proj.weight, self.k_proj.weight, self.v_proj.weight])
    bias = torch.cat([self.q_proj.bias, self.k_proj.bias, self.v_proj.bias])
    q, k, v = F.linear(x, weight, bias).view(b, t, 3 * self.n_head, self.d_head).transpose(1, 2).split(self.n_head, 1)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    return self.o_proj(out.transpose(1, 2).reshape(b, t, -1))


def one_projection_forward(self, x, context=None, mask=None, rope=None, cache=None):
    b, t, _ = x.shape
    q, k, v = self.qkv_proj(x).view(b, t, 3 * self.n_head, self.d_head).transpose(1, 2).split(self.n_head, 1)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    return self.o_proj(out.transpose(1, 2).reshape(b, t, -1))


def median_ms(fn, repeats: int = 7, calls: int = 20) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        times.append((time.perf_counter() - start) / calls * 1e3)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nanogpt", type=Path, required=True, help="path of nanoGPT's model.py")
    args = parser.parse_args(argv)
    setup(seed=0, threads=2)
    nano = speed.load_nanogpt(args.nanogpt)
    chars = CharTokenizer.fit(shakespeare("comedies"))
    data = chars.encode(shakespeare("comedies"))
    x, y = (t.contiguous() for t in next(lm_batches(data, speed.CONTEXT, speed.BATCH, experiment("gap-batches"))))
    cfg = GPTConfig(vocab_size=chars.vocab_size, max_seq_len=speed.CONTEXT, n_layer=speed.LAYERS,
                    n_head=speed.HEADS, d_model=speed.WIDTH)
    experiment("gap-ours")
    models = {"ours": GPT(cfg), "one qkv_proj": GPT(cfg),
              "nanoGPT": nano.GPT(nano.GPTConfig(block_size=speed.CONTEXT, vocab_size=chars.vocab_size,
                                                 n_layer=speed.LAYERS, n_head=speed.HEADS, n_embd=speed.WIDTH,
                                                 dropout=0.0, bias=True))}
    for block in models["one qkv_proj"].blocks:
        block.attn.qkv_proj = torch.nn.Linear(speed.WIDTH, 3 * speed.WIDTH)
        del block.attn.q_proj, block.attn.k_proj, block.attn.v_proj
    optimizers = {name: torch.optim.AdamW(m.parameters(), lr=1e-3) for name, m in models.items()}
    explicit_forward = MultiHeadAttention.forward

    def backward(model):
        model.zero_grad(set_to_none=True)
        model(x, y)[1].backward()

    print("median ms          forward   forward+backward   AdamW step")
    for name in ("ours", "nanoGPT"):
        model, optimizer = models[name], optimizers[name]
        with torch.no_grad():
            forward = median_ms(lambda: model(x, y))
        both = median_ms(lambda: backward(model))
        step = median_ms(optimizer.step)
        print(f"{name:<16} {forward:9.2f} {both:18.2f} {step:12.2f}")

    runs = {"nanoGPT": ("nanoGPT", None), "ours": ("ours", explicit_forward),
            "fused GEMM": ("ours", fused_gemm_forward), "one qkv_proj": ("one qkv_proj", one_projection_forward)}
    rates = {name: [] for name in runs}
    for _ in range(12):                                               # interleaved rounds
        for name, (model_name, forward) in runs.items():
            if forward is not None:
                MultiHeadAttention.forward = forward
            model, optimizer = models[model_name], optimizers[model_name]
            step = lambda: speed.training_step(model, optimizer, x, y)  # noqa: E731
            step(), step()
            rates[name] += speed.tokens_per_second(step, 1, 20, speed.BATCH * speed.CONTEXT)
    MultiHeadAttention.forward = explicit_forward
    reference = statistics.median(rates["nanoGPT"])
    for name, r in rates.items():
        print(f"{name:<16} {statistics.median(r):8.0f} tokens/s   ratio to nanoGPT {statistics.median(r) / reference:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
