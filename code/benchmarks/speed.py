"""How fast the book's models run against the reference implementations, side by side.

Two ratios from one run, on this machine, with the book's pinned CPU numerics (``llmnotes.setup``):

* training: our character-level GPT against nanoGPT's ``model.py`` (Karpathy), same config
  (4 layers, 4 heads, width 128, context 64, batch 12), same batches, same optimizer, tokens/s;
* decoding: greedy decoding of SmolLM2-135M-Instruct with our Llama and ``llmnotes.decoding``
  against HF transformers' ``generate`` on the same GGUF file, 32 new tokens, tokens/s.

A ratio above 1 means ours is faster. nanoGPT is not a dependency of the book; pass its
``model.py``::

    git clone https://github.com/karpathy/nanoGPT /tmp/nanoGPT
    bash code/bin/benchmark --nanogpt /tmp/nanoGPT/model.py

Timings are medians of interleaved repeats, so that a slow moment of the machine hits both.
"""
from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import time
from pathlib import Path

import torch

from llmnotes import setup
from llmnotes.data.batches import lm_batches
from llmnotes.data.shakespeare import shakespeare
from llmnotes.decoding import generate
from llmnotes.models.gpt import GPT, GPTConfig
from llmnotes.runtime import experiment
from llmnotes.tokenizers.char import CharTokenizer
from llmnotes.weights.gguf import GGUF_NAME, gguf_path, load_smollm2

LAYERS, HEADS, WIDTH, CONTEXT, BATCH = 4, 4, 128, 64, 12


def load_nanogpt(path: Path):
    if not path.is_file():
        raise SystemExit(f"error: no nanoGPT model.py at {path} (git clone https://github.com/karpathy/nanoGPT)")
    spec = importlib.util.spec_from_file_location("nanogpt_model", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def training_step(model, optimizer, x, y) -> None:
    _, loss = model(x, y)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def tokens_per_second(step, repeats: int, steps: int, tokens_per_step: int) -> list[float]:
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(steps):
            step()
        rates.append(steps * tokens_per_step / (time.perf_counter() - start))
    return rates


def train_ratio(nanogpt_path: Path, repeats: int, steps: int) -> tuple[float, float]:
    nano = load_nanogpt(nanogpt_path)
    text = shakespeare("comedies")
    chars = CharTokenizer.fit(text)
    data = chars.encode(text)
    x, y = (t.contiguous() for t in next(lm_batches(data, CONTEXT, BATCH, experiment("benchmark-batches"))))
    experiment("benchmark-ours")
    ours = GPT(GPTConfig(vocab_size=chars.vocab_size, max_seq_len=CONTEXT, n_layer=LAYERS, n_head=HEADS, d_model=WIDTH))
    experiment("benchmark-nanogpt")
    theirs = nano.GPT(nano.GPTConfig(block_size=CONTEXT, vocab_size=chars.vocab_size, n_layer=LAYERS, n_head=HEADS,
                                     n_embd=WIDTH, dropout=0.0, bias=True))
    runs = {}
    for name, model in (("ours", ours), ("nanoGPT", theirs)):
        model.train()
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
        for _ in range(5):                                   # warm-up
            training_step(model, optimizer, x, y)
        runs[name] = lambda m=model, o=optimizer: training_step(m, o, x, y)
    rates = {name: [] for name in runs}
    for _ in range(repeats):                                 # interleaved
        for name, step in runs.items():
            rates[name] += tokens_per_second(step, 1, steps, BATCH * CONTEXT)
    ours_rate, their_rate = statistics.median(rates["ours"]), statistics.median(rates["nanoGPT"])
    print(f"training  ours {ours_rate:8.0f} tokens/s   nanoGPT {their_rate:8.0f} tokens/s   ratio {ours_rate / their_rate:.2f}")
    return ours_rate, their_rate


def decode_ratio(repeats: int, new_tokens: int) -> tuple[float, float]:
    from transformers import AutoModelForCausalLM

    ours, tokenizer = load_smollm2()
    theirs = AutoModelForCausalLM.from_pretrained(str(gguf_path().parent), gguf_file=GGUF_NAME,
                                                  dtype=torch.float32).eval()
    prompt = torch.tensor([tokenizer.chat([{"role": "user", "content": "Write a short poem about the sea."}])])

    def ours_generate():
        generate(ours, prompt, new_tokens)

    def their_generate():
        with torch.no_grad():
            theirs.generate(prompt, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False,
                            pad_token_id=tokenizer.eos_id)

    ours_generate(), their_generate()                        # warm-up
    rates = {"ours": [], "HF": []}
    for _ in range(repeats):
        for name, fn in (("ours", ours_generate), ("HF", their_generate)):
            start = time.perf_counter()
            fn()
            rates[name].append(new_tokens / (time.perf_counter() - start))
    ours_rate, their_rate = statistics.median(rates["ours"]), statistics.median(rates["HF"])
    print(f"decoding  ours {ours_rate:8.1f} tokens/s   HF       {their_rate:8.1f} tokens/s   ratio {ours_rate / their_rate:.2f}")
    return ours_rate, their_rate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nanogpt", type=Path, required=True, help="path of nanoGPT's model.py")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads for both sides (default 2)")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    setup(seed=0, threads=args.threads)
    print(f"torch {torch.__version__}, {args.threads} threads, {torch.backends.cpu.get_cpu_capability()} kernels")
    train_ratio(args.nanogpt, args.repeats, steps=20)
    decode_ratio(args.repeats, new_tokens=32)
    return 0


if __name__ == "__main__":
    sys.exit(main())
