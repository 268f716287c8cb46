"""Every lesson as a learner runs it: Run All in JupyterLab in headless Chromium, under the quick profile.

Lesson 04 has its own, longer test (test_jupyterlab.py: its prediction playground is typed into); this module runs
every other lesson in course order. One test at a time they share one server; under `-n auto` each worker has its own
server and lessons 03 and 05 run on the worker that runs lesson 04's tests (conftest.py's `work_unit`), so lesson 05
finds the model lesson 03 saved, as on a learner's machine. For each: every code cell ran, no stderr or error output (but an error message a cell catches
and prints on purpose), every plot loaded, no widget shows its
fallback text or error box, and the lesson's Chinese title is drawn with real glyphs. A screenshot of each lesson's
last plot goes to artifacts/browser/lessons/.
"""

from __future__ import annotations

import re
import time

import pytest

import jupyterlab_driver as jd

pytestmark = pytest.mark.browser

LESSONS = [path for path in sorted((jd.REPO / "lessons").glob("*.ipynb")) if not path.name.startswith("04_")]
LESSON_TIMEOUT_MS = 15 * 60_000
TIMES: dict[str, float] = {}


@pytest.fixture(scope="module", autouse=True)
def report_times():
    yield
    if TIMES:
        lines = [f"  {name:24s} {seconds:6.0f} s" for name, seconds in TIMES.items()]
        print(f"\nRun All in the browser, quick profile ({sum(TIMES.values()) / 60:.1f} min in all):\n"
              + "\n".join(lines))


def shown_on_purpose(cell: dict, sources: list[str]) -> bool:
    """An error message a lesson prints on purpose: the cell catches the exception and prints its one line (lesson
    03 shows why the seed's recipe no longer runs). A traceback, or stderr, is never on purpose."""
    return (re.search(r"^\s*except\b.*\bas\b", sources[cell["index"]], re.MULTILINE) is not None
            and "Traceback (most recent call last)" not in cell["text"])


@pytest.mark.parametrize("lesson", LESSONS, ids=[path.stem for path in LESSONS])
def test_lesson_runs_in_jupyterlab(jupyter_server, page, lesson):
    sources = jd.copy_notebook_cleared(lesson, jupyter_server.root_dir / lesson.name)
    start = time.perf_counter()
    jd.open_notebook(page, jupyter_server, lesson.name)
    jd.run_all_cells(page)
    jd.wait_run_over(page, timeout_ms=LESSON_TIMEOUT_MS)
    TIMES[lesson.stem] = time.perf_counter() - start

    cells = jd.collect_cells(page)
    assert len(cells) == len(sources), f"{len(cells)} code cells in the page, {len(sources)} in the notebook"
    not_run = [c for c in cells if not re.fullmatch(r"\[\d+\]:", c["prompt"])]
    assert not not_run, (f"{len(not_run)} of {len(cells)} code cells did not run (Run All stops at an error):\n"
                         + jd.describe(cells, sources, only_interesting=True))
    bad = [c for c in cells if c["stderr"] or (c["traceback_like"] and not shown_on_purpose(c, sources))]
    assert not bad, f"stderr or error output in {lesson.stem}:\n" + jd.describe(bad, sources)

    jd.wait_images_loaded(page)
    cells = jd.collect_cells(page)
    broken = [c for c in cells if c["widget_fallback"]]
    assert not broken, ("a widget did not render:\n" + jd.describe(broken, sources) + "\n"
                        + jd.widget_error_details(page))
    plots = [img for c in cells for img in c["plots"] + c["widget_images"]]
    assert all(i["complete"] and i["w"] > 0 for i in plots), f"a plot did not load in {lesson.stem}: {plots}"

    # The title is read from the page's text, not from what is laid out: JupyterLab skips the layout of cells out of
    # view (its windowing mode "contentVisibility"), and the text of a skipped cell reads as empty.
    title = page.locator(f"{jd.PANEL} .jp-RenderedMarkdown h1").first
    title.scroll_into_view_if_needed()
    title_text = title.text_content() or ""
    chinese = re.findall(r"[\u4e00-\u9fff]", title_text)
    assert len(set(chinese)) >= 2, f"{lesson.stem}'s title has no Chinese words: {title_text!r}"
    drawn, font = jd.glyphs_drawn(page, f"{jd.PANEL} .jp-RenderedMarkdown h1", "".join(sorted(set(chinese))[:2]))
    assert drawn, f"the Chinese title of {lesson.stem} is drawn as boxes in {font}: no CJK font installed"

    shots = jd.ARTIFACTS / "lessons"
    shots.mkdir(parents=True, exist_ok=True)
    with_plot = [c["index"] for c in cells if c["plots"]]
    if with_plot:
        jd.code_cell(page, with_plot[-1]).evaluate("cell => cell.scrollIntoView({block: 'center'})")
        page.wait_for_timeout(300)
    page.screenshot(path=str(shots / f"{lesson.stem}.png"))
