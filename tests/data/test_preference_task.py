import pytest
import torch
from llmnotes.data import preference_task as T


def g(seed=0):
    return torch.Generator().manual_seed(seed)


def test_encode_decode_round_trip_stops_at_padding():
    assert T.encode("Ldbca=") == [4, 8, 6, 7, 5, 2]
    assert T.decode(T.encode("a!.") + [T.PAD, T.PAD]) == "a!."


def test_encode_rejects_unknown_characters():
    with pytest.raises(ValueError, match="not in the vocabulary"):
        T.encode("Sxyz=")


def test_target_is_the_last_letter():
    prompts = torch.tensor([T.encode("Ldbca="), T.encode("Laaaf=")])
    assert [T.decode(t) for t in T.targets(prompts)] == ["a", "f"]


def test_prompt_splits_are_disjoint():
    splits = T.split_prompts({"a": 500, "b": 700})
    a = {tuple(p.tolist()) for p in splits["a"]}
    b = {tuple(p.tolist()) for p in splits["b"]}
    assert len(a) == 500 and len(b) == 700 and not a & b


def test_split_rejects_more_prompts_than_the_task_has():
    with pytest.raises(ValueError, match="the task has 1296"):
        T.split_prompts({"a": 1300})


def test_ideal_answer_scores_two_and_beats_every_flaw():
    prompt = torch.tensor([T.encode("Ldbca=")] * 5)
    responses = torch.tensor([T.encode(r) + [T.PAD] * (5 - len(r)) for r in ("a.", "a!.", "a!!!.", "b.", "aaaaa")])
    scores = T.preference_score(prompt, responses)
    assert scores.tolist() == [2.0, 1.75, 1.25, 0.0, 0.0]


def test_score_ignores_tokens_after_the_full_stop():
    prompt = torch.tensor([T.encode("Labcd=")] * 2)
    clean = torch.tensor([T.encode("d.___"), T.encode("d.ab!")])
    assert T.preference_score(prompt, clean).tolist() == [2.0, 2.0]


def test_demonstrations_are_mostly_correct_and_often_verbose():
    prompts = T.split_prompts({"x": 1296})["x"].repeat(2, 1)
    demos = T.demonstrations(prompts, g(), p_verbose=0.6, p_typo=0.1)
    correct = (demos[:, :1] == T.targets(prompts)).all(1).float().mean().item()
    verbose = (demos == T.BANG).any(1).float().mean().item()
    assert correct == pytest.approx(0.9, abs=0.03)
    assert verbose == pytest.approx(0.6, abs=0.03)


def test_perfect_demonstrators_score_two_everywhere():
    prompts = T.split_prompts({"x": 100})["x"]
    demos = T.demonstrations(prompts, g(), p_verbose=0.0, p_typo=0.0)
    assert (T.preference_score(prompts, demos) == 2).all()


def test_pretraining_text_does_not_follow_instructions():
    docs = T.pretraining_corpus(2000, g())
    scores = T.preference_score(docs[:, :T.PROMPT_LEN], docs[:, T.PROMPT_LEN:])
    assert (scores == 2).float().mean().item() < 0.15          # only by chance: 1 in 6 letters
    assert (docs[:, T.PROMPT_LEN:] == T.STOP).any(1).all()


def test_rankings_follow_scores_without_noise():
    scores = torch.tensor([[0.0, 2.0, 1.0, -1.0]])
    assert T.rank_responses(scores, 0.0, g()).tolist() == [[2, 0, 1, 3]]


def test_noisy_rankings_have_bradley_terry_marginals():
    scores = torch.tensor([[0.5, 0.0]]).expand(20000, 2)
    ranks = T.rank_responses(scores, 0.5, g())
    p_first = (ranks[:, 0] < ranks[:, 1]).float().mean().item()
    assert p_first == pytest.approx(torch.sigmoid(torch.tensor(1.0)).item(), abs=0.01)


def test_compare_counts_ties_as_half():
    a, b = torch.tensor([2.0, 1.0, 0.0]), torch.tensor([1.0, 1.0, 2.0])
    assert T.compare(a, b).tolist() == [1.0, 0.5, 0.0]
