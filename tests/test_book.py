"""The course book's stored outputs and the pieces of scripts/book.py that need no Sphinx or browser.

The book itself is built and opened in Chromium by tests/browser/test_book_pages.py.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import book  # noqa: E402

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="


def test_stored_outputs_are_one_complete_standard_run_of_the_lessons_as_they_are():
    """Fails when a lesson's code changed since the book's outputs were made: run `python scripts/book.py run`."""
    info = book.check()
    assert info["complete"] and info["profile"] == "standard"
    assert info["machine"] and info["cpu_capability"] and info["versions"]["torch"]
    assert sorted(info["lessons"]) == [path.stem for path in book.lessons()]


@pytest.mark.parametrize("lesson", book.lessons(), ids=[path.stem for path in book.lessons()])
def test_stored_outputs_ran_every_cell_without_error(lesson):
    nb = nbformat.read(book.OUTPUTS / lesson.name, as_version=4)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert code and all(cell.execution_count for cell in code), f"{lesson.stem}: a cell did not run"
    errors = [o for cell in code for o in cell.outputs
              if o.output_type == "error" or (o.output_type == "stream" and "Traceback" in o.text)]
    assert not errors, f"{lesson.stem}'s stored run shows an error: {errors[0]}"


def _lesson(path: Path, code: list[str], markdown: str = "# A lesson 一课") -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(markdown)] + [nbformat.v4.new_code_cell(src) for src in code]
    for i, cell in enumerate(nb.cells):
        cell.id = f"cell-{i}"
    nbformat.write(nb, path)
    return path


def test_code_hash_follows_the_code_not_the_text(tmp_path):
    first = nbformat.read(_lesson(tmp_path / "a.ipynb", ["x = 1", "print(x)"]), as_version=4)
    reworded = nbformat.read(_lesson(tmp_path / "b.ipynb", ["x = 1", "print(x)"], "# Other words"), as_version=4)
    changed = nbformat.read(_lesson(tmp_path / "c.ipynb", ["x = 2", "print(x)"]), as_version=4)
    reordered = nbformat.read(_lesson(tmp_path / "d.ipynb", ["print(x)", "x = 1"]), as_version=4)
    assert book.code_hash(first) == book.code_hash(reworded)
    assert len({book.code_hash(first), book.code_hash(changed), book.code_hash(reordered)}) == 3


def _stored(out: Path, hashes: dict[str, str], complete: bool = True) -> None:
    out.mkdir(parents=True, exist_ok=True)
    info = {"profile": "standard", "machine": "m", "cpu_capability": "AVX2", "date": "d", "versions": {"torch": "t"},
            "complete": complete, "lessons": {name: {"code_hash": h, "seconds": 1.0} for name, h in hashes.items()}}
    (out / "run.json").write_text(json.dumps(info))


def test_a_changed_lesson_is_named_and_the_build_refused(tmp_path):
    hashes = {path.stem: book.code_hash(nbformat.read(path, as_version=4)) for path in book.lessons()}
    changed = book.lessons()[3].stem
    hashes[changed] = "0" * 16
    del hashes[book.lessons()[5].stem]
    hashes["99_gone"] = "1" * 16
    _stored(tmp_path / "outputs", hashes)
    problems = book.stale(book.stored(tmp_path / "outputs"))
    assert problems == [f"{changed}'s code changed since its outputs were made",
                        f"{book.lessons()[5].stem} has no stored outputs", "99_gone is stored but no longer a lesson"]
    html = tmp_path / "html"
    html.mkdir()
    (html / "index.html").write_text("the book built before")
    with pytest.raises(book.BookError, match=f"{changed}.*python scripts/book.py run"):
        book.build(html, tmp_path / "outputs")
    assert (html / "index.html").read_text() == "the book built before"


def test_no_or_unfinished_outputs_say_what_to_run(tmp_path):
    with pytest.raises(book.BookError, match="no stored outputs.*scripts/book.py run"):
        book.stored(tmp_path / "nothing")
    _stored(tmp_path / "outputs", {}, complete=False)
    with pytest.raises(book.BookError, match="did not finish"):
        book.stored(tmp_path / "outputs")
    (tmp_path / "outputs" / "run.json").write_text('{"profile": "standard"')
    with pytest.raises(book.BookError, match="is not a run record.*scripts/book.py run"):
        book.stored(tmp_path / "outputs")
    (tmp_path / "outputs" / "run.json").write_text('{"profile": "standard", "complete": true}')
    with pytest.raises(book.BookError, match="lacks machine, cpu_capability, date, versions, lessons"):
        book.stored(tmp_path / "outputs")


def test_a_page_takes_the_text_of_now_and_the_outputs_of_the_run(tmp_path):
    lesson = _lesson(tmp_path / "07_x.ipynb", ["plot()"], "[![Open In Colab](https://colab.research.google.com/"
                     "assets/colab-badge.svg)](https://colab.research.google.com/github/o/r/blob/main/07_x.ipynb)")
    ran = nbformat.read(lesson, as_version=4)
    ran.cells[0].source = "old words"
    ran.cells[1].outputs = [
        nbformat.v4.new_output("display_data", data={book.WIDGET_VIEW: {"model_id": "m"}, "text/plain": "0%|"}),
        nbformat.v4.new_output("display_data", data={"image/png": PNG, "text/plain": "<Figure>"}),
    ]
    ran.cells[1].execution_count = 4
    (tmp_path / "out").mkdir()
    nbformat.write(ran, tmp_path / "out" / lesson.name)
    info = {"profile": "standard", "machine": "2 CPU cores", "cpu_capability": "AVX2", "date": "2026-12-06",
            "versions": {"python": "3.11", "torch": "2.13"}}
    page = book.merged(lesson, tmp_path / "out", info)
    assert page.cells[0].source == "[Open this notebook in Colab](https://colab.research.google.com/github/o/r/blob/" \
                                   "main/07_x.ipynb)"
    assert "one scripted run" in page.cells[1].source and "torch 2.13" in page.cells[1].source
    assert [list(o.data) for o in page.cells[2].outputs] == [["image/png", "text/plain"]]
    assert page.cells[2].execution_count == 4
    ran.cells[1].id = "another"
    nbformat.write(ran, tmp_path / "out" / lesson.name)
    with pytest.raises(book.BookError, match="cell-1 has no stored outputs"):
        book.merged(lesson, tmp_path / "out", info)


def test_links_to_files_outside_the_book_go_to_the_repository(tmp_path):
    (tmp_path / "lessons").mkdir()
    (tmp_path / "exercises").mkdir()
    page = tmp_path / "lessons" / "03_fine_tuning.ipynb"
    (tmp_path / "exercises" / "03_fine_tuning.ipynb").write_text("{}")
    text = ("See [the exercises](../exercises/03_fine_tuning.ipynb), [the config](../ftlab/config.py#L10), "
            "[a site](https://example.org/a), [above](#a-heading) and [code](ftlab_notes.md). "
            "[Far away](../../../../../../outside.md).")
    assert book.link_outside(text, page, tmp_path) == (
        "See [the exercises](../exercises/03_fine_tuning.ipynb), "
        f"[the config]({book.REPOSITORY}/blob/main/ftlab/config.py#L10), [a site](https://example.org/a), "
        f"[above](#a-heading) and [code]({book.REPOSITORY}/blob/main/lessons/ftlab_notes.md). "
        "[Far away](../../../../../../outside.md).")


def test_a_run_replaces_the_stored_outputs_only_when_every_notebook_ran(tmp_path, monkeypatch):
    out = tmp_path / "outputs"
    _stored(out, {"old": "0" * 16})
    good = _lesson(tmp_path / "01_good.ipynb", ["import os\nprint(os.environ['FTLAB_PROFILE'])"])
    bad = _lesson(tmp_path / "02_bad.ipynb", ["1 / 0"])
    monkeypatch.setenv("FTLAB_PROFILE", "quick")
    with pytest.raises(book.BookError, match="02_bad stopped at an error .*ZeroDivisionError.* unchanged"):
        book.run(out, [good, bad])
    assert json.loads((out / "run.json").read_text())["lessons"] == {"old": {"code_hash": "0" * 16, "seconds": 1.0}}
    assert not (out / "01_good.ipynb").exists()
    assert os.environ["FTLAB_PROFILE"] == "quick", "the run must leave this process's environment as it was"
    monkeypatch.setenv("FTLAB_SEED", "7")
    info = book.run(out, [good])
    assert info["complete"] and list(info["lessons"]) == ["01_good"]
    assert info["seed"] == "7" and "seed 7" in book.run_note(info)
    stored = nbformat.read(out / "01_good.ipynb", as_version=4)
    assert stored.cells[1].outputs[0].text.strip() == "standard"
    assert not (tmp_path / "outputs.partial").exists() and not (tmp_path / "outputs.old").exists()


def test_a_build_without_sphinx_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr(book, "BOOK_PACKAGES", book.BOOK_PACKAGES + ("no_such_sphinx_part",))
    monkeypatch.setattr(book, "check", lambda out: {"profile": "standard"})
    with pytest.raises(book.BookError, match=r"no_such_sphinx_part not installed: pip install -e \"\.\[book\]\""):
        book.build(tmp_path / "html", tmp_path / "outputs")
    assert not (tmp_path / "html").exists()
