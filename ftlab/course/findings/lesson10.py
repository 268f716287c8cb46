"""Lesson 10's sentences built from its measurements: what the look at a file found, what cleaning removed, how the
baselines and the fine-tuned model compare, and which model the project ships.

Each function takes numbers the notebook measured on the learner's own file and returns Markdown; the lesson runs on
files the course never saw, so every sentence covers every outcome (no duplicates, no rare label, a baseline that
wins) rather than the course's data alone.
"""

from __future__ import annotations

from typing import Mapping

from ftlab.evaluate import describe_difference

# A label with less than this share of the rows is called rare: accuracy then hides how the model does on it.
RARE_SHARE = 0.2


def describe_look(report: Mapping, file_name: str) -> str:
    """What `ftlab.audit.audit` found in the file: rows, labels (and a rare one), duplicates, conflicts, leaks."""
    labels = dict(report["labels"])
    total = sum(labels.values())
    parts = [f"**{file_name}** has **{total:,}** rows and **{len(labels)}** labels "
             f"({', '.join(f'{name} {count:,}' for name, count in labels.items())})."]
    rare = {name: count / total for name, count in labels.items() if count / total < RARE_SHARE}
    if rare:
        names = ", ".join(f"{name} ({share:.0%})" for name, share in rare.items())
        parts.append(f"Rare: {names}. Always predicting the most frequent label would already be right "
                     f"{max(labels.values()) / total:.0%} of the time, so read macro-F1, not accuracy.")
    if report["duplicate_texts"]:
        parts.append(f"**{report['duplicate_texts']:,}** texts occur more than once "
                     f"({report['extra_copies']:,} extra copies)")
        if report["conflicting_texts"]:
            parts[-1] += f", and **{report['conflicting_texts']:,}** of them carry different labels"
        parts[-1] += "."
    else:
        parts.append("No text occurs twice.")
    leaked = sum(report.get("leaks", {}).values())
    if leaked:
        where = ", ".join(f"{count:,} in {split}" for split, count in report["leaks"].items())
        parts.append(f"Split as it is, **{leaked:,}** validation and test texts also sit in the training split "
                     f"({where}): the model would be scored on texts it learned by heart.")
    lengths = report.get("lengths")
    if lengths:
        parts.append(f"Texts have a median of {lengths['median']:.0f} tokens (95 % up to {lengths['p95']:.0f}, the "
                     f"longest {lengths['longest']:,}); `max_length` cuts {lengths['cut']:,} of them "
                     f"({lengths['cut_share']:.1%}).")
    return " ".join(parts)


def describe_leak_effect(right_leaked, right_other) -> str:
    """Accuracy on the leaked test texts against the other test texts (each a boolean per text: was it right?)."""
    n_leaked, n_other = len(right_leaked), len(right_other)
    if n_leaked == 0:
        return "No test text occurs in the training split, so there is no leak to measure here."
    leaked, other = float(sum(right_leaked)) / n_leaked, float(sum(right_other)) / max(1, n_other)
    text = (f"On the **{n_leaked:,}** leaked test texts the classifier is right **{leaked:.1%}** of the time; on the "
            f"{n_other:,} others {other:.1%}.")
    if leaked > other:
        return text + (" The leaked texts flatter the score: the model has seen them, with their labels. Part of the "
                       "gap may also be that texts which repeat are common, easy ones; either way they say nothing "
                       "about texts the model has never seen.")
    return text + " Here the leaked texts are no easier than the rest, but a test split should still not hold them."


def describe_cleaning(dropped: Mapping[str, int], leaks_after: int) -> str:
    """What `ftlab.audit.deduplicate` removed, and the leaks left after splitting the cleaned file."""
    text = (f"Kept **{dropped['kept']:,}** of {dropped['rows']:,} rows: dropped {dropped['copies']:,} repeated "
            f"copies and {dropped['conflicting']:,} rows of texts labelled two ways.")
    if leaks_after:
        return text + f" Still **{leaks_after:,}** validation or test texts also occur in training."
    return text + " Split again, no validation or test text occurs in the training split."


def describe_baselines(table, score: str = "macro_f1") -> str:
    """The validation scores of the baselines (rows: name; columns accuracy, macro_f1), best first."""
    ordered = table.sort_values(score, ascending=False)
    best, worst = ordered.index[0], ordered.index[-1]
    return (f"On validation the strongest baseline is **{best}** (macro-F1 {ordered.loc[best, score]:.3f}, "
            f"accuracy {ordered.loc[best, 'accuracy']:.3f}); the weakest is {worst} "
            f"(macro-F1 {ordered.loc[worst, score]:.3f}). The fine-tuned model has to beat the strongest one to "
            f"be worth its cost.")


def ship_fine_tuned(validation_result: Mapping[str, float]) -> bool:
    """The project's rule: ship the fine-tuned model only if it beats the best baseline beyond noise on validation."""
    return validation_result["low"] > 0


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


def describe_test(result: Mapping[str, float], baseline: str) -> str:
    """The fine-tuned model against one baseline on the test texts, as one sentence with its interval."""
    return _capitalised(describe_difference(result, "the fine-tuned model", baseline, items="test texts"))


def describe_choice(validation_result: Mapping[str, float], baseline: str, items: str) -> str:
    """The validation comparison of the fine-tuned model with the best baseline, and the model it makes us ship."""
    sentence = _capitalised(describe_difference(validation_result, "the fine-tuned model", baseline, items=items))
    if ship_fine_tuned(validation_result):
        return sentence + " So the project ships **the fine-tuned model**."
    return (sentence + f" The fine-tuned model is not clearly better, so the project would ship the cheaper "
            f"**{baseline}**; the rest of the lesson still serves the fine-tuned model, to show the whole path.")
