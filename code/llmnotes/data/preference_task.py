"""A toy instruction task whose "human labeller" is a function written in code.

InstructGPT (Ouyang et al., 2022) needs three kinds of human data: demonstrations of the
desired behaviour (for SFT), rankings of model outputs (for the reward model) and prompts
(for PPO). Here a few lines of code stand in for the 40 contractors:

* **Prompts** are one instruction over a 4-letter string of the letters a-f: ``Ldbca=``,
  "say the last letter of dbca" (6^4 = 1296 prompts). The ideal response is the answer
  and a full stop: ``a.``.
* **Pretraining text** uses the same symbols and the same shape, but what follows ``=`` is
  the first letter or random letters, and the instruction token never appears: a base model
  learns the format of the text, not to follow the instruction.
* **Demonstrations** are written by imperfect labellers: most answer correctly, but many add
  a courteous ``!`` or two before the full stop and some make a typo. Writing a perfect
  answer is harder than telling which of two answers is better.
* **The preference function** :func:`preference_score` is the labellers' judgement: it
  rewards a correct answer, a terminated response and brevity. Comparisons between responses
  are sampled from it with Bradley-Terry noise (:func:`rank_responses`, :func:`compare`), so
  the labels are noisy the way human labels are (the paper's inter-annotator agreement is
  about 73%, Section 5.2).

All tokens are integers; a full sequence is a 6-token prompt and
a 5-token response, padded with ``_`` after the first ``.``; 11 symbols in all.
"""
from __future__ import annotations

import itertools

import torch

from llmnotes.data.sequences import pad_after_stop

VOCAB = ("_", ".", "=", "!", "L", "a", "b", "c", "d", "e", "f")
PAD, STOP, EQUALS, BANG, LAST = range(5)
LETTERS = tuple(range(5, 11))
N_LETTERS = 4                       # letters per instruction
ANSWER_LEN = 1                      # the answer is one letter
PROMPT_LEN = N_LETTERS + 2          # op, letters, "="
RESPONSE_LEN = ANSWER_LEN + 4       # room for a verbose answer: the letter, 3 "!", "."
SEQ_LEN = PROMPT_LEN + RESPONSE_LEN


def encode(text: str) -> list[int]:
    """Characters to token ids (``"Ldbca="`` -> ``[4, 8, 6, 7, 5, 2]``)."""
    unknown = set(text) - set(VOCAB)
    if unknown:
        raise ValueError(f"characters not in the vocabulary {VOCAB}: {sorted(unknown)}")
    return [VOCAB.index(ch) for ch in text]


def decode(ids: torch.Tensor | list[int]) -> str:
    """Token ids to text, stopping at the first padding token."""
    text = "".join(VOCAB[int(i)] for i in ids)
    return text.split("_")[0]


def all_prompts() -> torch.Tensor:
    """Every instruction of the task: ``L`` and one of 6^4 strings, (1296, 6)."""
    rows = [[op, *letters, EQUALS] for op in (LAST,) for letters in itertools.product(LETTERS, repeat=N_LETTERS)]
    return torch.tensor(rows)


def split_prompts(sizes: dict[str, int], seed: int = 0) -> dict[str, torch.Tensor]:
    """Disjoint random prompt sets (e.g. SFT, RM, PPO, evaluation), as in the paper's Table 6."""
    prompts = all_prompts()
    if sum(sizes.values()) > len(prompts):
        raise ValueError(f"asked for {sum(sizes.values())} prompts, the task has {len(prompts)}")
    order = torch.randperm(len(prompts), generator=torch.Generator().manual_seed(seed))
    out, start = {}, 0
    for name, size in sizes.items():
        out[name] = prompts[order[start:start + size]]
        start += size
    return out


def targets(prompts: torch.Tensor) -> torch.Tensor:
    """The correct answer for each prompt, (n, 1): the string's last letter."""
    if prompts.dim() != 2 or prompts.shape[1] != PROMPT_LEN:
        raise ValueError(f"prompts must have shape (n, {PROMPT_LEN}), got {tuple(prompts.shape)}")
    letters = prompts[:, 1:1 + N_LETTERS]
    return letters[:, -1:]


def pretraining_corpus(n: int, generator: torch.Generator, p_answer: float = 0.0,
                       p_first: float = 0.3) -> torch.Tensor:
    """``n`` documents of "web text", (n, 11): the task's symbols and shape, never its instruction.

    A document is a letter, four letters, ``=``, then the last of the four letters (a
    fraction ``p_answer`` of the documents), the first of them (``p_first``) or 1 to 4 random
    letters (the rest), then ``.``; now and then a ``!``. The instruction token ``L`` never
    appears, and nothing tells the model which continuation is wanted.
    """
    if n < 1 or not (0 <= p_answer and 0 <= p_first and p_answer + p_first <= 1):
        raise ValueError(f"need n >= 1 and probabilities p_answer + p_first <= 1, got {n}, {p_answer}, {p_first}")
    g = generator
    alphabet = torch.tensor(LETTERS)
    lead = alphabet[torch.randint(len(LETTERS), (n, 1), generator=g)]
    letters = alphabet[torch.randint(len(LETTERS), (n, N_LETTERS), generator=g)]
    body = alphabet[torch.randint(len(LETTERS), (n, RESPONSE_LEN), generator=g)]
    u = torch.rand(n, generator=g)
    body[:, 0] = torch.where(u < p_answer, letters[:, -1], torch.where(u < p_answer + p_first, letters[:, 0], body[:, 0]))
    body = body.masked_fill(torch.rand(n, RESPONSE_LEN, generator=g) < 0.05, BANG)
    length = torch.where(u < p_answer + p_first, 1, torch.randint(1, RESPONSE_LEN, (n,), generator=g))
    position = torch.arange(RESPONSE_LEN).unsqueeze(0)
    body = torch.where(position == length.unsqueeze(1), STOP, body)
    prompts = torch.cat([lead, letters, torch.full((n, 1), EQUALS)], dim=1)
    return torch.cat([prompts, pad_after_stop(body, STOP, PAD)], dim=1)


def demonstrations(prompts: torch.Tensor, generator: torch.Generator,
                   p_verbose: float = 0.6, p_typo: float = 0.1) -> torch.Tensor:
    """Labeller-written responses to ``prompts``, (n, 5): correct, but not always ideal.

    With probability ``p_verbose`` the labeller adds one to three ``!`` before the full
    stop; with probability ``p_typo`` the answer letter is a wrong one.
    """
    if not (0 <= p_verbose <= 1 and 0 <= p_typo <= 1):
        raise ValueError(f"p_verbose and p_typo must be probabilities, got {p_verbose}, {p_typo}")
    g, n = generator, len(prompts)
    answer = targets(prompts)
    shift = torch.randint(1, len(LETTERS), (n, 1), generator=g)
    wrong = (answer - LETTERS[0] + shift) % len(LETTERS) + LETTERS[0]
    answer = torch.where(torch.rand(n, 1, generator=g) < p_typo, wrong, answer)
    n_bang = torch.where(torch.rand(n, generator=g) < p_verbose, torch.randint(1, 4, (n,), generator=g), 0)
    position = torch.arange(RESPONSE_LEN - ANSWER_LEN).unsqueeze(0)
    tail = torch.full((n, RESPONSE_LEN - ANSWER_LEN), PAD)
    tail = torch.where(position < n_bang.unsqueeze(1), BANG, tail)
    tail = torch.where(position == n_bang.unsqueeze(1), STOP, tail)
    return torch.cat([answer, tail], dim=1)


def preference_score(prompts: torch.Tensor, responses: torch.Tensor) -> torch.Tensor:
    """The labellers' judgement of each response, (n,): higher is better; the ideal answer scores 2.

    * correctness: +2 if the first token is the right letter;
    * format: -1 if the response never says ``.`` (it rambles to the length limit);
    * brevity: -0.25 per token between the answer and the ``.``.
    """
    if responses.dim() != 2 or responses.shape != (len(prompts), RESPONSE_LEN):
        raise ValueError(f"responses must have shape ({len(prompts)}, {RESPONSE_LEN}), got {tuple(responses.shape)}")
    responses = pad_after_stop(responses, STOP, PAD)
    right = (responses[:, :ANSWER_LEN] == targets(prompts)).all(1).float()
    stop = responses == STOP
    terminated = stop.any(1)
    length = torch.where(terminated, stop.float().argmax(1), torch.full_like(right, RESPONSE_LEN, dtype=torch.long))
    extra = (length - ANSWER_LEN).clamp(min=0).float()
    return 2.0 * right - (~terminated).float() - 0.25 * extra


def rank_responses(scores: torch.Tensor, temperature: float, generator: torch.Generator) -> torch.Tensor:
    """Labellers rank K responses per prompt: ``ranks[i, j]`` = 0 for the best of row ``i``.

    Sorting ``score / temperature + Gumbel noise`` samples a ranking from the Plackett-Luce
    model, whose pairwise marginals are Bradley-Terry: P(a over b) = σ((s_a - s_b) / T).
    ``temperature = 0`` ranks by the score, breaking ties at random.
    """
    if scores.dim() != 2 or temperature < 0:
        raise ValueError(f"scores must be (n, K) and temperature >= 0, got {tuple(scores.shape)}, {temperature}")
    noise = -torch.log(-torch.log(torch.rand(scores.shape, generator=generator).clamp(1e-9, 1 - 1e-9)))
    keys = scores / temperature + noise if temperature > 0 else scores + 1e-6 * noise
    return keys.argsort(dim=1, descending=True).argsort(dim=1)


def compare(scores_a: torch.Tensor, scores_b: torch.Tensor, temperature: float = 0.0) -> torch.Tensor:
    """P(labeller prefers a over b) for each pair, Bradley-Terry; equal scores give 0.5."""
    if scores_a.shape != scores_b.shape:
        raise ValueError(f"score shapes differ: {tuple(scores_a.shape)} vs {tuple(scores_b.shape)}")
    if temperature == 0:
        return 0.5 + 0.5 * torch.sign(scores_a - scores_b)
    return torch.sigmoid((scores_a - scores_b) / temperature)
