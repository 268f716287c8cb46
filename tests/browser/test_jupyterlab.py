"""What a learner sees in JupyterLab: notebooks run from the Run menu in headless Chromium.

`python -m pytest -m browser` runs this group (the default run deselects it). It needs Chromium
(`apt-get install chromium`) and Playwright (`pip install -e ".[browser]"`); see conftest.py. Screenshots and the
server log go to artifacts/browser/.

* a negative control: a notebook with a stderr print and 1/0, whose outputs the checks must find;
* a positive control: a small notebook with a matplotlib plot and an ipywidgets VBox;
* lesson 04 under the quick profile: no stderr or error output, its plots, its prediction playground widget,
  which must answer a sentence typed into it with a new chart.
"""

from __future__ import annotations

import re

import pytest

import jupyterlab_driver as jd

pytestmark = pytest.mark.browser

LESSON = jd.REPO / "lessons" / "04_evaluation.ipynb"
PLAYGROUND_CALL = re.compile(r"prediction_playground\(")
SENTENCE = "The flight was delayed again and nobody told us anything."
LESSON_TIMEOUT_MS = 15 * 60_000  # a fresh machine also trains lesson 03's quick model here (the lesson does it)


def _console(page) -> str:
    errors = sorted({e.splitlines()[0] for e in page.console_errors if e})
    return f"browser console errors: {errors[:8]!r}"


def _error_outputs(cells: list[dict], when: str, sources: list[str] | None = None) -> str:
    """A description of every cell with stderr or error output, or "" when there is none."""
    bad = [c for c in cells if c["stderr"] or c["traceback_like"]]
    return f"stderr or error output {when}:\n" + jd.describe(bad, sources) if bad else ""


def _assert_widgets_rendered(page, cells: list[dict]) -> None:
    broken = [c for c in cells if c["widget_fallback"]]
    if broken:
        pytest.fail("a widget did not render (its fallback text or error box is shown):\n" + jd.describe(broken)
                    + "\n" + jd.widget_error_details(page) + "\n" + _console(page))


def test_error_outputs_are_detected(jupyter_server, page):
    """Negative control: the collector used below must see a stderr print and a traceback."""
    jd.write_notebook(jupyter_server.root_dir / "broken.ipynb", [
        ("code", "import sys\nprint('a warning', file=sys.stderr)"),
        ("code", "print('fine')"),
        ("code", "1/0"),
    ])
    jd.open_notebook(page, jupyter_server, "broken.ipynb")
    jd.run_all_cells(page)
    jd.wait_run_over(page, timeout_ms=120_000)
    cells = jd.collect_cells(page)
    info = jd.describe(cells)
    assert len(cells) == 3, info
    assert cells[0]["stderr"] and "a warning" in cells[0]["stderr"][0], info
    assert not cells[1]["stderr"] and "fine" in cells[1]["text"], info
    assert cells[2]["stderr"] and "ZeroDivisionError" in cells[2]["stderr"][0], info
    assert cells[2]["traceback_like"], info


def test_plot_and_widget_render(jupyter_server, page):
    """Positive control: a matplotlib plot loads as an image and an ipywidgets VBox renders as live views."""
    jd.write_notebook(jupyter_server.root_dir / "demo.ipynb", [
        ("markdown", "# Demo\n\nA plot, a widget and some text."),
        ("code", "import matplotlib.pyplot as plt\n"
                 "plt.plot([0, 1, 2, 3], [0, 1, 4, 9], marker='o')\nplt.title('squares')\nplt.show()"),
        ("code", "import ipywidgets as widgets\nfrom IPython.display import display\n"
                 "slider = widgets.IntSlider(value=3, min=0, max=10, description='n')\n"
                 "button = widgets.Button(description='Click me')\ndisplay(widgets.VBox([slider, button]))"),
        ("code", "print('hello from the demo notebook')"),
    ])
    jd.open_notebook(page, jupyter_server, "demo.ipynb")
    jd.run_all_cells(page)
    jd.wait_run_over(page, timeout_ms=120_000)
    jd.wait_widgets_settled(page, [".widget-slider", ".widget-button"])
    jd.wait_images_loaded(page)

    cells = jd.collect_cells(page)
    info = jd.describe(cells)
    assert [bool(re.fullmatch(r"\[\d+\]:", c["prompt"])) for c in cells] == [True] * 3, info
    errors = _error_outputs(cells, "in the demo notebook")
    assert not errors, errors
    assert any(i["complete"] and i["w"] > 100 and i["h"] > 100 for i in cells[0]["plots"]), info
    _assert_widgets_rendered(page, cells)
    assert cells[1]["widgets"] >= 3, info
    assert jd.code_cell(page, 1).locator(".widget-slider .widget-readout").inner_text().strip() == "3"
    assert jd.code_cell(page, 1).locator(".widget-button").inner_text().strip() == "Click me"
    assert "hello from the demo notebook" in cells[2]["text"], info

    jd.ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(jd.ARTIFACTS / "demo.png"))


def test_lesson_04_runs_for_a_learner(jupyter_server, page):
    """Lesson 04, Run All under the quick profile: clean outputs, plots, and a prediction playground that answers.

    Stderr or error output is collected and reported at the end, after the playground was tried and the
    screenshot taken, so that one run shows every problem.
    """
    sources = jd.copy_notebook_cleared(LESSON, jupyter_server.root_dir / LESSON.name)
    playground_cells = [i for i, src in enumerate(sources) if PLAYGROUND_CALL.search(src)]
    assert playground_cells, f"{LESSON.name} has no code cell that calls prediction_playground(...)"
    playground_index = playground_cells[-1]
    problems: list[str] = []

    jd.open_notebook(page, jupyter_server, LESSON.name)
    jd.run_all_cells(page)
    seconds = jd.wait_run_over(page, timeout_ms=LESSON_TIMEOUT_MS)
    print(f"\nlesson 04: Run All took {seconds:.0f} s in the browser")

    cells = jd.collect_cells(page)
    assert len(cells) == len(sources), f"{len(cells)} code cells in the page, {len(sources)} in the notebook"
    not_run = [c for c in cells if not re.fullmatch(r"\[\d+\]:", c["prompt"])]
    assert not not_run, (f"{len(not_run)} of {len(cells)} code cells did not run (Run All stops at an error):\n"
                         + jd.describe(cells, sources, only_interesting=True))
    problems.append(_error_outputs(cells, "in lesson 04", sources))

    # The playground's views exist, its chart and every plot have loaded, and no widget shows an error.
    jd.wait_widgets_settled(page, [".widget-text input", "img.jupyter-widgets, .jupyter-widgets img"])
    jd.wait_images_loaded(page)
    cells = jd.collect_cells(page)
    _assert_widgets_rendered(page, cells)
    plots = [img for c in cells for img in c["plots"]]
    assert any(i["complete"] and i["w"] > 100 for i in plots), f"no matplotlib image loaded: {plots}"
    shown = cells[playground_index]
    playground = jd.code_cell(page, playground_index)
    text_box = playground.locator(".widget-text input")
    chart = playground.locator("img.jupyter-widgets, .jupyter-widgets img")
    assert text_box.count() == 1 and chart.count() == 1, "the playground is not rendered:\n" + jd.describe([shown])
    assert all(i["complete"] and i["w"] > 100 for i in shown["widget_images"]), jd.describe([shown])
    assert playground.locator(".widget-html").count() == 1, jd.describe([shown])

    # As a learner: type a sentence, press Enter, and the kernel draws a new chart.
    old_src = chart.get_attribute("src")
    text_box.scroll_into_view_if_needed()
    text_box.click()
    text_box.fill(SENTENCE)
    text_box.press("Enter")
    page.wait_for_function(
        "([img, old]) => img.getAttribute('src') !== old && img.complete && img.naturalWidth > 100",
        arg=[chart.element_handle(), old_src], timeout=120_000, polling=250)
    jd.wait_kernel_idle(page)
    assert chart.get_attribute("src") != old_src
    assert text_box.input_value() == SENTENCE
    cells = jd.collect_cells(page)
    _assert_widgets_rendered(page, cells)
    problems.append(_error_outputs([cells[playground_index]], "after typing into the playground", sources))

    # The screenshot: the playground at the bottom of a tall window, with the plot above it.
    jd.close_left_sidebar(page)
    page.set_viewport_size({"width": 1280, "height": 2000})
    playground.evaluate("cell => cell.scrollIntoView({block: 'end'})")
    page.wait_for_timeout(500)
    jd.ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(jd.ARTIFACTS / "04_evaluation.png"))
    if page.console_errors:
        print(_console(page))

    problems = [p for p in problems if p]
    if problems:
        pytest.fail("\n\n".join(problems))
