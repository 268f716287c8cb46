"""The core every lesson's exercise checks share: the error a learner sees, and safe calls into their code.

Every check raises :class:`ExerciseCheckError` (an AssertionError) with a message written for the
learner, or prints a line starting with a check mark when the answer is right.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np


class ExerciseCheckError(AssertionError):
    """An exercise answer is not right yet; the message says what is wrong."""


def require(condition: bool, message: str) -> None:
    """Raise ExerciseCheckError(message) unless `condition` holds."""
    if not condition:
        raise ExerciseCheckError(message)


def passed(message: str) -> None:
    """Tell the learner that a check passed."""
    print(f"\u2714 {message}")


def call_safely(function: Callable, *args: Any, what: str) -> Any:
    """Call the learner's function; turn an unfinished stub or a crash into a readable message."""
    try:
        return function(*args)
    except NotImplementedError:
        raise ExerciseCheckError(f"{what} is not written yet: replace the `raise NotImplementedError` line "
                                 f"with your code and run its cell again") from None
    except ExerciseCheckError:
        raise
    except Exception as err:
        raise ExerciseCheckError(f"{what} raised {type(err).__name__}: {err}") from err


def as_array(value: Any, what: str) -> np.ndarray:
    """Convert the learner's value to a numpy array, with a clear error if that is impossible."""
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    try:
        return np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ExerciseCheckError(f"{what} should be numbers (a list, numpy array or tensor), "
                                 f"got {type(value).__name__}") from None


def tiny_classifier(seed: int = 0):
    """A 1-layer BERT classifier small enough to train in milliseconds (lessons 03 and 08)."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(seed)
    config = BertConfig(vocab_size=60, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, num_labels=3, hidden_dropout_prob=0.0,
                        attention_probs_dropout_prob=0.0)
    return BertForSequenceClassification(config)
