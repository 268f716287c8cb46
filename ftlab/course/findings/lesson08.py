"""Lesson 08's findings as sentences: the learning rate kept for each method, and how the methods compare."""

from __future__ import annotations

from typing import Mapping

from ftlab.evaluate import describe_difference


def _multiple(factor: float) -> str:
    return f"{factor:g}×"


def rate_choice(method: str, validation_f1: Mapping[float, float], chosen: float) -> str:
    """One sentence for the learning rate kept for `method` from its sweep.

    validation_f1: validation macro-F1 at each multiple of the profile's learning rate that was tried.
    chosen: the multiple kept (it must be one that was tried). When it is the smallest or the largest of several
    multiples tried, the sentence says that a rate beyond the grid might do better.
    """
    if chosen not in validation_f1:
        raise ValueError(f"chosen={chosen!r} is not among the multiples tried: {sorted(validation_f1)}")
    tried = ", ".join(f"{validation_f1[f]:.3f} at {_multiple(f)}" for f in sorted(validation_f1))
    sentence = f"**{method}**: {_multiple(chosen)} the profile's learning rate (validation macro-F1 {tried})."
    if len(validation_f1) > 1 and chosen in (min(validation_f1), max(validation_f1)):
        side = "smaller" if chosen == min(validation_f1) else "larger"
        sentence += f" It is the {side} edge of the grid tried: a {side} rate might do better still."
    return sentence


def cost_sentence(costs: Mapping[str, Mapping[str, float]], reference: str) -> str:
    """How each method's trainable weights, time per epoch and peak memory compare with `reference`'s.

    costs: for each method, "trainable", "s / epoch" and "peak memory (MB)".
    """
    if reference not in costs:
        raise ValueError(f"reference {reference!r} is not among the methods: {list(costs)}")
    base = costs[reference]
    parts = [f"{reference} trains {base['trainable']:,.0f} weights, takes {base['s / epoch']:.1f} s per epoch and "
             f"{base['peak memory (MB)']:.0f} MB of peak memory."]
    for name, cost in costs.items():
        if name == reference:
            continue
        parts.append(f"{name} trains {cost['trainable'] / base['trainable']:.2%} of its weights in "
                     f"{cost['s / epoch'] / base['s / epoch']:.0%} of its time per epoch, with "
                     f"{cost['peak memory (MB)']:.0f} MB.")
    return " ".join(parts)


def quality_summary(differences: Mapping[str, Mapping[str, float]], reference: str) -> str:
    """Each method's test macro-F1 against `reference` (paired bootstrap results of method − reference), then which
    methods this run can tell apart from it and which it cannot."""
    sentences = [describe_difference(result, name, reference) for name, result in differences.items()]
    behind = [name for name, result in differences.items() if result["high"] < 0]
    ahead = [name for name, result in differences.items() if result["low"] > 0]
    level = [name for name in differences if name not in behind and name not in ahead]
    groups = [(f"behind {reference}", behind), (f"ahead of {reference}", ahead),
              (f"not told apart from {reference} by these test tweets", level)]
    sentences.append("In short: " + "; ".join(f"{what}: {', '.join(names)}" for what, names in groups if names) + ".")
    return " ".join(sentences)


def precision_note(device: str, speed: float, bf16_flags: tuple[str, ...] | None) -> str:
    """Whether lower precision is worth it here, from its measured speed relative to float32 (`speed`, > 1 is
    faster), and on a CPU whether the processor has bfloat16 instructions (`efficient.cpu_bfloat16_flags`)."""
    worth = speed > 1.1
    if device != "cpu":
        why = ""
    elif bf16_flags:
        why = (f" This processor has bfloat16 instructions ({', '.join(bf16_flags)}), so the matrix products can run "
               f"in bfloat16{'' if worth else ', yet here the conversions around them cost as much as they save'}.")
    elif bf16_flags is None:
        why = " Whether this processor has bfloat16 instructions is not known here (no /proc/cpuinfo)."
    else:
        why = (" This processor has no bfloat16 instructions: every operation converts to float32 and back, "
               "which is why a CPU like it gains nothing.")
    verdict = "Worth using here." if worth else f"Not worth it on this {device}: stay with float32."
    return verdict + why
