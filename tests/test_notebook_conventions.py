"""Conventions of the course's notebooks that a machine can check.

1. Every code cell of a lesson comes after Markdown: no code cell follows a code cell, so each step says why first.
2. Lesson, exercise and solution prose holds no hand-typed measurements. A figure that a run produces (a score, a
   time, a size, a count of the data) must come from code, e.g. a `say(f"...")` cell. The rule, applied to Markdown
   cells outside code spans, code blocks and formulas: a decimal (0.05, 22.7), a number with thousands separators
   (1,500), a whole number of four digits or more (other than a year 1900–2099), a percentage (12 %), a multiple
   (6×, "six times faster"), and the magnitude words tens, hundred, thousand, million and billion are figures.
   A figure that is a definition (a threshold the lesson sets, a size in bytes of a number format) is listed in the
   Markdown cell's metadata as `"ftlab": {"defined_figures": ["0.5", ...]}`, each one a string as written.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p for folder in ("lessons", "solutions", "exercises") for p in (ROOT / folder).glob("*.ipynb"))

_HIDDEN = re.compile(r"```.*?```|`[^`\n]*`|\$\$.*?\$\$|\$[^$\n]+\$|<[^>\n]+>|\]\([^)\n]*\)|https?://\S+", re.S)
_SPELLED = r"(?:one|two|three|four|five|six|seven|eight|nine|ten|twenty|thirty|forty|fifty|hundred)"
_FIGURES = re.compile(
    r"(?<![\w.])\d+\.\d+(?![\w.])"  # a decimal
    r"|(?<![\w.,])\d{1,3}(?:,\d{3})+(?![\w,])"  # thousands separators
    r"|(?<![\w.,])\d{4,}(?![\w,.])"  # four digits or more (years are let through below)
    r"|(?<![\w.])\d+(?:\.\d+)?\s?%"  # a percentage
    r"|(?<![\w.])\d+(?:\.\d+)?\s?×(?!\s?\d)"  # a multiple, 6× (not a shape such as 30 × 384)
    rf"|\b(?:\d+|{_SPELLED})\s+times\s+(?:faster|slower|larger|smaller|bigger|more|fewer|less|as)\b"
    r"|\b(?:twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundreds?|thousands?|millions?|billions?)\b",
    re.I)


def figures_in(markdown: str) -> list[str]:
    """The hand-typed figures in one Markdown cell's text, by the rule in this module's docstring."""
    found = []
    for match in _FIGURES.finditer(_HIDDEN.sub(" ", markdown)):
        text = match.group(0)
        if text.isdigit() and len(text) == 4 and 1900 <= int(text) <= 2099:
            continue
        found.append(text)
    return found


def prose_figures(path: Path) -> list[str]:
    problems = []
    for index, cell in enumerate(nbformat.read(path, as_version=4).cells):
        if cell.cell_type != "markdown":
            continue
        defined = set(cell.get("metadata", {}).get("ftlab", {}).get("defined_figures", []))
        for figure in figures_in(cell.source):
            if figure not in defined:
                problems.append(f"{path.parent.name}/{path.name} cell {index}: {figure!r}")
    return problems


def code_after_code(path: Path) -> list[str]:
    cells = nbformat.read(path, as_version=4).cells
    return [f"{path.parent.name}/{path.name} cell {i}" for i in range(1, len(cells))
            if cells[i].cell_type == "code" and cells[i - 1].cell_type == "code"]


@pytest.mark.parametrize("path", sorted((ROOT / "lessons").glob("*.ipynb")), ids=lambda p: p.stem)
def test_every_code_cell_of_a_lesson_follows_markdown(path):
    places = code_after_code(path)
    assert not places, ("a code cell follows a code cell; add a Markdown cell that says why the second step is "
                        "taken, or merge them if they are one step: " + ", ".join(places))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_prose_holds_no_hand_typed_figures(path):
    problems = prose_figures(path)
    assert not problems, ("a figure in Markdown that no code computes; print it from the run (say(f'...')), drop "
                          "it, or list it under metadata ftlab.defined_figures when it is a definition: "
                          + "; ".join(problems))


@pytest.mark.parametrize("text, expected", [
    ("macro-F1 rose to 0.71 after two epochs", ["0.71"]),
    ("about a thousand tweets", ["thousand"]),
    ("about thirty models", ["thirty"]),
    ("1,500 tweets and 6924 more", ["1,500", "6924"]),
    ("it is about six times faster", ["six times faster"]),
    ("fell by 12 % and ran 3× quicker", ["12 %", "3×"]),
    ("22.7 million weights", ["22.7", "million"]),
])
def test_the_figure_rule_finds_typed_figures(text, expected):
    assert figures_in(text) == expected


@pytest.mark.parametrize("text", [
    "the `0.05` threshold in code", "six layers, two processes, 64 tokens, seed 42", "in August 2026",
    "a matrix of 30 × 384", "$p = 0.5$", "section 3, step 4", "[docs](https://example.org/v4.57.1/page)",
    "```python\nx = 1.5\n```",
])
def test_the_figure_rule_lets_definitions_and_code_through(text):
    assert figures_in(text) == []


def test_the_conventions_fail_on_a_bad_notebook(tmp_path):
    bad = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("We load the model."),
        nbformat.v4.new_code_cell("x = 1"),
        nbformat.v4.new_code_cell("y = 2"),
        nbformat.v4.new_markdown_cell("Accuracy was 0.83 on about a thousand tweets."),
        nbformat.v4.new_markdown_cell("Tweets below 0.5 agreement are dropped.",
                                      metadata={"ftlab": {"defined_figures": ["0.5"]}}),
    ])
    path = tmp_path / "lessons" / "99_bad.ipynb"
    path.parent.mkdir()
    nbformat.write(bad, path)
    assert code_after_code(path) == ["lessons/99_bad.ipynb cell 2"]
    assert prose_figures(path) == ["lessons/99_bad.ipynb cell 3: '0.83'", "lessons/99_bad.ipynb cell 3: 'thousand'"]
