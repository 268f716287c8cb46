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


def test_each_worker_gets_its_share_of_the_cores(monkeypatch):
    cores = len(os.sched_getaffinity(0))
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", str(cores))
    assert conftest._worker_threads() == 1
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "1")
    assert conftest._worker_threads() == cores
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", str(cores * 4))
    assert conftest._worker_threads() == 1, "never fewer than one thread"
