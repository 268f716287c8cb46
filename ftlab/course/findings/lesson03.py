"""Lesson 03's sentences: two models compared on the same validation tweets.

The notebook computes the paired bootstrap; this turns it into the sentence it shows, so the wording is tested here.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from ftlab.evaluate import describe_difference


def on_validation(result: Mapping[str, float], better: str, worse: str) -> str:
    """`evaluate.describe_difference` for a paired bootstrap on validation tweets.

    Give the names as they read inside a sentence ("the Trainer"); the sentence's first letter is capitalised.
    """
    text = describe_difference(dict(result), better, worse, items="validation tweets")
    return text[:1].upper() + text[1:]


def same_recipe(result: Mapping[str, float], pred_a, pred_b, a: str = "the Trainer",
                b: str = "the plain loop") -> str:
    """Two implementations of one recipe: their difference on validation, and how often they predict the same label."""
    pred_a, pred_b = np.asarray(pred_a), np.asarray(pred_b)
    if pred_a.shape != pred_b.shape or pred_a.ndim != 1:
        raise ValueError(f"pred_a and pred_b must be predictions for the same tweets, got shapes {pred_a.shape} and "
                         f"{pred_b.shape}")
    agree = float(np.mean(pred_a == pred_b))
    return (f"{on_validation(result, a, b)} The two models predict the same label for {agree:.0%} of the "
            f"validation tweets.")
