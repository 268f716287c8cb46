"""Lesson 06's sentences built from its runs: which differences are clear, what the curves and tables show.

Each function takes numbers the notebook computed and returns Markdown, so the notebook's cells show the
experiment and one call, and the wording can be tested here. A difference is *clear* when its paired bootstrap
interval excludes zero (the test items could not produce it by chance) and it is larger than the lesson's noise
floor (what another seed alone could produce).
"""

from __future__ import annotations

from typing import Mapping

import pandas as pd

from ftlab.evaluate import describe_difference


def is_clear(result: Mapping[str, float], noise_floor: float) -> bool:
    """True when a `paired_bootstrap` result's interval excludes zero and the difference exceeds `noise_floor`."""
    if noise_floor < 0:
        raise ValueError(f"noise_floor is a size of a difference, at least 0; got {noise_floor}")
    excludes_zero = result["low"] > 0 or result["high"] < 0
    return bool(excludes_zero and abs(result["difference"]) > noise_floor)


def compare(result: Mapping[str, float], first: str, second: str, noise_floor: float,
            score: str = "macro-F1") -> str:
    """`describe_difference` of first minus second, then whether the difference also beats another seed's chance."""
    sentence = describe_difference(dict(result), first, second, score)
    if not (result["low"] > 0 or result["high"] < 0):
        return sentence
    floor = 100 * noise_floor
    if is_clear(result, noise_floor):
        return sentence + f" It is also larger than the noise floor ({floor:.1f} points): a clear difference."
    return (sentence + f" But another seed alone can move a run that much (noise floor {floor:.1f} points): "
            "not a clear difference.")


def data_efficiency(pretrained: Mapping[int, float], scratch: Mapping[int, float]) -> str:
    """How many tweets the network from scratch needed to reach the pretrained encoder's score on the fewest."""
    if not pretrained or not scratch:
        raise ValueError("give at least one size for each start (pretrained and from scratch)")
    smallest = min(pretrained)
    target = pretrained[smallest]
    matched = sorted(n for n, value in scratch.items() if value >= target)
    if matched:
        found = (f"the network from scratch first matched it with **{matched[0]:,}** tweets "
                 f"({matched[0] / smallest:.0f}× as many)")
    else:
        largest = max(scratch)
        found = (f"the network from scratch did not match it even with **{largest:,}** tweets "
                 f"({largest / smallest:.0f}× as many; it reached {scratch[largest]:.3f})")
    return f"The pretrained encoder reached macro-F1 **{target:.3f}** with {smallest:,} tweets; {found}."


def memorisation(table: pd.DataFrame, loss_gap: float = 0.1) -> str:
    """Compare the smallest and largest run of a `run_table`: lower training loss but a lower test score?"""
    low, high = min(table.index), max(table.index)
    loss, score = table["final training loss"], table["test macro_f1"]
    sentence = (f"The run on **{low:,}** tweets ends with a training loss of **{loss[low]:.2f}** and scores "
                f"{score[low]:.3f} on the test tweets; the run on **{high:,}** ends at {loss[high]:.2f} and "
                f"scores {score[high]:.3f}. ")
    if loss[low] < loss[high] - loss_gap and score[low] < score[high]:
        return sentence + ("A clearly lower training loss with a lower test score: the small set was partly "
                           "learnt by heart, section 3's subject.")
    return sentence + "The training losses alone do not tell which run generalises better: only the test score does."


def label_noise(share: float, clean_score: float, noisy_score: float, hurt: Mapping[str, float],
                removed: float, dropped: float, filtered: Mapping[str, float], noise_floor: float) -> str:
    """What wrong labels cost, and what the agreement filter changed (both with their intervals)."""
    return (f"With **{share:.0%}** of the training labels wrong, test macro-F1 went from **{clean_score:.3f}** to "
            f"**{noisy_score:.3f}**. "
            + compare(hurt, "Training on the right labels", f"training with {share:.0%} wrong ones", noise_floor)
            + f" The agreement filter removed **{removed:.0%}** of the wrong labels along with {dropped:.0%} of the "
            "tweets; that it finds them follows from where this simulation put the errors, so it is no finding. "
            "What it did to the score is one: "
            + compare(filtered, "Training on the filtered tweets", "training on all of them", noise_floor))


def keeps_more(results: Mapping[str, Mapping[str, float]], reference: str = "full fine-tuning") -> str:
    """Which gentler methods kept clearly more similarity skill than `reference` (skill_difference results)."""
    if not results:
        return f"Only {reference} was run here, so no gentler method can be compared with it."
    more = [name for name, r in results.items() if r["low"] > 0]
    less = [name for name, r in results.items() if r["high"] < 0]
    unclear = [name for name in results if name not in more and name not in less]
    parts = []
    if more:
        parts.append(f"{' and '.join(more)} kept clearly more of the similarity skill than {reference}")
    if less:
        parts.append(f"{' and '.join(less)} kept clearly less")
    if unclear:
        parts.append(f"for {' and '.join(unclear)} the difference from {reference} is within noise")
    text = "; ".join(parts)
    return text[0].upper() + text[1:] + "."
