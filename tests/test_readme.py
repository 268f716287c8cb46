"""The README states the profiles; it must say what ftlab/config.py holds."""

import re
from pathlib import Path

from ftlab.config import PROFILES

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def _count(n):
    return "all" if n is None else f"{n:,}"


def test_profile_table_matches_the_config():
    for name, p in PROFILES.items():
        row = re.search(rf"^\| `{name}`[^|]*\|[^|]*\|(.*)$", README, re.MULTILINE)
        assert row, f"README has no row for the {name} profile"
        cells = [c.strip() for c in row.group(1).strip(" |").split("|")]
        expected = [_count(p.n_train), _count(p.n_eval), str(p.epochs), str(p.batch_size),
                    f"{p.learning_rate:.0e}".replace("e-0", "e-"), str(p.max_length)]
        assert cells == expected, f"README row for {name}: {cells}, config says {expected}"


def test_time_table_is_the_measured_one():
    from ftlab.course import times_table

    assert times_table() in README, ("the README's table of lesson times differs from ftlab/course/lesson_times.json: "
                                     "paste the output of  python -c 'from ftlab.course import times_table; "
                                     "print(times_table())'")


def test_every_lesson_is_in_the_readme_and_has_its_notebooks():
    from ftlab.course import LESSONS

    root = Path(__file__).resolve().parents[1]
    for name in LESSONS:
        number = name[:2]
        assert re.search(rf"^\| {number} \| `{name}` \|", README, re.MULTILINE), f"README lists no lesson {name}"
        assert (root / "lessons" / f"{name}.ipynb").is_file()
        if number != "00":
            assert (root / "solutions" / f"{name}.ipynb").is_file()
            assert (root / "exercises" / f"{name}.ipynb").is_file()


def test_the_teaching_guide_has_the_measured_times_and_every_lesson():
    from ftlab.course import LESSONS, times_table

    guide = (Path(__file__).resolve().parents[1] / "docs" / "teaching.md").read_text(encoding="utf-8")
    assert times_table() in guide, "docs/teaching.md's time table differs from ftlab/course/lesson_times.json"
    for name in LESSONS:
        assert re.search(rf"^### {name[:2]} · ", guide, re.MULTILINE), f"docs/teaching.md has no section for {name}"
