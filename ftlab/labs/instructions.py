"""Lesson 09's instructions: chats the course generates from lesson 07's phrasebook, with answers code can check.

Six tasks, each a user request and the one right answer: translate English→French and French→English (the
phrasebook's sentences), write a French noun in the plural, put un/une or le/la/l' before a noun, answer a question
from a short context, and refuse a request the assistant is not for (one fixed sentence). As in the phrasebook,
*pairings* are held out: a test request combines a task (and pattern) the model has seen with a noun it has seen,
never together. The translations keep lesson 07's own held-out pairings, in both directions, so neither direction
leaks the other.

Every answer can be scored by code: `exact_match`, sentence chrF and `score_answer`, which gives partial credit
(GRPO needs rewards that differ within a group of samples; see MEASURED.md's GRPO trap).
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Sequence

from ftlab.config import SEED
from ftlab.labs import phrasebook
from ftlab.labs.generative import sentence_chrf
from ftlab.labs.phrasebook import COLOURS, NOUNS, Noun

if TYPE_CHECKING:
    import pandas as pd
    from datasets import Dataset, DatasetDict

TASKS: tuple[str, ...] = ("translate_en_fr", "translate_fr_en", "plural", "article", "context", "refusal")
SPLITS: tuple[str, ...] = ("train", "validation", "test")
SYSTEM = "You are a phrasebook assistant for English and French."
REFUSAL = "Sorry, I can only help with English and French phrases."

# Requests the assistant refuses: nothing in the phrasebook answers them. {noun}: the English noun, {a}: a/an + noun.
OUT_OF_SCOPE: tuple[str, ...] = (
    "Write a poem about the {noun}.",
    "Tell me a joke about {a}.",
    "Translate into German: the {noun}.",
    "Draw a picture of {a}.",
    "What does {a} cost in Tokyo?",
    "Write an essay on the history of the {noun}.",
)
# Questions asked about each noun in the context task (each with other nouns and colours drawn at random).
CONTEXTS_PER_NOUN = 4
# An answer that is not exactly right earns at most this share of full credit (scaled by its chrF).
PARTIAL_CREDIT = 0.8


def _translations(seed: int) -> list[dict]:
    """Both directions of every phrasebook pair, in the phrasebook's own split (lesson 07's held-out pairings)."""
    book = phrasebook.phrasebook(seed=seed, validation_share=phrasebook.VALIDATION_SHARE)
    rows = []
    for split in SPLITS:
        for row in book[split]:
            pairing = f"translate/{row['pattern']}/{row['noun']}"
            rows.append(dict(split=split, task="translate_en_fr", pairing=pairing,
                             user=f"Translate into French: {row['english']}", answer=row["french"]))
            rows.append(dict(split=split, task="translate_fr_en", pairing=pairing,
                             user=f"Translate into English: {row['french']}", answer=row["english"]))
    return rows


def _noun_requests(noun: Noun, rng: random.Random) -> dict[str, list[tuple[str, str]]]:
    """The (request, answer) pairs of the noun-level tasks about `noun`."""
    others = [n for n in NOUNS if n != noun]
    contexts = []
    for _ in range(CONTEXTS_PER_NOUN):
        other = rng.choice(others)
        colour, other_colour = rng.sample(COLOURS, 2)
        facts = [f"The {noun.en} is {colour.en}.", f"The {other.en} is {other_colour.en}."]
        rng.shuffle(facts)
        contexts.append((f"Context: {' '.join(facts)}\nQuestion: What colour is the {noun.en}?",
                         f"The {noun.en} is {colour.en}."))
    return {
        "plural": [(f'Write "{noun.the()}" in the plural.', f"les {noun.fr_plural}"),
                   (f'Write "{noun.a()}" in the plural.', f"des {noun.fr_plural}")],
        "article": [(f'Write "{noun.fr}" with un or une.', noun.a()),
                    (f'Write "{noun.fr}" with le, la or l\'.', noun.the())],
        "context": contexts,
        "refusal": [(request.format(noun=noun.en, a=noun.en_a()), REFUSAL) for request in OUT_OF_SCOPE],
    }


def _held_out(keys: Sequence[str], share: float, rng: random.Random) -> set[str]:
    """`share` of `keys` (at least one), drawn at random."""
    keys = sorted(keys)
    return set(rng.sample(keys, max(1, round(share * len(keys)))))


def _noun_tasks(seed: int) -> list[dict]:
    """The plural, article, context and refusal requests, split by (task, noun) or (request, noun) pairing."""
    rng = random.Random(f"instructions {seed}")
    requests = {noun.en: _noun_requests(noun, rng) for noun in NOUNS}
    rows = []
    for task in ("plural", "article", "context", "refusal"):
        if task == "refusal":  # a pairing is one kind of request about one noun, as a phrasebook pattern
            keys = [f"refusal/{i}/{noun.en}" for i in range(len(OUT_OF_SCOPE)) for noun in NOUNS]
        else:
            keys = [f"{task}/{noun.en}" for noun in NOUNS]
        test = _held_out(keys, phrasebook.HELD_OUT_SHARE, rng)
        validation = _held_out([k for k in keys if k not in test], phrasebook.VALIDATION_SHARE, rng)
        for noun in NOUNS:
            for i, (user, answer) in enumerate(requests[noun.en][task]):
                pairing = f"refusal/{i}/{noun.en}" if task == "refusal" else f"{task}/{noun.en}"
                split = "test" if pairing in test else "validation" if pairing in validation else "train"
                rows.append(dict(split=split, task=task, pairing=pairing, user=user, answer=answer))
    return rows


def chat_messages(user: str, answer: str | None = None, system: bool = False) -> list[dict[str, str]]:
    """The messages of one chat: the system prompt (optional), the user's request and, if given, the answer."""
    messages = [{"role": "system", "content": SYSTEM}] if system else []
    messages.append({"role": "user", "content": user})
    if answer is not None:
        messages.append({"role": "assistant", "content": answer})
    return messages


def instructions(seed: int = SEED, max_per_task: int | None = None, system: bool = False) -> DatasetDict:
    """The instruction chats as a `datasets.DatasetDict` with `train`, `validation` and `test` splits.

    Columns: `task`, `pairing` (what is held out together, e.g. 'plural/cake'), `messages` (TRL's conversational
    format: user, assistant; with `system`, SYSTEM first) and `reference` (the right answer). No pairing is in two
    splits. The system prompt is off by default: the same words before every chat cost a fifth of the tokens and
    teach nothing.
    With `max_per_task`, each split keeps at most that many chats of each task (drawn at random), so that the
    translations (most of the chats) do not drown the other tasks.
    """
    from datasets import Dataset, DatasetDict

    if max_per_task is not None and max_per_task < 1:
        raise ValueError(f"max_per_task must be at least 1 or None (all chats), got {max_per_task}")
    rows = _translations(seed) + _noun_tasks(seed)
    rng = random.Random(f"instructions sample {seed}")
    splits = {}
    for split in SPLITS:
        chosen = []
        for task in TASKS:
            of_task = [row for row in rows if row["split"] == split and row["task"] == task]
            if max_per_task is not None and len(of_task) > max_per_task:
                of_task = rng.sample(of_task, max_per_task)
            chosen += of_task
        splits[split] = Dataset.from_dict({
            "task": [row["task"] for row in chosen],
            "pairing": [row["pairing"] for row in chosen],
            "messages": [chat_messages(row["user"], row["answer"], system) for row in chosen],
            "reference": [row["answer"] for row in chosen],
        })
    return DatasetDict(splits).shuffle(seed=seed)


def prompts_only(dataset: Dataset) -> Dataset:
    """The chats without their answers, as TRL's GRPO wants them: `prompt` (system and user) plus the dataset's
    other columns (`task`, `reference`...), which TRL hands to reward functions."""
    if "messages" not in dataset.column_names:
        raise ValueError(f"the dataset has no column 'messages'; its columns are {dataset.column_names}")
    return dataset.map(lambda row: {"prompt": [m for m in row["messages"] if m["role"] != "assistant"]},
                       remove_columns=["messages"])


def _normalise(text: str) -> str:
    return " ".join(text.split())


def exact_match(answer: str, reference: str) -> bool:
    """True when the answer is the reference, spaces at the ends and runs of spaces aside (case and accents count)."""
    return _normalise(answer) == _normalise(reference)


def score_answer(task: str, answer: str, reference: str) -> float:
    """A verifiable score in [0, 1] with partial credit: 1 for an exact answer, else PARTIAL_CREDIT × chrF / 100.

    A refusal of a request the assistant should answer earns 0, so that refusing everything pays nothing.
    """
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; tasks are {list(TASKS)}")
    if exact_match(answer, reference):
        return 1.0
    if reference != REFUSAL and exact_match(answer, REFUSAL):
        return 0.0
    if not answer.strip():
        return 0.0
    return PARTIAL_CREDIT * sentence_chrf(_normalise(answer), _normalise(reference)) / 100


def score_answers(tasks: Sequence[str], answers: Sequence[str], references: Sequence[str]) -> pd.DataFrame:
    """One row per answer: task, answer, reference, exact (0/1), chrF (0–100) and score (`score_answer`)."""
    import pandas as pd

    if not len(tasks) == len(answers) == len(references):
        raise ValueError(f"{len(tasks)} tasks, {len(answers)} answers and {len(references)} references: "
                         f"give one task and one reference per answer")
    return pd.DataFrame({
        "task": list(tasks), "answer": list(answers), "reference": list(references),
        "exact": [float(exact_match(a, r)) for a, r in zip(answers, references)],
        "chrF": [sentence_chrf(_normalise(a), _normalise(r)) for a, r in zip(answers, references)],
        "score": [score_answer(t, a, r) for t, a, r in zip(tasks, answers, references)],
    })


def scores_by_task(scored: pd.DataFrame) -> pd.DataFrame:
    """Mean exact match, chrF and score per task (and over all answers, 'all'), with the number of answers."""
    table = scored.groupby("task")[["exact", "chrF", "score"]].mean()
    table["n"] = scored.groupby("task").size()
    table.loc["all"] = [*scored[["exact", "chrF", "score"]].mean(), len(scored)]
    order = [task for task in TASKS if task in table.index] + ["all"]
    return table.loc[order].astype({"n": int})
