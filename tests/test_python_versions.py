"""The course claims Python 3.10–3.13 (pyproject's requires-python). This machine has only 3.11, so these tests
check what can be checked here: no syntax newer than 3.10 anywhere in the package, its scripts, tests and notebooks, and the
3.10 path of the one place that uses a module 3.10 lacks (tomllib)."""

import ast
import builtins
import sys
from pathlib import Path

import pytest

from ftlab.course import colab

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted([*ROOT.glob("ftlab/**/*.py"), *ROOT.glob("scripts/*.py"), *ROOT.glob("tests/**/*.py")])


def test_requires_python_says_3_10():
    assert 'requires-python = ">=3.10"' in (ROOT / "pyproject.toml").read_text()


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_source_parses_as_python_3_10(path):
    ast.parse(path.read_text(encoding="utf-8"), filename=str(path), feature_version=(3, 10))


NOTEBOOKS = sorted([*ROOT.glob("lessons/*.ipynb"), *ROOT.glob("solutions/*.ipynb"), *ROOT.glob("exercises/*.ipynb")])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_notebook_code_parses_as_python_3_10(path):
    import nbformat

    cells = [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
    assert cells
    for cell in cells:
        code = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in cell.source.splitlines())
        ast.parse(code, filename=f"{path.name} cell {cell.get('id')}", feature_version=(3, 10))


def test_python_3_10_syntax_check_is_not_a_no_op():
    with pytest.raises(SyntaxError):
        ast.parse("try:\n    pass\nexcept* ValueError:\n    pass\n", feature_version=(3, 10))


def test_repository_url_without_tomllib(monkeypatch):
    """Python 3.10 has no tomllib: the URL is then read with a regular expression, and must be the same."""
    expected = colab.repository_url(ROOT)
    real_import = builtins.__import__

    def no_tomllib(name, *args, **kwargs):
        if name == "tomllib":
            raise ImportError("No module named 'tomllib'")
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "tomllib", raising=False)
    monkeypatch.setattr(builtins, "__import__", no_tomllib)
    assert colab.repository_url(ROOT) == expected
