"""One specification for every causal model: the output at a position ignores every later token."""
import pytest
import torch
from llmnotes import setup
from llmnotes.models.bert import BERT, BertConfig
from llmnotes.models.gpt import GPT, GPTConfig, ScalarHeadGPT
from llmnotes.models.llama import Llama, LlamaConfig
from llmnotes.models.mamba import Mamba, MambaConfig
from llmnotes.models.transformer import Transformer, TransformerConfig

VOCAB, T, CUT = 13, 10, 6


def _random_head(model: ScalarHeadGPT) -> ScalarHeadGPT:
    torch.nn.init.normal_(model.value_head.weight)          # a zero-initialised head reads nothing
    return model


MODELS = {
    "gpt": lambda: GPT(GPTConfig(vocab_size=VOCAB, max_seq_len=16, n_layer=2, n_head=2, d_model=16)),
    "gpt-post-norm": lambda: GPT(GPTConfig(vocab_size=VOCAB, max_seq_len=16, n_layer=2, n_head=2, d_model=16,
                                           pre_norm=False, activation="relu")),
    "gpt-prefix-lm": lambda: (lambda m: lambda ids: m(ids, prefix=CUT - 2))(
        GPT(GPTConfig(vocab_size=VOCAB, max_seq_len=16, n_layer=2, n_head=2, d_model=16))),
    "llama-gqa": lambda: Llama(LlamaConfig(vocab_size=VOCAB, max_seq_len=16, n_layer=2, n_head=4, n_kv_head=2,
                                           d_model=32, d_ff=48)),
    "reward-model": lambda: _random_head(ScalarHeadGPT(GPTConfig(vocab_size=VOCAB, max_seq_len=16, n_layer=1, n_head=2,
                                                                 d_model=16))),
    "bert-causal": lambda: (lambda m: lambda ids: m(ids, causal=True))(
        BERT(BertConfig(vocab_size=VOCAB, max_seq_len=16, n_layer=2, n_head=2, d_model=16, dropout=0.0))),
    "mamba": lambda: Mamba(MambaConfig(vocab_size=VOCAB, n_layer=2, d_model=16, d_state=4)),
    "mamba-lti": lambda: Mamba(MambaConfig(vocab_size=VOCAB, n_layer=2, d_model=16, d_state=4, ssm="lti")),
    "transformer-decoder": lambda: (lambda m: lambda ids: m(torch.randint(3, VOCAB, (1, 5), generator=torch.Generator().manual_seed(1)), ids))(
        Transformer(TransformerConfig(src_vocab=VOCAB, tgt_vocab=VOCAB, d_model=16, n_head=2, d_ff=32,
                                      n_encoder_layers=1, n_decoder_layers=1, dropout=0.0, max_seq_len=16))),
}


@pytest.mark.parametrize("name", MODELS)
def test_outputs_before_a_position_ignore_the_tokens_after_it(name):
    setup(0)
    model = MODELS[name]()
    if isinstance(model, torch.nn.Module):
        model.eval()
    ids = torch.randint(1, VOCAB, (1, T))
    changed = ids.clone()
    changed[0, CUT:] = changed[0, CUT:] % (VOCAB - 1) + 1
    with torch.no_grad():
        before, after = model(ids), model(changed)
    torch.testing.assert_close(before[:, :CUT], after[:, :CUT])
    assert not torch.allclose(before[:, CUT:], after[:, CUT:])
