"""Lesson 04's findings as sentences: the search's choice, the final model, calibration, the baselines, the recap.

Each function takes figures the notebook measured and returns Markdown; the branches (which model is ahead, whether
an interval contains zero) live here, tested, so that the notebook's cells show the measurement.
"""

from __future__ import annotations

from typing import Mapping, Sequence

from ftlab.evaluate import describe_difference


def _points(value: float) -> str:
    return f"{100 * value:.1f}"


def search_choice(best: tuple[float, int], best_score: float, recipe: tuple[float, int], recipe_score: float,
                  n_validation: int) -> str:
    """What the search on the subset chose, and what happens to its choice next."""
    (lr, epochs), (recipe_lr, recipe_epochs) = best, recipe
    text = (f"Best on the search's {n_validation:,} validation tweets: learning rate **{lr:.1e}** for "
            f"**{epochs}** epoch(s), macro-F1 **{best_score:.3f}**.")
    if (lr, epochs) == (recipe_lr, recipe_epochs):
        return text + (" That is the recipe's own setting, so the model of lesson 03 is already that run on all the "
                       "training tweets: nothing needs retraining.")
    return text + (f" The recipe's setting ({recipe_lr:.1e}, {recipe_epochs} epoch(s)) scored {recipe_score:.3f} "
                   f"here. A subset is only a hint, so the choice is now trained on all the training tweets and "
                   f"compared with the recipe's model on the whole validation split.")


def keep_search_choice(comparison: Mapping[str, float] | None) -> bool:
    """Whether the search's retrained choice replaces the recipe's model: only when it is ahead beyond noise.

    `comparison` is a `paired_bootstrap` result of the search's choice minus the recipe's model on validation, or
    None when the search chose the recipe itself.
    """
    return comparison is not None and comparison["low"] > 0


def final_choice(comparison: Mapping[str, float] | None) -> str:
    """The sentence for the last decision before the test split: search's choice or the recipe's model."""
    if comparison is None:
        return "The final model is the recipe's, lesson 03's run: the search confirmed its setting."
    sentence = describe_difference(comparison, "the search's choice", "the recipe's model",
                                   score="validation macro-F1", items="validation tweets")
    sentence = sentence[0].upper() + sentence[1:]
    if keep_search_choice(comparison):
        return f"{sentence} The search's choice becomes the final model."
    if comparison["high"] < 0:
        return f"{sentence} The recipe's model stays: it is the better one."
    return f"{sentence} A difference within noise is no reason to change: the recipe's model stays."


def calibration_change(before: Mapping[str, float], after: Mapping[str, float], temperature: float,
                       n_test: int) -> str:
    """What dividing the logits by a fitted temperature did to the test NLL and ECE."""
    if temperature > 1:
        why = f"T = {temperature:.2f} is above 1: the model was too sure of itself, and scaling softens it"
    elif temperature < 1:
        why = f"T = {temperature:.2f} is below 1: the model was too timid, and scaling sharpens it"
    else:
        why = "T = 1: the model's probabilities were left as they were"
    nll = (f"the NLL goes from **{before['NLL']:.3f}** to **{after['NLL']:.3f}** and the ECE from "
           f"**{before['ECE']:.3f}** to **{after['ECE']:.3f}**")
    if after["ECE"] > before["ECE"]:
        ece_note = (f" The ECE did not fall: on {n_test:,} tweets in ten bins it is noisy, and the temperature was "
                    f"fitted to the NLL, not to it.")
    else:
        ece_note = ""
    return (f"Fitted on the validation split, {why}. On the test tweets, which took no part in the fit, {nll}; the "
            f"predicted labels, and so accuracy and macro-F1, are unchanged.{ece_note}")


def baseline_comparisons(comparisons: Mapping[str, Mapping[str, float]], ours: str = "the fine-tuned model") -> str:
    """One bullet per baseline: `ours` minus the baseline on the same test tweets, with its interval."""
    lines = []
    for name, result in comparisons.items():
        sentence = describe_difference(result, ours, f"*{name}*", items="test tweets")
        lines.append(f"- {sentence[0].upper()}{sentence[1:]}")
    return "\n".join(lines)


def scratch_note(answers: Sequence[int], labels: Sequence[str], steps: int) -> str:
    """A sentence when the network trained from random weights answers one label only, else an empty string."""
    if len(set(answers)) != 1:
        return ""
    return (f"The network trained from random weights answers *{labels[list(answers)[0]]}* for every tweet: "
            f"{steps} training steps are far too few to learn a language from nothing, and learning the language is "
            f"what pretraining did.")


def tfidf_verdict(comparison: Mapping[str, float], best_tfidf: str, n_train: int, steps: int,
                  high: Mapping[str, float] | None = None) -> str:
    """The fine-tuned model against the TF-IDF baseline chosen on validation, and what the data size has to do with it.

    `high` is the same comparison on the high-confidence test tweets only, if measured.
    """
    sentence = describe_difference(comparison, "The fine-tuned model", f"the TF-IDF baseline ({best_tfidf})",
                                   items="test tweets")
    if comparison["low"] > 0:
        text = f"{sentence} With {n_train:,} training tweets and {steps} training steps, fine-tuning pays off."
    elif comparison["high"] < 0:
        text = (f"{sentence} {n_train:,} training tweets and {steps} training steps are not enough for fine-tuning "
                f"to pay off over a classical model.")
    else:
        text = (f"{sentence} With {n_train:,} training tweets and {steps} training steps, this run cannot tell "
                f"fine-tuning from a classical model.")
    if high is not None:
        on_high = describe_difference(high, "the fine-tuned model", best_tfidf, items="tweets")
        text += f" On the high-confidence test tweets alone, {on_high}"
    return text


def recap(*, final: str, majority: Mapping[str, float], disputed: Mapping[str, float], topics: Mapping[str, float],
          calibration: Mapping[str, float], comparisons: Mapping[str, Mapping[str, float]]) -> str:
    """The run's own conclusions, one bullet each, from the figures the sections measured.

    `disputed` has the shares of low-agreement tweets "overall" and among the "confident" mistakes; `topics` the
    "worst" and "best" topic macro-F1; `calibration` the test "nll_before", "nll_after" and "temperature".
    """
    bullets = [f"The final model was chosen on validation ({final}) and scored on the test split once."]
    bullets.append(f"Always answering the majority label is right for {majority['accuracy']:.0%} of the test tweets "
                   f"but has a macro-F1 of only {majority['macro_f1']:.3f}: accuracy flatters a model that ignores "
                   f"the rare labels.")
    if disputed["confident"] > disputed["overall"]:
        bullets.append(f"Disputed labels are over-represented among the most confident mistakes "
                       f"({disputed['confident']:.0%} against {disputed['overall']:.0%} of all test tweets).")
    else:
        bullets.append(f"In this run disputed labels are not over-represented among the most confident mistakes "
                       f"({disputed['confident']:.0%} against {disputed['overall']:.0%} of all test tweets).")
    bullets.append(f"Macro-F1 ranges from {topics['worst']:.3f} to {topics['best']:.3f} across the larger topics: "
                   f"one overall number hides that.")
    direction = "lowers" if calibration["nll_after"] < calibration["nll_before"] else "does not lower"
    bullets.append(f"A temperature fitted on validation (T = {calibration['temperature']:.2f}) changes no label and "
                   f"{direction} the test NLL ({calibration['nll_before']:.3f} to {calibration['nll_after']:.3f}).")
    ahead = [name for name, result in comparisons.items() if result["low"] > 0]
    unresolved = [name for name, result in comparisons.items() if result["low"] <= 0]
    if ahead:
        bullets.append("The fine-tuned model beats, beyond noise: " + ", ".join(f"*{n}*" for n in ahead) + ".")
    if unresolved:
        bullets.append("This run does not show it ahead of " + ", ".join(f"*{n}*" for n in unresolved)
                       + " (the interval reaches zero or below).")
    return "\n".join(f"- {bullet}" for bullet in bullets)
