"""Make the exercise notebooks from their solved twins: one source, so the two never drift apart.

In a notebook in ``solutions/``, the lines of a code cell between ``# BEGIN SOLUTION`` and
``# END SOLUTION`` are the answer. In the exercise notebook they become a stub that raises a
``NotImplementedError`` saying which exercise is unfinished; the indentation is kept, so a solution
inside a function body becomes that function's body. Outputs are removed.

Run ``python -m ftlab.course.exercises`` from the repository root to (re)write ``exercises/``;
``python -m ftlab.course.exercises --check`` exits 1 if ``exercises/`` is not what it would write.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

BEGIN = "# BEGIN SOLUTION"
END = "# END SOLUTION"
_BEGIN_RE = re.compile(r"^(\s*)# BEGIN SOLUTION\s*$")
_END_RE = re.compile(r"^\s*# END SOLUTION\s*$")


def make_stub_source(source: str, notebook: str, counter: list[int]) -> str:
    """Replace each solution block in one cell's source by a stub; `counter` numbers the blocks."""
    out: list[str] = []
    inside = False
    for number, line in enumerate(source.split("\n"), start=1):
        begin = _BEGIN_RE.match(line)
        if begin:
            if inside:
                raise ValueError(f"{notebook}: '{BEGIN}' inside another solution block (cell line {number})")
            inside = True
            counter[0] += 1
            indent = begin.group(1)
            out.append(f"{indent}# Your code here.")
            out.append(f'{indent}raise NotImplementedError("Exercise {counter[0]} of {notebook} is not done yet: '
                       f'replace this line with your code and run the cell again.")')
        elif _END_RE.match(line):
            if not inside:
                raise ValueError(f"{notebook}: '{END}' without a '{BEGIN}' (cell line {number})")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"{notebook}: a '{BEGIN}' block is never closed with '{END}'")
    return "\n".join(out)


def make_exercise(solution_path: Path) -> str:
    """The exercise notebook (as JSON text) generated from one solution notebook."""
    import nbformat

    nb = nbformat.read(solution_path, as_version=4)
    counter = [0]
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.source = make_stub_source(cell.source, solution_path.stem, counter)
            cell.outputs = []
            cell.execution_count = None
        elif "colab-badge.svg" in cell.source:  # the "Open in Colab" badge opens the exercise, not its solution
            cell.source = cell.source.replace(f"/solutions/{solution_path.name})", f"/exercises/{solution_path.name})")
        cell.metadata.pop("execution", None)
    if counter[0] == 0:
        raise ValueError(f"{solution_path} has no '{BEGIN}' block: an exercise needs at least one")
    nb.metadata.pop("widgets", None)
    return nbformat.writes(nb) + "\n"


def build(solutions: Path, exercises: Path, check: bool = False) -> list[Path]:
    """Write (or, with check=True, only compare) every exercise; return the files that differ."""
    differing = []
    sources = sorted(solutions.glob("*.ipynb"))
    expected_names = {p.name for p in sources}
    for path in sources:
        text = make_exercise(path)
        target = exercises / path.name
        current = target.read_text(encoding="utf-8") if target.exists() else None
        if current != text:
            differing.append(target)
            if not check:
                exercises.mkdir(parents=True, exist_ok=True)
                target.write_text(text, encoding="utf-8")
    for stray in sorted(exercises.glob("*.ipynb")):
        if stray.name not in expected_names:
            differing.append(stray)
            if not check:
                stray.unlink()
    return differing


def main(argv: list[str] | None = None) -> int:
    """Command line: write exercises/ from solutions/, or check that they are in sync."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--solutions", type=Path, default=Path("solutions"))
    parser.add_argument("--exercises", type=Path, default=Path("exercises"))
    parser.add_argument("--check", action="store_true", help="only report notebooks that are out of date")
    args = parser.parse_args(argv)
    differing = build(args.solutions, args.exercises, check=args.check)
    for path in differing:
        print(f"{'out of date' if args.check else 'wrote'}: {path}")
    return 1 if (args.check and differing) else 0


if __name__ == "__main__":
    sys.exit(main())
