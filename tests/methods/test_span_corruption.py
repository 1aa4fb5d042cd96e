import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from llmnotes.methods.span_corruption import (
    corrupt_spans,
    noise_counts,
    random_spans_noise_mask,
    uncorrupt_spans,
)

SENTINELS = list(range(1000, 1200))


def spans_of(mask: torch.Tensor) -> int:
    return int((mask & ~torch.cat([torch.tensor([False]), mask[:-1]])).sum())


def test_the_papers_example_has_75_noise_tokens_in_25_spans():
    assert noise_counts(500, 0.15, 3.0) == (75, 25)                  # Section 3.3.4


@settings(max_examples=40, deadline=None)
@given(length=st.integers(2, 300), density=st.floats(0.05, 0.5), span=st.floats(1.0, 8.0), seed=st.integers(0, 99))
def test_mask_has_exactly_the_counted_noise_tokens_and_spans(length, density, span, seed):
    try:
        n_noise, n_spans = noise_counts(length, density, span)
    except ValueError:
        return                                                        # too dense for single-token spans
    mask = random_spans_noise_mask(length, density, span, torch.Generator().manual_seed(seed))
    assert mask.shape == (length,) and mask.dtype == torch.bool
    assert int(mask.sum()) == n_noise
    assert spans_of(mask) == n_spans


def test_mask_starts_with_a_kept_token():
    for seed in range(20):
        assert not random_spans_noise_mask(50, generator=torch.Generator().manual_seed(seed))[0]


def test_mean_span_length_one_puts_every_noise_token_in_its_own_span():
    mask = random_spans_noise_mask(200, 0.15, 1.0, torch.Generator().manual_seed(0))
    assert spans_of(mask) == int(mask.sum()) == 30


def test_the_same_generator_seed_gives_the_same_mask_and_another_seed_another():
    def mask(seed):
        return random_spans_noise_mask(300, generator=torch.Generator().manual_seed(seed))
    assert torch.equal(mask(7), mask(7))
    assert not torch.equal(mask(7), mask(8))


@settings(max_examples=40, deadline=None)
@given(length=st.integers(2, 200), seed=st.integers(0, 99))
def test_inputs_and_targets_reconstruct_the_original(length, seed):
    generator = torch.Generator().manual_seed(seed)
    tokens = torch.randint(0, 1000, (length,), generator=generator)
    mask = random_spans_noise_mask(length, generator=generator)
    inputs, targets = corrupt_spans(tokens, mask, SENTINELS)
    assert torch.equal(uncorrupt_spans(inputs, targets, SENTINELS), tokens)


def test_inputs_and_targets_follow_the_papers_figure_2():
    words = "Thank you for inviting me to your party last week .".split()
    vocab = {w: i for i, w in enumerate(words)}
    tokens = torch.tensor([vocab[w] for w in words])
    mask = torch.tensor([w in ("for", "inviting", "last") for w in words])
    x, y, z = 100, 101, 102
    inputs, targets = corrupt_spans(tokens, mask, [x, y, z])
    name = {v: k for k, v in vocab.items()} | {x: "<X>", y: "<Y>", z: "<Z>"}
    assert [name[i] for i in inputs.tolist()] == "Thank you <X> me to your party <Y> week .".split()
    assert [name[i] for i in targets.tolist()] == "<X> for inviting <Y> last <Z>".split()


def test_target_length_is_noise_tokens_plus_one_sentinel_per_span_plus_one():
    mask = random_spans_noise_mask(512, generator=torch.Generator().manual_seed(0))
    inputs, targets = corrupt_spans(torch.arange(512), mask, SENTINELS)
    n_noise, n_spans = noise_counts(512)
    assert len(targets) == n_noise + n_spans + 1
    assert len(inputs) == 512 - n_noise + n_spans


@pytest.mark.parametrize("kwargs, message", [
    (dict(length=1), "length"), (dict(length=100, noise_density=0.0), "noise_density"),
    (dict(length=100, noise_density=1.0), "noise_density"), (dict(length=100, noise_density=1.5), "noise_density"),
    (dict(length=100, mean_noise_span_length=0.5), "mean_noise_span_length"),
    (dict(length=100, noise_density=0.8, mean_noise_span_length=1.0), "noise_density"),
])
def test_mask_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        random_spans_noise_mask(**kwargs)


def test_corruption_rejects_too_few_sentinels_and_tokens_that_are_sentinels():
    mask = torch.tensor([False, True, False, True])
    with pytest.raises(ValueError, match="sentinel_ids has 2"):
        corrupt_spans(torch.arange(4), mask, [10, 11])
    with pytest.raises(ValueError, match="already contain a sentinel"):
        corrupt_spans(torch.tensor([0, 1, 2, 10]), mask, [10, 11, 12])


def test_corruption_rejects_a_mask_of_the_wrong_shape():
    with pytest.raises(ValueError, match="noise_mask"):
        corrupt_spans(torch.arange(4), torch.tensor([True, False]), SENTINELS)
