import math

import pytest
import torch
from llmnotes import setup
from llmnotes.analysis.statistics import paired_bootstrap_difference, wilson_interval
from llmnotes.data.sentiment import DEMO_POOL, LABELS, TEST_SET, Example
from llmnotes.methods.in_context import (
    build_prompt,
    choose_demonstrations,
    evaluate_k_shot,
    label_token_ids,
    next_token_log_probs,
    prompt_parts,
)
from llmnotes.models.gpt import GPT, GPTConfig
from llmnotes.models.llama import Llama, LlamaConfig


@pytest.fixture(autouse=True)
def _seed():
    setup(seed=0)


def test_labelled_sets_are_balanced_and_disjoint():
    for examples in (TEST_SET, DEMO_POOL):
        counts = {label: sum(e.label == label for e in examples) for label in LABELS}
        assert counts[LABELS[0]] == counts[LABELS[1]]
    assert len(TEST_SET) >= 40
    assert not {e.text for e in TEST_SET} & {e.text for e in DEMO_POOL}


def test_zero_shot_prompt_is_instruction_then_unsolved_query():
    prompt = build_prompt([], "Nice shoes.", instruction="Rate it.")
    assert prompt == "Rate it.\n\nReview: Nice shoes.\nSentiment:"


def test_few_shot_prompt_shows_solved_demonstrations_before_the_query():
    demos = [Example("Bad.", "negative"), Example("Good.", "positive")]
    prompt = build_prompt(demos, "Fine.", instruction="")
    assert prompt == "Review: Bad.\nSentiment: negative\n\nReview: Good.\nSentiment: positive\n\nReview: Fine.\nSentiment:"


def test_prompt_parts_concatenate_to_the_full_prompt():
    demos = choose_demonstrations(DEMO_POOL, 2, torch.Generator().manual_seed(0))
    prefix, parts = prompt_parts(demos, ["One.", "Two."])
    assert [prefix + p for p in parts] == [build_prompt(demos, q) for q in ["One.", "Two."]]


def test_even_k_demonstrations_are_balanced_and_seeded():
    first = choose_demonstrations(DEMO_POOL, 4, torch.Generator().manual_seed(3))
    again = choose_demonstrations(DEMO_POOL, 4, torch.Generator().manual_seed(3))
    assert first == again
    assert sorted(e.label for e in first) == ["negative", "negative", "positive", "positive"]
    assert len({e.text for e in first}) == 4


def test_demonstrations_rejects_k_larger_than_the_pool_allows():
    with pytest.raises(ValueError, match="pool has"):
        choose_demonstrations(DEMO_POOL[:2], 4, torch.Generator().manual_seed(0))


def test_label_words_must_be_single_tokens():
    assert label_token_ids(lambda s: [len(s)], ["ab", "abc"]) == [3, 4]
    with pytest.raises(ValueError, match="single tokens"):
        label_token_ids(lambda s: list(range(len(s))), ["negative", "positive"])


def _tiny_llama():
    return Llama(LlamaConfig(vocab_size=50, d_model=32, n_layer=2, n_head=4, n_kv_head=2, max_seq_len=64)).eval()


@pytest.mark.parametrize("make_model", [_tiny_llama, lambda: GPT(GPTConfig(vocab_size=50, max_seq_len=64)).eval().forward],
                         ids=["with-kv-cache", "without-cache"])
def test_batched_scores_equal_one_prompt_at_a_time(make_model):
    model = make_model()
    prefix, continuations, candidates = [1, 2, 3], [[4], [5, 6, 7], [8, 9]], [10, 11]
    batched = next_token_log_probs(model, prefix, continuations, candidates, pad_id=0, batch_size=3)
    for row, cont in zip(batched, continuations):
        with torch.no_grad():
            alone = torch.log_softmax(model(torch.tensor([prefix + cont]))[0, -1], -1)[candidates]
        torch.testing.assert_close(row, alone, atol=1e-5, rtol=1e-5)


def test_k_shot_predicts_the_label_the_model_prefers():
    # A "model" whose next token is always " positive" (id 1): every positive example is right.
    def always_positive(ids):
        logits = torch.zeros(*ids.shape, 3)
        logits[..., 1] = 5.0
        return logits

    encode = lambda s: {" negative": [0], " positive": [1]}.get(s, [2] * max(1, len(s) // 10))
    result = evaluate_k_shot(always_positive, encode, k=2, draws=2)
    assert result.hits.shape == (2, len(TEST_SET))
    assert result.accuracy == 0.5 and result.predicted_positive == 1.0


def test_wilson_interval_matches_the_textbook_value_and_stays_in_range():
    low, high = wilson_interval(8, 10)
    assert math.isclose(low, 0.4902, abs_tol=1e-4) and math.isclose(high, 0.9433, abs_tol=1e-4)
    assert wilson_interval(10, 10)[1] == 1.0 and wilson_interval(0, 10)[0] == 0.0
    with pytest.raises(ValueError, match="successes"):
        wilson_interval(11, 10)


def test_paired_bootstrap_of_identical_hits_is_exactly_zero():
    hits = torch.tensor([1, 0, 1, 1, 0])
    assert paired_bootstrap_difference(hits, hits) == (0.0, 0.0, 0.0)


def test_paired_bootstrap_interval_contains_the_observed_difference():
    a = torch.tensor([1] * 30 + [0] * 10)
    b = torch.tensor([1] * 20 + [0] * 20)
    diff, low, high = paired_bootstrap_difference(a, b, n_boot=500)
    assert diff == pytest.approx(0.25) and low < diff < high and low > 0
