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
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

BEGIN = "# BEGIN SOLUTION"
END = "# END SOLUTION"
_BEGIN_RE = re.compile(r"^(\s*)# BEGIN SOLUTION\s*$")
_END_RE = re.compile(r"^\s*# END SOLUTION\s*$")
# A section heading that numbers an exercise: "## Exercise 2 · Title" or "## 2. Title".
_HEADING_RE = re.compile(r"^##\s+(?:Exercise\s+)?(\d+)\b")


def make_stub_source(source: str, notebook: str, counter: list[int], names: Iterator[str] | None = None) -> str:
    """Replace each solution block in one cell's source by a stub; `counter` counts the blocks.

    Each stub's error names its exercise: the next of `names` ("Exercise 3 (part 2 of 2)"), else "Exercise <count>".
    """
    out: list[str] = []
    inside = False
    for number, line in enumerate(source.split("\n"), start=1):
        begin = _BEGIN_RE.match(line)
        if begin:
            if inside:
                raise ValueError(f"{notebook}: '{BEGIN}' inside another solution block (cell line {number})")
            inside = True
            counter[0] += 1
            name = next(names) if names is not None else f"Exercise {counter[0]}"
            indent = begin.group(1)
            out.append(f"{indent}# Your code here.")
            out.append(f'{indent}raise NotImplementedError("{name} of {notebook} is not done yet: '
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


def block_names(cells) -> list[str]:
    """The name of each solution block, in order: the exercise of the section it is in, and the part when the
    exercise has several blocks. A section is numbered by its heading ("## Exercise 2 · ..." or "## 2. ..."); blocks
    before any numbered heading are numbered in order."""
    sections: list[str] = []
    current = None
    for cell in cells:
        if cell.cell_type == "markdown":
            for line in cell.source.split("\n"):
                if line.startswith("## "):
                    heading = _HEADING_RE.match(line)
                    current = heading.group(1) if heading else None
        elif cell.cell_type == "code":
            blocks = sum(bool(_BEGIN_RE.match(line)) for line in cell.source.split("\n"))
            sections += [current if current is not None else str(len(sections) + 1)] * blocks
    total = Counter(sections)
    names, seen = [], Counter()
    for section in sections:
        seen[section] += 1
        part = f" (part {seen[section]} of {total[section]})" if total[section] > 1 else ""
        names.append(f"Exercise {section}{part}")
    return names


def make_exercise(solution_path: Path) -> str:
    """The exercise notebook (as JSON text) generated from one solution notebook."""
    import nbformat

    nb = nbformat.read(solution_path, as_version=4)
    counter = [0]
    names = iter(block_names(nb.cells))
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.source = make_stub_source(cell.source, solution_path.stem, counter, names)
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
