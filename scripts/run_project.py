"""Run lesson 10 on another labelled file, exactly as a learner would: change the cell *Your file*, run everything.

Usage:
  python scripts/run_project.py FILE --text-column TEXT --label-column LABEL [--profile quick] [--out DIR]
  python scripts/run_project.py --tweets [--profile standard]     # the course's tweets, written out as a plain file

The notebook runs top to bottom in a fresh kernel of this environment with the hub switched off; the executed copy
(outputs included) is written to DIR (default artifacts/project/), and the figures the lesson computed are printed.
Label descriptions for zero-shot are left out (each label is described by its name) unless --descriptions gives a
JSON file of {label: [sentences]}.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
LESSON = ROOT / "lessons" / "10_project.ipynb"


def your_file_cell(nb) -> int:
    """The index of the cell a learner changes (the one that sets DATA_FILE)."""
    found = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.source.startswith("DATA_FILE = ")]
    if len(found) != 1:
        raise SystemExit(f"{LESSON} should have one cell that starts with 'DATA_FILE = ', found {len(found)}")
    return found[0]


def with_file(nb, path: str, text_column: str, label_column: str, descriptions: dict | None):
    """A copy of the lesson whose *Your file* cell names another file."""
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    nb.cells[your_file_cell(nb)].source = (f"DATA_FILE = {path!r}\nTEXT_COLUMN = {text_column!r}\n"
                                           f"LABEL_COLUMN = {label_column!r}\nLABEL_DESCRIPTIONS = {descriptions!r}")
    return nb


def figures(nb) -> list[str]:
    """The sentences and tables the lesson printed, in order (Markdown and plain text outputs)."""
    lines = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if "text/markdown" in data and not data["text/markdown"].lstrip().startswith("#"):
                lines.append(data["text/markdown"].strip())
            elif output.get("output_type") == "stream" and output.get("name") == "stdout":
                lines.append(output["text"].strip())
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file", nargs="?", help="a CSV or JSONL file with a text and a label column")
    parser.add_argument("--text-column", default="text")
    parser.add_argument("--label-column", default="label")
    parser.add_argument("--descriptions", help="a JSON file {label: [sentences]} for the zero-shot baseline")
    parser.add_argument("--tweets", action="store_true", help="run on the course's tweets written out as a file")
    parser.add_argument("--profile", default="quick", choices=["quick", "standard", "full"])
    parser.add_argument("--out", type=Path, default=ROOT / "artifacts" / "project")
    args = parser.parse_args(argv)
    if args.tweets:
        from ftlab.labs.project import tweets_file

        args.file, args.text_column, args.label_column = str(tweets_file()), "text", "label"
    if not args.file:
        parser.error("give a FILE or --tweets")
    descriptions = json.loads(Path(args.descriptions).read_text(encoding="utf-8")) if args.descriptions else None
    os.environ.update(FTLAB_PROFILE=args.profile, HF_HUB_OFFLINE="1", FTLAB_LIVE_PLOT="0")
    nb = with_file(nbformat.read(LESSON, as_version=4), str(Path(args.file).resolve()), args.text_column,
                   args.label_column, descriptions)
    start = time.perf_counter()
    try:
        NotebookClient(nb, timeout=3600, kernel_name="python3",
                       resources={"metadata": {"path": str(LESSON.parent)}}).execute()
    finally:
        args.out.mkdir(parents=True, exist_ok=True)
        target = args.out / f"10_project-{Path(args.file).stem}-{args.profile}.ipynb"
        nbformat.write(nb, target)
        print(f"executed notebook: {target}")
    print("\n\n".join(figures(nb)))
    print(f"\nlesson 10 on {args.file} under '{args.profile}': {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
