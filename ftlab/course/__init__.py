"""The course around the library: the first cell of every lesson (`start_lesson`), the lessons' measured times,
the exercise generator (`exercises`), the Colab cells (`colab`), the interactive views (`widgets`) and the
exercise self-checks, one module per lesson (`checks`).

`from ftlab.course import start_lesson` is the first line of every notebook.
"""

from ftlab.course.lesson import LESSONS, lesson_times, package_versions, start_lesson, time_estimate, times_table

__all__ = ["LESSONS", "lesson_times", "package_versions", "start_lesson", "time_estimate", "times_table"]
