"""Self-checks for the exercise notebooks: they say what is wrong and how to look for it.

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
