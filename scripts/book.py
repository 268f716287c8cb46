"""The course as a book: a static website of every lesson with its real outputs, the exercises and the teaching guide.

Usage:
  python scripts/book.py run            # execute every lesson once under `standard`; store the outputs in book/outputs
  python scripts/book.py build [--out DIR]   # build the website from the stored outputs (default book/_build/html)
  python scripts/book.py check          # say whether the stored outputs still match the lessons' code

`run` is one scripted run: every lesson in course order, in fresh kernels of this environment, in one new runs folder,
with the hub off. It writes into book/outputs.partial/ and replaces book/outputs/ only when every lesson has run, so the
stored outputs never mix two runs and a failed run loses nothing. book/outputs/run.json records the profile, machine,
date, package versions and, for each lesson, a hash of its code cells: `build` and the tests refuse outputs whose
lesson's code has changed since.

`build` takes the text and code of the lessons as they are now and the outputs of the stored run (matched by cell id),
the exercise notebooks without outputs (the learner writes the answers), the teaching guide and the README as the home
page, and runs Sphinx with MyST-NB and the Sphinx Book Theme. The result opens offline (open index.html, or serve the
folder with `python -m http.server`).
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
OUTPUTS = ROOT / "book" / "outputs"
BUILD = ROOT / "book" / "_build" / "html"
PROFILE = "standard"
REPOSITORY = "https://github.com/ftlab-course/ftlab"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"

sys.path.insert(0, str(Path(__file__).resolve().parent))
from time_lessons import machine  # noqa: E402


class BookError(Exception):
    """A problem with the stored outputs or the build, said in one line."""


def lessons() -> list[Path]:
    return sorted((ROOT / "lessons").glob("*.ipynb"))


def code_hash(nb) -> str:
    """A short hash of a notebook's code cells, in order: it changes when any code changes, not when the text does."""
    digest = hashlib.sha256()
    for cell in nb.cells:
        if cell.cell_type == "code":
            digest.update(cell.source.encode("utf-8") + b"\0")
    return digest.hexdigest()[:16]


def cpu_capability() -> str:
    import torch

    return torch.backends.cpu.get_cpu_capability()


def clean(nb) -> None:
    """Drop what a page does not need: per-cell timing and the kernel's execution metadata."""
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
    nb.metadata.pop("widgets", None)


def run(out: Path = OUTPUTS) -> dict:
    """Execute every lesson under `standard` in one new runs folder; replace `out` only when all have run."""
    from ftlab.course import package_versions

    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    runs = Path(tempfile.mkdtemp(prefix="ftlab-book-runs-"))
    os.environ.update(FTLAB_PROFILE=PROFILE, FTLAB_RUNS_DIR=str(runs), FTLAB_LIVE_PLOT="0",
                      HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    info = {"profile": PROFILE, "machine": machine(), "cpu_capability": cpu_capability(),
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "versions": package_versions(), "complete": False, "lessons": {}}
    try:
        for path in lessons():
            nb = nbformat.read(path, as_version=4)
            start = time.perf_counter()
            NotebookClient(nb, timeout=3600, kernel_name="python3",
                           resources={"metadata": {"path": str(path.parent)}}).execute()
            seconds = time.perf_counter() - start
            clean(nb)
            nbformat.write(nb, partial / path.name)
            info["lessons"][path.stem] = {"code_hash": code_hash(nb), "seconds": round(seconds, 1)}
            (partial / "run.json").write_text(json.dumps(info, indent=1) + "\n", encoding="utf-8")
            print(f"{path.stem:24s} {seconds:7.1f} s", flush=True)
    finally:
        shutil.rmtree(runs, ignore_errors=True)
    info["complete"] = True
    (partial / "run.json").write_text(json.dumps(info, indent=1) + "\n", encoding="utf-8")
    old = out.with_name(out.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if out.exists():
        out.rename(old)
    partial.rename(out)
    shutil.rmtree(old, ignore_errors=True)
    return info


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="execute every lesson under standard and store the outputs")
    args = parser.parse_args(argv)
    try:
        if args.command == "run":
            info = run()
            print(f"stored the outputs of {len(info['lessons'])} lessons in {OUTPUTS.relative_to(ROOT)}")
    except BookError as error:
        sys.exit(f"book: {error}")


if __name__ == "__main__":
    main()
