"""SmolLM2-135M-Instruct from its GGUF file: our Llama and tokenizer against HF transformers."""
import pytest
import torch
from llmnotes.decoding import generate
from llmnotes.weights.gguf import GGUF_NAME, gguf_path, load_smollm2

TEXTS = [
    "The capital of France is Paris.",
    "Hello world! It's 2023; LLaMA-13B beats GPT-3 (175B) on most benchmarks.",
    "  leading spaces,\ttabs\nand\n\nnew lines   ",
    "numbers 1234567 and 3.14159, dates 2024-01-31",
    "def f(x):\n    return x ** 2  # code",
    "Unicode: café naïve Straße 東京 👋🏽 — done",
    "contractions: I'm, you're, we'll, they've, she'd, don't",
    "<|im_start|>user\nspecial tokens inside<|im_end|>\n",
]


@pytest.fixture(scope="module")
def ours():
    return load_smollm2()


@pytest.fixture(scope="module")
def hf():
    transformers = pytest.importorskip("transformers")
    folder = str(gguf_path().parent)
    model = transformers.AutoModelForCausalLM.from_pretrained(folder, gguf_file=GGUF_NAME, dtype=torch.float32)
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder, gguf_file=GGUF_NAME)
    return model.eval(), tokenizer


def test_gguf_file_is_found_in_the_pip_package():
    path = gguf_path()
    assert path.name == GGUF_NAME and path.stat().st_size > 50_000_000


def test_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        load_smollm2(tmp_path / "nothing.gguf")


def test_config_is_read_from_the_gguf_metadata(ours, hf):
    cfg, ref = ours[0].cfg, hf[0].config
    assert (cfg.vocab_size, cfg.d_model, cfg.n_layer, cfg.n_head, cfg.n_kv_head, cfg.d_ff) == \
        (ref.vocab_size, ref.hidden_size, ref.num_hidden_layers, ref.num_attention_heads,
         ref.num_key_value_heads, ref.intermediate_size) == (49152, 576, 30, 9, 3, 1536)
    assert cfg.rope_theta == 100000.0 and cfg.norm_eps == pytest.approx(1e-5) and cfg.tie_embeddings


def test_logits_match_transformers_over_a_prompt(ours, hf):
    ids = torch.tensor([hf[1].encode(" ".join(TEXTS[:3]))])
    with torch.no_grad():
        diff = (ours[0](ids) - hf[0](ids).logits).abs().max().item()
    assert ids.shape[1] > 30 and diff <= 1e-4


@pytest.mark.parametrize("text", TEXTS)
def test_token_ids_equal_the_hf_tokenizer(ours, hf, text):
    assert ours[1].encode(text) == hf[1].encode(text)


@pytest.mark.parametrize("text", TEXTS)
def test_decode_inverts_encode(ours, text):
    assert ours[1].decode(ours[1].encode(text)) == text


def test_chat_prompt_equals_the_hf_chat_template(ours, hf):
    for messages in ([{"role": "user", "content": "What is the capital of France?"}],
                     [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]):
        ref = hf[1].apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
        ref = ref["input_ids"] if isinstance(ref, dict) or hasattr(ref, "keys") else ref
        assert ours[1].chat(messages) == list(ref)


def test_chat_rejects_malformed_messages(ours):
    with pytest.raises(ValueError, match="role"):
        ours[1].chat([{"content": "no role"}])


def test_greedy_answer_names_paris(ours):
    model, tok = ours
    prompt = torch.tensor([tok.chat([{"role": "user", "content": "What is the capital of France?"}])])
    answer = tok.decode(generate(model, prompt, 12, eos_id=tok.eos_id)[0, prompt.shape[1]:])
    assert "Paris" in answer
