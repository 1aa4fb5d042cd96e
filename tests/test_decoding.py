import pytest
import torch
import itertools

from llmnotes.decoding import beam_search, filter_logits, generate, next_token, token_logprobs
from llmnotes.models.llama import Llama, LlamaConfig


class Scripted(torch.nn.Module):
    """A decoder whose next token is fixed per row and step: ``plan[row][step]``; no cache."""

    max_seq_len = 64

    def __init__(self, plan: list[list[int]], vocab: int = 8):
        super().__init__()
        self.plan, self.vocab, self.calls = plan, vocab, 0

    def forward(self, ids, cache=None):
        step = ids.shape[1] - 1                       # the prompt is one token
        logits = torch.zeros(ids.shape[0], ids.shape[1], self.vocab)
        for row, tokens in enumerate(self.plan):
            logits[row, -1, tokens[min(step, len(tokens) - 1)]] = 10.0
        return logits


def test_greedy_decoding_follows_the_most_probable_token():
    out = generate(Scripted([[3, 4, 5]]), torch.zeros(1, 1, dtype=torch.long), 3)
    assert out.tolist() == [[0, 3, 4, 5]]


def test_rows_are_padded_after_their_eos_and_decoding_stops_when_all_are_done():
    out = generate(Scripted([[3, 2, 5, 5], [4, 4, 4, 2]]), torch.zeros(2, 1, dtype=torch.long), 10, eos_id=2, pad_id=0)
    assert out.tolist() == [[0, 3, 2, 0, 0], [0, 4, 4, 4, 2]]


def test_top_k_keeps_the_k_largest_logits():
    logits = torch.tensor([[1.0, 4.0, 3.0, 2.0]])
    assert torch.isinf(filter_logits(logits, top_k=2)).tolist() == [[True, False, False, True]]


def test_top_p_keeps_the_smallest_set_reaching_p():
    logits = torch.tensor([[0.5, 0.3, 0.15, 0.05]]).log()
    assert torch.isinf(filter_logits(logits, top_p=0.7)).tolist() == [[False, False, True, True]]
    assert torch.isinf(filter_logits(logits, top_p=0.85)).tolist() == [[False, False, False, True]]


def test_top_p_always_keeps_the_most_probable_token():
    assert not torch.isinf(filter_logits(torch.tensor([[5.0, 0.0]]), top_p=0.01))[0, 0]


def test_sampling_at_a_low_temperature_is_greedy_and_at_a_high_one_spreads():
    logits, g = torch.tensor([[0.0, 1.0, 0.5]]).repeat(2000, 1), torch.Generator().manual_seed(0)
    assert torch.all(next_token(logits, 0.01, generator=g) == 1)
    counts = torch.bincount(next_token(logits, 100.0, generator=g)[:, 0], minlength=3)
    assert counts.min() > 550


def test_sampling_is_reproducible_with_a_generator():
    logits = torch.randn(4, 10)
    a = next_token(logits, 1.0, top_k=5, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, next_token(logits, 1.0, top_k=5, generator=torch.Generator().manual_seed(3)))


@pytest.mark.parametrize("kwargs, message", [
    (dict(temperature=-1.0), "temperature must be >= 0"),
    (dict(temperature=1.0, top_p=0.0), "top_p must be > 0"),
    (dict(temperature=1.0, top_k=0), "top_k must be a positive int"),
])
def test_bad_sampling_settings_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        next_token(torch.randn(2, 5), **kwargs)


def test_generate_rejects_negative_lengths_and_one_dimensional_prompts():
    with pytest.raises(ValueError, match="max_new_tokens"):
        generate(Scripted([[1]]), torch.zeros(1, 1, dtype=torch.long), -1)
    with pytest.raises(ValueError, match=r"ids must have shape \(B, T\)"):
        generate(Scripted([[1]]), torch.zeros(3, dtype=torch.long), 2)


class Bigram(torch.nn.Module):
    """A decoder whose logits depend on the last token only: ``table[last]``; no cache."""

    max_seq_len = 64

    def __init__(self, table: torch.Tensor):
        super().__init__()
        self.table = table

    def forward(self, ids, cache=None):
        return self.table[ids]                         # (B, T, V)


class NoCache(torch.nn.Module):
    """The same decoder without ``new_cache``: every step recomputes the whole prefix."""

    def __init__(self, model):
        super().__init__()
        self.model, self.max_seq_len = model, model.max_seq_len

    def forward(self, ids, cache=None):
        return self.model(ids)


def tiny_llama(seed=0):
    torch.manual_seed(seed)
    return Llama(LlamaConfig(vocab_size=11, max_seq_len=32, n_layer=2, n_head=2, d_model=16)).eval()


def trap_table():
    # from token 0: token 1 is likely (0.6) but then everything is uniform; token 2 (0.4) is followed by a sure token 3
    table = torch.full((4, 4), 0.25).log()
    table[0] = torch.tensor([0.0, 0.6, 0.4, 0.0]).clamp_min(1e-9).log()
    table[2] = torch.tensor([1e-9, 1e-9, 1e-9, 1.0]).log()
    return table


def test_beam_search_escapes_the_greedy_trap_that_greedy_falls_into():
    model, prompt = Bigram(trap_table()), torch.zeros(1, 1, dtype=torch.long)
    assert generate(model, prompt, 2)[0, 1].item() == 1
    sequences, _ = beam_search(model, prompt, 2, num_beams=2)
    assert sequences[0, 0].tolist() == [0, 2, 3]


def test_beam_search_as_wide_as_the_vocabulary_finds_the_best_two_token_continuation():
    table = torch.randn(5, 5, generator=torch.Generator().manual_seed(1)).log_softmax(-1)
    best = max(itertools.product(range(5), repeat=2), key=lambda s: table[0, s[0]] + table[s[0], s[1]])
    sequences, scores = beam_search(Bigram(table), torch.zeros(1, 1, dtype=torch.long), 2, num_beams=5)
    assert tuple(sequences[0, 0, 1:].tolist()) == best
    assert torch.isclose(scores[0, 0], table[0, best[0]] + table[best[0], best[1]])


def test_one_beam_is_greedy_decoding():
    model, prompt = tiny_llama(), torch.randint(0, 11, (3, 4), generator=torch.Generator().manual_seed(0))
    sequences, _ = beam_search(model, prompt, 8, num_beams=1)
    assert torch.equal(sequences[:, 0], generate(model, prompt, 8))


def test_beam_search_with_the_reordered_cache_equals_recomputing_every_prefix():
    model, prompt = tiny_llama(), torch.randint(0, 11, (2, 3), generator=torch.Generator().manual_seed(2))
    cached, cached_scores = beam_search(model, prompt, 10, num_beams=3)
    recomputed, recomputed_scores = beam_search(NoCache(model), prompt, 10, num_beams=3)
    assert torch.equal(cached, recomputed)
    assert torch.allclose(cached_scores, recomputed_scores, atol=1e-5)


def test_beams_are_sorted_and_scored_by_their_total_log_probability():
    model, prompt = tiny_llama(), torch.randint(0, 11, (1, 3), generator=torch.Generator().manual_seed(3))
    sequences, scores = beam_search(model, prompt, 6, num_beams=4)
    assert torch.all(scores[0, :-1] >= scores[0, 1:])
    assert torch.allclose(token_logprobs(model, sequences[0], start=3).sum(-1), scores[0], atol=1e-4)


def test_beam_search_never_chooses_a_forbidden_end_of_sequence_token():
    table = torch.zeros(4, 4)
    table[:, 2] = 10.0                                  # token 2 is by far the most likely everywhere
    sequences, _ = beam_search(Bigram(table), torch.zeros(1, 1, dtype=torch.long), 5, num_beams=2, eos_id=2)
    assert 2 not in sequences[0, :, 1:].flatten().tolist()


def test_token_logprobs_are_the_log_softmax_at_the_given_tokens():
    table = torch.randn(4, 4, generator=torch.Generator().manual_seed(4))
    ids = torch.tensor([[0, 3, 1, 2]])
    expected = torch.stack([table[0].log_softmax(-1)[3], table[3].log_softmax(-1)[1], table[1].log_softmax(-1)[2]])
    assert torch.allclose(token_logprobs(Bigram(table), ids), expected[None])


@pytest.mark.parametrize("kwargs, message", [
    (dict(max_new_tokens=0, num_beams=2), "max_new_tokens must be a positive int"),
    (dict(max_new_tokens=2, num_beams=0), "num_beams must be a positive int"),
    (dict(max_new_tokens=64, num_beams=2), "exceeds max_seq_len"),
])
def test_bad_beam_search_settings_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        beam_search(Bigram(trap_table()), torch.zeros(1, 1, dtype=torch.long), **kwargs)


def test_token_logprobs_needs_two_tokens():
    with pytest.raises(ValueError, match="T >= 2"):
        token_logprobs(Bigram(trap_table()), torch.zeros(1, 1, dtype=torch.long))


def test_beam_search_equals_transformers_on_smollm2():
    """Fixed length (min_new_tokens = max_new_tokens, end of sequence forbidden), length_penalty 1."""
    transformers = pytest.importorskip("transformers")
    from llmnotes.weights.gguf import GGUF_NAME, gguf_path, load_smollm2

    ours, tokenizer = load_smollm2()
    theirs = transformers.AutoModelForCausalLM.from_pretrained(str(gguf_path().parent), gguf_file=GGUF_NAME,
                                                               dtype=torch.float32).eval()
    texts = [tokenizer.encode("The sea was calm and the night was"), tokenizer.encode("Once upon a time, a little robot")]
    prompts = torch.tensor([ids[:min(map(len, texts))] for ids in texts])
    with torch.no_grad():
        expected = theirs.generate(prompts, attention_mask=torch.ones_like(prompts), num_beams=4, do_sample=False,
                                   max_new_tokens=16, min_new_tokens=16, length_penalty=1.0,
                                   eos_token_id=tokenizer.eos_id, pad_token_id=tokenizer.eos_id)
    sequences, _ = beam_search(ours, prompts, 16, num_beams=4, eos_id=tokenizer.eos_id)
    assert torch.equal(sequences[:, 0], expected)
