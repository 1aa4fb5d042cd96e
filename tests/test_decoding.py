import pytest
import torch
from llmnotes.decoding import filter_logits, generate, next_token


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
