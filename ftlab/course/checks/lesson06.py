"""Self-checks for lesson 06's exercises (overfitting pitfalls): each says what is wrong and how to look for it."""

from __future__ import annotations

from typing import Callable

import numpy as np

from ftlab.config import seeds
from ftlab.course.checks.core import ExerciseCheckError, as_array, call_safely, passed, require


def _early_stopping_cases() -> list[tuple[list[float], int, bool, tuple[int, int], str]]:
    return [
        ([0.50, 0.55, 0.60, 0.58, 0.57, 0.61], 2, True, (3, 5), "the score peaks at epoch 3 and then falls twice"),
        ([0.50, 0.55, 0.60, 0.58, 0.61, 0.59], 2, True, (5, 6), "an improvement after one bad epoch resets the wait"),
        ([0.50, 0.50, 0.50, 0.50], 2, True, (1, 3), "an equal value is not an improvement"),
        ([0.40, 0.45, 0.50], 1, True, (3, 3), "the score improves every epoch: train to the end"),
        ([1.00, 0.90, 0.95, 0.97, 0.80], 2, False, (2, 4), "for a loss, lower is better"),
        ([0.70], 3, True, (1, 1), "a single epoch"),
    ]


def check_early_stopping(early_stopping: Callable) -> None:
    """Exercise 06.1: `early_stopping(values, patience, higher_is_better)` gives (best epoch, stop epoch)."""
    for values, patience, higher, want, why in _early_stopping_cases():
        got = call_safely(early_stopping, list(values), patience, higher,
                          what=f"early_stopping({values}, patience={patience}, higher_is_better={higher})")
        require(isinstance(got, tuple) and len(got) == 2,
                f"early_stopping should return a pair (best_epoch, stop_epoch), got {got!r}")
        best, stop = (int(x) for x in got)
        if (best, stop) == want:
            continue
        hint = why
        if (best - 1, stop - 1) == want or (best + 1, stop + 1) == want:
            hint = "epochs are counted from 1 (the first value is epoch 1): check for an off-by-one"
        raise ExerciseCheckError(
            f"for validation values {values} with patience {patience} "
            f"({'higher' if higher else 'lower'} is better) the answer is best epoch {want[0]}, stop after epoch "
            f"{want[1]}; got ({best}, {stop}). Hint: {hint}")
    passed("early_stopping finds the best epoch and stops after `patience` epochs without improvement")


def check_flip_uniform(flip_uniform: Callable) -> None:
    """Exercise 06.2: `flip_uniform(labels, share, seed)` flips exactly that share, each to another class."""
    labels = np.array([0, 1, 2] * 200)
    before = labels.copy()
    seed, other_seed = seeds(2)
    noisy = as_array(call_safely(flip_uniform, labels, 0.3, seed, what=f"flip_uniform(labels, 0.3, seed={seed})"),
                     "flip_uniform's result")
    require(np.array_equal(labels, before), "flip_uniform changed the array it was given: change a copy")
    require(noisy.shape == labels.shape, f"the result should have one label per input label, shape {labels.shape}; "
                                         f"got shape {noisy.shape}")
    require(set(np.unique(noisy)) <= {0, 1, 2}, "every new label must be one of the classes 0, 1, 2")
    changed = noisy != labels
    require(changed.sum() == 180, f"30% of 600 labels is exactly 180 changed labels; got {changed.sum()}. Pick "
                                  f"the examples to flip without replacement and give each a different class")
    moved_to = noisy[changed]
    counts = np.bincount(moved_to.astype(int), minlength=3)
    require(counts.min() > 30, f"the wrong labels should be spread over the other classes at random; new labels "
                               f"per class {counts.tolist()}")
    chosen = np.flatnonzero(changed)
    require(chosen.min() < 100 and chosen.max() > 500, "the flipped examples should be spread over the whole array, "
                                                       "not taken from its start or end")
    again = as_array(call_safely(flip_uniform, labels, 0.3, seed, what=f"flip_uniform(labels, 0.3, seed={seed})"), "")
    require(np.array_equal(again, noisy), "the same seed must give the same noisy labels: use "
                                          "np.random.default_rng(seed) inside the function")
    other = as_array(call_safely(flip_uniform, labels, 0.3, other_seed,
                                 what=f"flip_uniform(labels, 0.3, seed={other_seed})"), "")
    require(not np.array_equal(other, noisy), "another seed should flip other examples")
    none = as_array(call_safely(flip_uniform, labels, 0.0, seed, what=f"flip_uniform(labels, 0.0, seed={seed})"), "")
    require(np.array_equal(none, labels), "a share of 0 must leave every label as it was")
    passed("flip_uniform flips exactly the share asked for, each to another class, reproducibly")


def check_break_even(break_even: Callable) -> None:
    """Exercise 06.3: `break_even(levels, without, with_)` is where filtering starts to pay (interpolated)."""
    cases = [
        ([0.0, 0.1, 0.3], [0.60, 0.55, 0.40], [0.55, 0.54, 0.50], 0.1 + 0.2 * 0.01 / 0.11,
         "the difference (with − without) goes from −0.01 at 10% to +0.10 at 30%: interpolate linearly between them"),
        ([0.0, 0.2], [0.50, 0.40], [0.55, 0.45], 0.0, "filtering already pays at the first level"),
        ([0.0, 0.2, 0.4], [0.60, 0.50, 0.40], [0.50, 0.45, 0.39], None, "filtering never pays: return None"),
        ([0.3, 0.0, 0.1], [0.40, 0.60, 0.55], [0.50, 0.55, 0.54], 0.1 + 0.2 * 0.01 / 0.11,
         "the levels can come in any order: sort them first"),
    ]
    for levels, without, with_, want, why in cases:
        got = call_safely(break_even, list(levels), list(without), list(with_),
                          what=f"break_even({levels}, {without}, {with_})")
        if want is None:
            require(got is None, f"break_even({levels}, {without}, {with_}) should be None ({why}); got {got!r}")
            continue
        require(got is not None and np.isclose(float(got), want, atol=1e-6),
                f"break_even({levels}, {without}, {with_}) should be {want:.4f}; got {got!r}. Hint: {why}")
    passed("break_even finds where filtering starts to pay")
