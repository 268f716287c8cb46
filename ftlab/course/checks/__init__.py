"""Exercise self-checks, one module per lesson (`from ftlab.course.checks import lesson04 as checks`).

Every check raises :class:`ExerciseCheckError` (an AssertionError) with a message written for the learner, or
prints a line starting with a check mark when the answer is right. `core` holds what the lessons share.
"""

from ftlab.course.checks.core import ExerciseCheckError

__all__ = ["ExerciseCheckError"]
