"""Lesson 07's computed sentences: what the pretrained model was trained on, what accents cost, and the choices
made on validation (decoding, masking) with their uncertainty, the test score, and forgetting."""

from __future__ import annotations

import math
from typing import Mapping


def _interval(result: Mapping[str, float], unit: str, items: str) -> str:
    return (f"{result['confidence']:.0%} interval {result['low']:+.1f} to {result['high']:+.1f} {unit}, "
            f"{result['n_items']:,} {items}")


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def chrf_difference(result: Mapping[str, float], a: str, b: str, items: str = "validation pairs") -> str:
    """One sentence for a `generative.paired_bootstrap_chrf` result of `a` minus `b` (chrF points, 0–100)."""
    interval = _interval(result, "points", items)
    if result["low"] > 0:
        return _sentence(f"{a} beats {b} by {result['difference']:.1f} chrF points ({interval}).")
    if result["high"] < 0:  # said the other way round, so the interval is of b minus a
        flipped = {**result, "low": -result["high"], "high": -result["low"]}
        return _sentence(f"{b} beats {a} by {-result['difference']:.1f} chrF points "
                         f"({_interval(flipped, 'points', items)}).")
    return _sentence(f"{a} and {b} differ by {result['difference']:+.1f} chrF points, within noise: the interval "
                     f"contains zero ({interval}).")


def pretraining(model: str, n_parameters: int, recipe: Mapping | None) -> str:
    """What the pretrained model is made of: its parameters and, when its folder records it, its training text."""
    size = f"{n_parameters / 1e6:.1f} million parameters"
    if not recipe or "training_tokens" not in recipe:
        return (f"{model}: {size}; its folder records no pretraining corpus (its model card says what it read), "
                f"so the size of its training text is not shown here.")
    tokens = recipe["training_tokens"]
    seen = recipe["steps"] * recipe["tokens_per_step"] if {"steps", "tokens_per_step"} <= set(recipe) else None
    passes = f", read {seen / tokens:.1f} times over" if seen else ""
    return (f"{model}: {size}, pretrained on {tokens / 1e6:.1f} million tokens of text{passes}. That much buys "
            f"English in the style of its books, grammatical over a few words, without sense over a sentence.")


def accent_cost(letter_tokens: Mapping[str, int], letter_bytes: Mapping[str, int], accented: float,
                plain: float) -> str:
    """What French accents cost this tokenizer: tokens per accented letter, and per word with and without accents.

    `letter_tokens` and `letter_bytes` map each accented letter to its tokens and UTF-8 bytes; `accented` and
    `plain` are the mean tokens of the accented words and of the same words with the accents removed.
    """
    if not letter_tokens:
        return "The phrasebook's French has no accented letter, so accents cost this tokenizer nothing here."
    letters = ", ".join(sorted(letter_tokens))
    counts = sorted(set(letter_tokens.values()))
    per_letter = (f"{counts[0]} token{'s' if counts[0] != 1 else ''}" if len(counts) == 1
                  else f"{counts[0]} to {counts[-1]} tokens")
    n_bytes = sorted(set(letter_bytes.values()))
    byte_text = f"{n_bytes[0]} bytes" if len(n_bytes) == 1 else f"{n_bytes[0]} to {n_bytes[-1]} bytes"
    return (f"Each accented letter of the phrasebook ({letters}) is {byte_text} in UTF-8, and this tokenizer writes "
            f"it as {per_letter}: byte-level BPE never needs more tokens than bytes. The accent also breaks the "
            f"merges around it: an accented word takes {accented:.1f} tokens on average, the same word without its "
            f"accents {plain:.1f}.")


def decoding_choice(validation_chrf: Mapping[str, float], chosen: str, best_sampled: str,
                    versus_greedy: Mapping[str, float]) -> str:
    """The decoding chosen on validation, and how the best sampled setting compares with greedy there."""
    if chosen != max(validation_chrf, key=validation_chrf.get):
        raise ValueError(f"{chosen!r} is not the setting with the highest validation chrF: choose by validation")
    return (f"Chosen on validation: **{chosen}** (chrF {validation_chrf[chosen]:.1f}). "
            + chrf_difference(versus_greedy, best_sampled, "greedy"))


def masking_choice(masked_minus_unmasked: Mapping[str, float], chosen: str) -> str:
    """The labels chosen on validation (prompt masked or not), with the uncertainty of the difference."""
    if chosen not in ("prompt masked", "not masked"):
        raise ValueError(f"chosen must be 'prompt masked' or 'not masked', got {chosen!r}")
    ahead = "prompt masked" if masked_minus_unmasked["difference"] >= 0 else "not masked"
    if chosen != ahead:
        raise ValueError(f"{chosen!r} is behind on validation: choose the labels with the higher validation chrF")
    sentence = chrf_difference(masked_minus_unmasked, "the prompt-masked model", "the unmasked model")
    noise = masked_minus_unmasked["low"] <= 0 <= masked_minus_unmasked["high"]
    why = (" The choice goes to the one ahead, but another seed could reverse it." if noise else "")
    return f"{sentence} Kept for the test: **{chosen}**.{why}"


def test_result(chosen: str, before: float, after: float, gain: Mapping[str, float]) -> str:
    """The one test score of the chosen settings against the pretrained model on the same test pairs."""
    return (f"On the test pairings, scored once: chrF **{before:.1f} → {after:.1f}** ({chosen}). "
            + chrf_difference(gain, "the fine-tuned model", "the pretrained one", items="test pairs"))


def forgetting(loss_masked_minus_unmasked: Mapping[str, Mapping[str, float]]) -> str:
    """Whether the unmasked model forgets less, per prose source, from a `paired_bootstrap_mean` of window losses.

    A difference of mean loss d (nats per token) is a perplexity ratio e^d: above 1, the masked model is the more
    surprised by English prose, i.e. it forgot more.
    """
    parts = []
    for source, result in loss_masked_minus_unmasked.items():
        ratio, low, high = (math.exp(result[key]) for key in ("difference", "low", "high"))
        interval = f"{result['confidence']:.0%} interval {low:.2f} to {high:.2f}, {result['n_items']} windows"
        if result["low"] > 0:
            verdict = "the unmasked model forgot less"
        elif result["high"] < 0:
            verdict = "the unmasked model forgot more"
        else:
            verdict = "within noise: the interval contains 1"
        parts.append(f"on {source}, the masked model's perplexity is {ratio:.2f} times the unmasked one's "
                     f"({interval}): {verdict}")
    return "Window by window, " + "; ".join(parts) + "."
