"""Self-checks for lesson 10's exercises (your own project): each says what is wrong and how to look for it."""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ftlab.course.checks.core import ExerciseCheckError, call_safely, passed, require
from ftlab.audit import leaks
from ftlab.evaluate import describe_difference, paired_bootstrap, scores

LEAK_CASES: list[tuple[list[str], list[str], list[int], str]] = [
    (["see you at 5", "free prize! call now"], ["see you at 5", "where are you?"], [0], "the same text in both"),
    (["See you at 5"], ["see you at 5", "SEE YOU AT 5 "], [0, 1], "the same words with other capitals or spaces"),
    (["ok", "ok lar"], ["ok  lar", "okay"], [0], "white space inside the text"),
    (["call me"], ["where are you?", "on my way"], [], "no text is shared"),
    ([], ["anything"], [], "the training list is empty"),
]


def check_find_leaks(find_leaks: Callable) -> None:
    """Exercise 10.1: `find_leaks(train_texts, other_texts)` lists the positions of the other texts seen in training."""
    for train, other, expected, why in LEAK_CASES:
        call = f"find_leaks({train!r}, {other!r})"
        result = call_safely(find_leaks, list(train), list(other), what=call)
        require(result is not None, f"{call} returned None: end the function with `return` and the list of positions")
        try:
            got = sorted(int(i) for i in result)
        except (TypeError, ValueError):
            raise ExerciseCheckError(f"{call} should return positions (whole numbers) in other_texts, got "
                                     f"{result!r}: use enumerate(other_texts) to get each text's position") from None
        if got == expected:
            continue
        if sorted(set(got)) != got:
            hint = "a position is listed twice: list each leaked text of other_texts once"
        elif why.startswith("the same words") or why.startswith("white space"):
            hint = ("compare the texts after `audit.normalize` (case folded, runs of spaces made one): a model "
                    "sees 'See you at 5' and 'see you at 5' as nearly the same input")
        else:
            hint = "a position i belongs in the answer exactly when normalize(other_texts[i]) is one of the training texts"
        raise ExerciseCheckError(f"{call} returned {got}, expected {expected} ({why}): {hint}")
    passed("find_leaks finds every text of another split that also sits in training, whatever its case or spacing")


def check_leak_count(yours: int, frame) -> None:
    """Exercise 10.1: the number of leaked validation and test texts in the lesson's first split of the file."""
    expected = len(leaks(frame))
    require(isinstance(yours, (int, np.integer)), f"leaked should be a whole number, got {type(yours).__name__}")
    require(int(yours) == expected, f"you counted {yours} leaked validation and test texts; ftlab.audit.leaks finds "
                                    f"{expected}: run find_leaks on the validation and the test texts, each against "
                                    f"the training texts, and add up the lengths")
    passed(f"{expected:,} validation and test texts also sit in the training split, as ftlab.audit.leaks says")


def check_descriptions(descriptions: Any, label_names: Sequence[str], validation_f1: Callable[[dict], float],
                       majority_f1: float) -> None:
    """Exercise 10.2: label descriptions for zero-shot that beat the majority baseline on validation.

    `validation_f1(prompts)` is the validation macro-F1 of zero-shot classification with `prompts` (one list of
    sentences per label); the check calls it with the learner's descriptions and with the label names alone.
    """
    require(isinstance(descriptions, Mapping), f"descriptions should be a dict {{label: [sentences]}}, got "
                                               f"{type(descriptions).__name__}")
    missing = [label for label in label_names if label not in descriptions]
    require(not missing, f"describe every label: {missing} have no description")
    extra = [label for label in descriptions if label not in label_names]
    require(not extra, f"{extra} are not labels of this file; its labels are {list(label_names)}")
    for label, sentences in descriptions.items():
        sentences = [sentences] if isinstance(sentences, str) else list(sentences)
        require(sentences and all(isinstance(s, str) and s.strip() for s in sentences),
                f"the description of {label!r} should be one or more sentences of text, got {sentences!r}")
    as_lists = {label: [descriptions[label]] if isinstance(descriptions[label], str) else list(descriptions[label])
                for label in label_names}
    yours = float(validation_f1(as_lists))
    names = float(validation_f1({label: [str(label).replace("_", " ")] for label in label_names}))
    require(yours > majority_f1, f"with your descriptions zero-shot reaches macro-F1 {yours:.3f} on validation, no "
                                 f"better than always answering the majority label ({majority_f1:.3f}): describe "
                                 f"what a typical text of each label says, in the words such texts use")
    verdict = "better than" if yours > names else "not better than"
    passed(f"zero-shot with your descriptions: validation macro-F1 {yours:.3f}, above the majority baseline "
           f"({majority_f1:.3f}) and {verdict} the label names alone ({names:.3f})")


def check_ship(ship: Any, gold: Sequence[int], fine_tuned: Sequence[int], baseline: Sequence[int],
               baseline_name: str, n_labels: int, seed: int) -> None:
    """Exercise 10.3: ship the fine-tuned model only if it beats the baseline beyond noise on validation."""
    options = ("fine-tuned", baseline_name)
    require(ship in options, f"ship should be one of {list(options)}, got {ship!r}")
    result = paired_bootstrap(np.asarray(gold), np.asarray(fine_tuned), np.asarray(baseline), n_labels=n_labels,
                              seed=seed)
    expected = "fine-tuned" if result["low"] > 0 else baseline_name
    said = describe_difference(result, "the fine-tuned model", baseline_name, items="validation texts")
    if ship != expected:
        if expected == baseline_name:
            raise ExerciseCheckError(f"{said} The interval does not lie above zero, so the rule ships the cheaper "
                                     f"{baseline_name}: a lead within noise is not worth a model that is slower "
                                     f"and larger")
        raise ExerciseCheckError(f"{said} The whole interval lies above zero: the rule ships the fine-tuned model")
    fine_score = scores(gold, fine_tuned, n_labels=n_labels)["macro_f1"]
    passed(f"{said} You ship {ship} (the fine-tuned model's validation macro-F1 is {fine_score:.3f}).")
