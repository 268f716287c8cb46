"""The package's shape: layers that only import downwards (import-linter), short modules, and docs that match the tree.

The layering is checked on the real package, and on a copy with one wrong import added, to show the check bites.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import ftlab

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "ftlab"
LINT = [sys.executable, "-c",
        "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"]
MAX_LINES = 400
MAX_TOP_LEVEL_MODULES = 8


def lint(package_parent: Path, config: Path) -> subprocess.CompletedProcess:
    """Run import-linter on the `ftlab` found in `package_parent` with the contracts in `config`."""
    env = {**os.environ, "PYTHONPATH": str(package_parent), "COLUMNS": "300"}  # one line per contract
    return subprocess.run([*LINT, "--config", str(config), "--no-cache"], cwd=package_parent, env=env,
                          capture_output=True, text=True, timeout=300)


def copy_package(tmp_path: Path) -> Path:
    """A copy of ftlab's Python files (not its weights) and of pyproject.toml, in tmp_path."""
    shutil.copytree(PACKAGE, tmp_path / "ftlab", ignore=shutil.ignore_patterns("weights", "__pycache__", "*.json"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_layering_contracts_hold():
    result = lint(ROOT, ROOT / "pyproject.toml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize("module, wrong_import, broken", [
    ("models.py", "from ftlab.serving import app", "layers"),  # the library reaching up into the service
    ("config.py", "import ftlab.cli", "layers"),  # the bottom layer importing the top
    ("labs/pitfalls.py", "from ftlab.serving import card", "layers"),  # two parts of one layer that must not meet
    ("course/checks/lesson03.py", "from ftlab.course.checks import lesson02", "stand alone"),
])
def test_a_wrong_import_breaks_a_contract(tmp_path, module, wrong_import, broken):
    parent = copy_package(tmp_path)
    target = parent / "ftlab" / module
    target.write_text(target.read_text(encoding="utf-8") + f"\n\ndef _wrong():\n    {wrong_import}\n",
                      encoding="utf-8")
    result = lint(parent, parent / "pyproject.toml")
    assert result.returncode != 0, f"adding `{wrong_import}` to {module} did not break a contract:\n{result.stdout}"
    assert "1 broken" in result.stdout
    assert any(broken in line for line in result.stdout.splitlines() if line.rstrip().endswith("BROKEN"))
    assert wrong_import.split()[-1] in result.stdout  # the report names the import that broke it


def python_files() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_no_module_is_longer_than_a_sitting():
    long = {str(p.relative_to(ROOT)): n for p in python_files()
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert long == {}, f"modules over {MAX_LINES} lines: split them by job"


def top_level() -> tuple[list[str], list[str]]:
    modules = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__")
    packages = sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file())
    return modules, packages


def test_few_modules_at_the_top():
    modules, packages = top_level()
    assert len(modules) <= MAX_TOP_LEVEL_MODULES, modules
    assert packages == ["course", "labs", "serving", "training"]


def test_imports_of_siblings_sit_at_the_top_of_each_module():
    """ftlab's own modules are imported at module level, so the dependency graph can be read off the first lines."""
    hidden = []
    for path in python_files():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for inner in ast.walk(node):
                    if isinstance(inner, ast.ImportFrom) and (inner.module or "").startswith("ftlab"):
                        hidden.append(f"{path.relative_to(ROOT)}:{inner.lineno}")
                    if isinstance(inner, ast.Import) and any(a.name.startswith("ftlab") for a in inner.names):
                        hidden.append(f"{path.relative_to(ROOT)}:{inner.lineno}")
    assert hidden == []


def documented_modules(text: str) -> set[str]:
    return set(re.findall(r"`(ftlab(?:\.\w+)+)`", text))


def tree_modules() -> set[str]:
    names = set()
    for path in python_files():
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if len(parts) > 1:
            names.add(".".join(parts))
    return names


def test_the_readme_module_table_matches_the_tree():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("## The package", 1)[1].split("\n## ", 1)[0]
    rows = set()
    for first, last in re.findall(r"^\| [\w ]+ \| `(ftlab(?:\.\w+)+)`(?: … `(ftlab(?:\.\w+)+)`)? \|", table, re.M):
        rows.add(first)
        if last:  # a range such as `ftlab.course.checks.lesson01` … `ftlab.course.checks.lesson08`
            stem, low, high = re.match(r"(.*?)(\d+)$", first).group(1), int(first[-2:]), int(last[-2:])
            rows |= {f"{stem}{n:02d}" for n in range(low, high + 1)}
    assert rows == tree_modules(), f"in the table, not in the tree: {sorted(rows - tree_modules())}; " \
                                   f"in the tree, not in the table: {sorted(tree_modules() - rows)}"


def test_the_package_docstring_names_every_top_level_part():
    modules, packages = top_level()
    named = documented_modules(ftlab.__doc__ or "") | set(re.findall(r"`(\w+)/?`", ftlab.__doc__ or ""))
    missing = [n for n in modules + packages if n not in named and f"ftlab.{n}" not in named]
    assert missing == [], f"ftlab/__init__.py's docstring does not mention {missing}"
