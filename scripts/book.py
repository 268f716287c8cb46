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
import importlib.util
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
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parents[1]
OUTPUTS = ROOT / "book" / "outputs"
BUILD = ROOT / "book" / "_build" / "html"
PROFILE = "standard"
REPOSITORY = "https://github.com/ftlab-course/ftlab"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
RUN_KEYS = ("profile", "machine", "cpu_capability", "date", "versions", "complete", "lessons")
BOOK_PACKAGES = ("sphinx", "myst_nb", "sphinx_book_theme", "sphinx-mathjax-offline")

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


def run(out: Path = OUTPUTS, notebooks: list[Path] | None = None) -> dict:
    """Execute every lesson (or `notebooks`) under `standard` in one new runs folder; replace `out` only when all
    have run."""
    from ftlab.course import package_versions

    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    runs = Path(tempfile.mkdtemp(prefix="ftlab-book-runs-"))
    saved = dict(os.environ)
    os.environ.update(FTLAB_PROFILE=PROFILE, FTLAB_RUNS_DIR=str(runs), FTLAB_LIVE_PLOT="0",
                      HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    info = {"profile": PROFILE, "machine": machine(), "cpu_capability": cpu_capability(),
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "seed": os.environ.get("FTLAB_SEED", "").strip() or "42 (the default)",
            "versions": package_versions(), "complete": False, "lessons": {}}
    try:
        for path in notebooks or lessons():
            nb = nbformat.read(path, as_version=4)
            start = time.perf_counter()
            try:
                NotebookClient(nb, timeout=3600, kernel_name="python3",
                               resources={"metadata": {"path": str(path.parent)}}).execute()
            except CellExecutionError as error:
                last = str(error).strip().splitlines()[-1] if str(error).strip() else type(error).__name__
                raise BookError(f"{path.stem} stopped at an error ({last}); the stored outputs in {out} are "
                                "unchanged") from error
            seconds = time.perf_counter() - start
            clean(nb)
            nbformat.write(nb, partial / path.name)
            info["lessons"][path.stem] = {"code_hash": code_hash(nb), "seconds": round(seconds, 1)}
            (partial / "run.json").write_text(json.dumps(info, indent=1) + "\n", encoding="utf-8")
            print(f"{path.stem:24s} {seconds:7.1f} s", flush=True)
    finally:
        shutil.rmtree(runs, ignore_errors=True)
        os.environ.clear()
        os.environ.update(saved)
    info["complete"] = True
    (partial / "run.json").write_text(json.dumps(info, indent=1) + "\n", encoding="utf-8")
    put_in_place(partial, out)
    return info


def put_in_place(partial: Path, target: Path) -> None:
    """Replace folder `target` with the finished folder `partial` (the old one is removed only after the swap)."""
    old = target.with_name(target.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    partial.rename(target)
    shutil.rmtree(old, ignore_errors=True)


def stored(out: Path = OUTPUTS) -> dict:
    """The stored run's record (book/outputs/run.json); a BookError when there is none or it did not finish."""
    record = out / "run.json"
    if not record.exists():
        raise BookError(f"no stored outputs in {out}: run `python scripts/book.py run` first (about 70 minutes)")
    try:
        info = json.loads(record.read_text(encoding="utf-8"))
        missing = [key for key in RUN_KEYS if key not in info]
    except (ValueError, TypeError) as error:
        raise BookError(f"{record} is not a run record ({error}): run `python scripts/book.py run` again") from None
    if missing:
        raise BookError(f"{record} lacks {', '.join(missing)}: run `python scripts/book.py run` again")
    if not info.get("complete"):
        raise BookError(f"the run stored in {out} did not finish: run `python scripts/book.py run` again")
    return info


def stale(info: dict) -> list[str]:
    """One line for each lesson whose stored outputs no longer match its code (empty when all match)."""
    problems = []
    current = {path.stem: path for path in lessons()}
    for name, path in current.items():
        if name not in info["lessons"]:
            problems.append(f"{name} has no stored outputs")
        elif code_hash(nbformat.read(path, as_version=4)) != info["lessons"][name]["code_hash"]:
            problems.append(f"{name}'s code changed since its outputs were made")
    problems += [f"{name} is stored but no longer a lesson" for name in info["lessons"] if name not in current]
    return problems


def check(out: Path = OUTPUTS) -> dict:
    """The stored run's record, if every lesson's outputs match its code; else a BookError naming the lessons."""
    info = stored(out)
    problems = stale(info)
    if problems:
        raise BookError("; ".join(problems) + ": run `python scripts/book.py run` to make the outputs again")
    return info


def versions_line(info: dict) -> str:
    return ", ".join(f"{name} {version}" for name, version in info["versions"].items())


def run_note(info: dict) -> str:
    """The note at the top of every lesson page: where its outputs come from."""
    return (":::{note}\nThe outputs on this page come from one scripted run of every lesson under the "
            f"`{info['profile']}` profile on {info['machine']}, CPU capability {info['cpu_capability']}, on "
            f"{info['date']}" + (f", seed {info['seed']}" if "seed" in info else "")
            + f", with {versions_line(info)}. Your own run gives figures of its own: open the notebook "
            "and run it.\n:::")


def colab_link(nb) -> None:
    """Replace the Colab badge (an image from the web, which an offline page cannot show) with a plain link."""
    first = nb.cells[0] if nb.cells else None
    if first is not None and first.cell_type == "markdown" and "colab-badge.svg" in first.source:
        url = re.search(r"\]\((https://colab\.research\.google\.com/github/[^)]+)\)\s*$", first.source)
        first.source = f"[Open this notebook in Colab]({url.group(1)})" if url else ""


def link_outside(source: str, page: Path, stage: Path) -> str:
    """Point relative links to files that are not pages of the book at the file in the repository."""
    def replace(match: re.Match) -> str:
        target = match.group(2)
        if re.match(r"[a-z]+:|#|/", target):
            return match.group(0)
        path, hash_mark, fragment = target.partition("#")
        if (page.parent / path).resolve().is_relative_to(stage) and (page.parent / path).exists():
            return match.group(0)
        in_repo = (ROOT / page.parent.relative_to(stage) / path).resolve()
        if not in_repo.is_relative_to(ROOT):
            return match.group(0)
        in_repo = in_repo.relative_to(ROOT)
        return f"{match.group(1)}({REPOSITORY}/blob/main/{in_repo.as_posix()}{hash_mark}{fragment})"

    return re.sub(r"(\[[^\]]*\])\(([^)\s]+)\)", replace, source)


def merged(path: Path, out: Path, info: dict):
    """The lesson as it is now, each code cell with its outputs from the stored run (progress bars left out)."""
    nb = nbformat.read(path, as_version=4)
    ran = {cell.id: cell for cell in nbformat.read(out / path.name, as_version=4).cells}
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if cell.id not in ran:
            raise BookError(f"{path.stem}: cell {cell.id} has no stored outputs: run `python scripts/book.py run`")
        cell.outputs = [o for o in ran[cell.id].outputs if WIDGET_VIEW not in o.get("data", {})]
        cell.execution_count = ran[cell.id].execution_count
    colab_link(nb)
    nb.cells.insert(1, nbformat.v4.new_markdown_cell(run_note(info), id="book-run-note"))
    return nb


EXERCISE_NOTE = (":::{note}\nAn exercise notebook: the answers are yours to write, so this page shows it without "
                 "outputs. Open the notebook, replace each `raise NotImplementedError` with your code and run it; the "
                 "checks say whether your answer is right.\n:::")


def conf(info: dict) -> str:
    footer = (f"Outputs from one run under <code>{info['profile']}</code> on {info['machine']} "
              f"(CPU capability {info['cpu_capability']}), {info['date']}; {versions_line(info)}.")
    options = {"extra_footer": f"<p>{footer}</p>", "show_navbar_depth": 2, "use_download_button": True,
               "home_page_in_toc": False}
    return "\n".join([
        'project = "ftlab"',
        'author = "The ftlab authors"',
        'html_title = "ftlab: fine-tuning pretrained models"',
        'extensions = ["myst_nb", "sphinx-mathjax-offline"]',
        'myst_enable_extensions = ["colon_fence", "dollarmath"]',
        'nb_execution_mode = "off"',
        'nb_merge_streams = True',
        'nb_render_markdown_format = "myst"',
        'html_theme = "sphinx_book_theme"',
        'html_context = {"default_mode": "light"}',
        'html_favicon = "favicon.svg"',
        f"html_theme_options = {options!r}",
        'exclude_patterns = ["_build"]',
        'suppress_warnings = ["mystnb.unknown_mime_type"]',
        "",
    ])


def stage(target: Path, out: Path, info: dict) -> None:
    """Write the book's sources into `target`: pages laid out as in the repository, so their links resolve."""
    for folder in ("lessons", "exercises", "docs"):
        (target / folder).mkdir(parents=True, exist_ok=True)
    pages = []
    for path in lessons():
        pages.append((target / "lessons" / path.name, merged(path, out, info)))
    for path in sorted((ROOT / "exercises").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        colab_link(nb)
        nb.cells.insert(1, nbformat.v4.new_markdown_cell(EXERCISE_NOTE, id="book-exercise-note"))
        pages.append((target / "exercises" / path.name, nb))
    shutil.copy(ROOT / "docs" / "teaching.md", target / "docs" / "teaching.md")
    shutil.copy(ROOT / "README.md", target / "README.md")
    shutil.copy(ROOT / "book" / "favicon.svg", target / "favicon.svg")
    for page, nb in pages:
        for cell in nb.cells:
            if cell.cell_type == "markdown":
                cell.source = link_outside(cell.source, page, target)
        nbformat.write(nb, page)
    for page in (target / "README.md", target / "docs" / "teaching.md"):
        page.write_text(link_outside(page.read_text(encoding="utf-8"), page, target), encoding="utf-8")
    toc = ["```{toctree}", ":caption: Lessons", ":maxdepth: 1", ""]
    toc += [f"lessons/{path.stem}" for path in lessons()] + ["```", "", "```{toctree}", ":caption: Exercises",
                                                           ":maxdepth: 1", ""]
    toc += [f"exercises/{path.stem}" for path in sorted((ROOT / "exercises").glob("*.ipynb"))]
    toc += ["```", "", "```{toctree}", ":caption: For teachers", ":maxdepth: 1", "", "docs/teaching", "README", "```"]
    index = (ROOT / "book" / "index.md").read_text(encoding="utf-8")
    index = index.replace("{run}", f"one run under `{info['profile']}` on {info['machine']}, CPU capability "
                                   f"{info['cpu_capability']}, on {info['date']}")
    (target / "index.md").write_text(index + "\n" + "\n".join(toc) + "\n", encoding="utf-8")
    (target / "conf.py").write_text(conf(info), encoding="utf-8")


def build(html: Path = BUILD, out: Path = OUTPUTS) -> Path:
    """Build the website into `html` from the stored outputs; a failed build leaves an earlier one as it was."""
    info = check(out)
    missing = [name for name in BOOK_PACKAGES if importlib.util.find_spec(name) is None]
    if missing:
        raise BookError(f"{', '.join(missing)} not installed: pip install -e \".[book]\" (or pip install sphinx myst-nb "
                        "sphinx-book-theme sphinx-mathjax-offline)")
    partial = html.with_name(html.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    with tempfile.TemporaryDirectory(prefix="ftlab-book-") as tmp:
        source = Path(tmp) / "source"
        stage(source, out, info)
        log = Path(tmp) / "warnings.txt"
        done = subprocess.run([sys.executable, "-m", "sphinx", "-b", "html", "-q", "-w", str(log), str(source),
                               str(partial)], capture_output=True, text=True)
        if done.returncode != 0:
            said = (done.stderr or done.stdout).strip().splitlines() or ["no message"]
            shutil.rmtree(partial, ignore_errors=True)
            raise BookError(f"sphinx-build failed: {said[-1]}")
        warnings = [line for line in log.read_text(encoding="utf-8").splitlines() if "WARNING" in line]
    if warnings:
        shutil.rmtree(partial, ignore_errors=True)
        raise BookError(f"{len(warnings)} Sphinx warnings, the first: {warnings[0]}")
    put_in_place(partial, html)
    return html


def size(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="execute every lesson under standard and store the outputs")
    builder = sub.add_parser("build", help="build the website from the stored outputs")
    builder.add_argument("--out", type=Path, default=BUILD, help=f"where the website goes (default {BUILD})")
    sub.add_parser("check", help="say whether the stored outputs match the lessons' code")
    args = parser.parse_args(argv)
    try:
        if args.command == "run":
            info = run()
            print(f"stored the outputs of {len(info['lessons'])} lessons in {OUTPUTS.relative_to(ROOT)}")
        elif args.command == "build":
            start = time.perf_counter()
            html = build(args.out.resolve())
            print(f"built the book in {time.perf_counter() - start:.0f} s: {size(html) / 1e6:.1f} MB in {html}; "
                  f"open {html / 'index.html'}")
        else:
            info = check()
            print(f"the stored outputs ({info['date']}, {info['machine']}) match every lesson's code")
    except BookError as error:
        sys.exit(f"book: {error}")


if __name__ == "__main__":
    main()
