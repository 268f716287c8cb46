"""The test suite's own set-up for `python -m pytest -n auto`: which files one worker runs as a whole, and each
worker's share of the cores."""

import importlib.util
import os
from pathlib import Path

# Loaded by path: the module name `conftest` may already be tests/browser/conftest.py when the whole suite runs.
_spec = importlib.util.spec_from_file_location("ftlab_root_conftest", Path(__file__).resolve().parents[1] / "conftest.py")
conftest = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(conftest)


def test_lessons_03_to_05_are_one_work_unit_and_every_other_file_its_own():
    unit = conftest.work_unit
    chain = {unit(f"lessons/{name}.ipynb::Cell {cell}") for name in conftest.LESSON_03_MODEL for cell in (0, 7)}
    assert len(chain) == 1, "lessons 03, 04 and 05 share the model lesson 03 saves: one worker runs them in order"
    assert unit("solutions/04_evaluation.ipynb::Cell 2") == unit("solutions/03_fine_tuning.ipynb::Cell 9") != chain.pop()
    assert unit("lessons/06_pitfalls.ipynb::Cell 2") == unit("lessons/06_pitfalls.ipynb::Cell 30")
    assert unit("lessons/06_pitfalls.ipynb::Cell 2") != unit("lessons/07_generative.ipynb::Cell 2")
    assert unit("tests/test_models.py::test_a[x::y]") == unit("tests/test_models.py::test_b") == "tests/test_models.py"
    assert unit("tests/test_models.py::test_a") != unit("tests/test_serving.py::test_a")


def test_in_the_browser_group_each_lesson_is_a_unit_but_lessons_03_to_05_run_together():
    unit = conftest.work_unit
    run = "tests/browser/test_lessons.py::test_lesson_runs_in_jupyterlab[{}]".format
    chain = {unit(run(name)) for name in ("03_fine_tuning", "05_deployment")}
    chain |= {unit(f"tests/browser/test_jupyterlab.py::{test}") for test in ("test_lesson_04_runs_for_a_learner",
                                                                            "test_plot_and_widget_render")}
    assert len(chain) == 1, "lesson 04's browser tests run with lessons 03 and 05, on one worker, in order"
    others = {unit(run(name)) for name in ("00_setup", "06_pitfalls", "09_assistant")}
    assert len(others) == 3 and not others & chain
    assert chain.pop() != unit("lessons/03_fine_tuning.ipynb::Cell 0"), "the notebooks' own chain is another unit"
    pages = "tests/browser/test_book_pages.py::test_search_finds_a_lesson_by_a_word_in_it[{}]".format
    assert unit(pages("LoRA-08_efficient")) == unit(pages("perplexity-07_generative")) == "tests/browser/test_book_pages.py"


def test_each_worker_gets_its_share_of_the_cores(monkeypatch):
    cores = len(os.sched_getaffinity(0))
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", str(cores))
    assert conftest._worker_threads() == 1
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "1")
    assert conftest._worker_threads() == cores
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", str(cores * 4))
    assert conftest._worker_threads() == 1, "never fewer than one thread"
