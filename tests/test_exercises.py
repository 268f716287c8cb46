from pathlib import Path

import nbformat
import pytest

from ftlab.course.exercises import build, make_exercise, make_stub_source

ROOT = Path(__file__).resolve().parents[1]


def test_exercises_are_exactly_what_the_generator_makes():
    differing = build(ROOT / "solutions", ROOT / "exercises", check=True)
    assert differing == [], f"run `python -m ftlab.course.exercises` to regenerate: {differing}"


def test_every_lesson_after_00_has_a_solution_and_an_exercise():
    lessons = sorted(p.name for p in (ROOT / "lessons").glob("*.ipynb") if not p.name.startswith("00_"))
    assert lessons, "no lessons found"
    assert sorted(p.name for p in (ROOT / "solutions").glob("*.ipynb")) == lessons
    assert sorted(p.name for p in (ROOT / "exercises").glob("*.ipynb")) == lessons


def test_committed_notebooks_have_no_outputs():
    for folder in ("lessons", "solutions", "exercises"):
        for path in (ROOT / folder).glob("*.ipynb"):
            nb = nbformat.read(path, as_version=4)
            stored = [c for c in nb.cells if c.cell_type == "code" and (c.outputs or c.execution_count)]
            assert not stored, f"{path.name} is committed with outputs: clear them"


def test_exercise_notebooks_start_quiet_and_keep_no_answer():
    for path in (ROOT / "exercises").glob("*.ipynb"):
        nb = nbformat.read(path, as_version=4)
        code = [c.source for c in nb.cells if c.cell_type == "code"]
        assert any("%xmode Minimal" in src for src in code[:3]), f"{path.name}: add %xmode Minimal"
        assert not any("BEGIN SOLUTION" in src for src in code)
        assert sum("raise NotImplementedError" in src for src in code) >= 3, f"{path.name}: fewer than 3 tasks"


def test_stub_keeps_indentation_and_numbers_blocks():
    source = "def f(x):\n    # BEGIN SOLUTION\n    return x + 1\n    # END SOLUTION\n\n# BEGIN SOLUTION\ny = 2\n# END SOLUTION"
    counter = [0]
    stub = make_stub_source(source, "demo", counter)
    assert counter == [2]
    assert "return x + 1" not in stub and "y = 2" not in stub
    assert '    raise NotImplementedError("Exercise 1 of demo' in stub
    assert '\nraise NotImplementedError("Exercise 2 of demo' in stub
    namespace: dict = {}
    exec(stub.split("\n# Your code here.\nraise")[0], namespace)
    with pytest.raises(NotImplementedError, match="Exercise 1 of demo is not done yet"):
        namespace["f"](1)


def test_each_stub_names_the_exercise_of_its_section():
    from ftlab.course.exercises import block_names

    cells = [nbformat.v4.new_markdown_cell("# Title\n## Setup"), nbformat.v4.new_code_cell("import x"),
             nbformat.v4.new_markdown_cell("## Exercise 1 · A function"),
             nbformat.v4.new_code_cell("# BEGIN SOLUTION\na = 1\n# END SOLUTION"),
             nbformat.v4.new_markdown_cell("## 2. A prediction, then a measurement\n### Predict"),
             nbformat.v4.new_code_cell("# BEGIN SOLUTION\nguess = 1\n# END SOLUTION"),
             nbformat.v4.new_markdown_cell("### Measure"),
             nbformat.v4.new_code_cell("# BEGIN SOLUTION\nb = 2\n# END SOLUTION\n# BEGIN SOLUTION\nc = 3\n# END SOLUTION")]
    assert block_names(cells) == ["Exercise 1", "Exercise 2 (part 1 of 3)", "Exercise 2 (part 2 of 3)",
                                  "Exercise 2 (part 3 of 3)"]
    stub = make_stub_source(cells[-1].source, "demo", [0], iter(block_names(cells)[2:]))
    assert '"Exercise 2 (part 2 of 3) of demo is not done yet' in stub and '"Exercise 2 (part 3 of 3) of demo' in stub


def test_unbalanced_markers_are_errors():
    with pytest.raises(ValueError, match="never closed"):
        make_stub_source("# BEGIN SOLUTION\nx = 1", "demo", [0])
    with pytest.raises(ValueError, match="without a"):
        make_stub_source("x = 1\n# END SOLUTION", "demo", [0])


def test_a_solution_without_blocks_is_refused(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    path = tmp_path / "09_none.ipynb"
    nbformat.write(nb, path)
    with pytest.raises(ValueError, match="no '# BEGIN SOLUTION' block"):
        make_exercise(path)
