"""pytest set-up shared by the unit tests and the notebooks that nbval runs.

`python -m pytest -n auto` (pytest-xdist) runs the tests on one worker per core: each worker, and every notebook
kernel, server and process it starts, gets its share of the cores (OMP_NUM_THREADS, which `ftlab` follows), so the
workers never fight over a core. The workers take whole files (`NotebookScheduling` below): a notebook's cells run on
one worker, in order, and the notebooks that use the model lesson 03 saves (lessons and solutions 03 to 05) run on one
worker, one after the other, so lesson 03 trains that model once. The browser group (`-m browser -n auto`) hands out
each lesson's run in JupyterLab apart, lessons 03 to 05 again together.
"""

import os
import sys
import tempfile

import pytest

# The notebooks that train or load the model lesson 03 saves: one worker runs them, in this order.
LESSON_03_MODEL = ("03_fine_tuning", "04_evaluation", "05_deployment")
BROWSER = "tests/browser"


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _worker_threads() -> int:
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    return max(1, _cores() // max(1, workers))


if "PYTEST_XDIST_WORKER" in os.environ:
    os.environ["OMP_NUM_THREADS"] = str(_worker_threads())
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(_worker_threads())

# The notebook kernels inherit this environment: tests run the quick profile, with the hub switched off.
os.environ.setdefault("FTLAB_PROFILE", "quick")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
os.environ.setdefault("FTLAB_LIVE_PLOT", "0")  # print training progress as text instead of redrawing plots
# Training runs in float32 on every machine, so results compare across processors; tests/test_precision.py tests
# the measured choice (auto) itself.
os.environ.setdefault("FTLAB_PRECISION", "fp32")
# Models that one notebook trains and the next reuses live in a fresh folder for each test session.
# pytest-xdist's workers inherit the main process's folder.
if "FTLAB_RUNS_DIR" not in os.environ:
    os.environ["FTLAB_RUNS_DIR"] = tempfile.mkdtemp(prefix="ftlab-test-runs-")


def work_unit(nodeid: str) -> str:
    """What one worker runs as a whole: the file of the test, or of the notebook cell; lessons 03 to 05 together.

    In the browser group each lesson run in JupyterLab is a unit of its own, but for lessons 03 to 05 (lesson 04's
    tests, in tests/browser/test_jupyterlab.py, among them), which again run together, in order, on one worker.
    """
    path, _, test = nodeid.partition("::")
    folder, _, name = path.rpartition("/")
    if folder.rpartition("/")[2] in ("lessons", "solutions") and name.split(".")[0] in LESSON_03_MODEL:
        return f"{folder}/lesson-03-model"
    if path == f"{BROWSER}/test_jupyterlab.py":
        return f"{BROWSER}/lesson-03-model"
    if path == f"{BROWSER}/test_lessons.py" and test.endswith("]"):
        lesson = test[test.index("[") + 1:-1]
        return f"{BROWSER}/lesson-03-model" if lesson in LESSON_03_MODEL else f"{path}::{lesson}"
    return path


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """pytest-xdist's load-by-scope scheduling with `work_unit` as the scope (the largest units are handed out first)."""
    from xdist.scheduler import LoadScopeScheduling

    class NotebookScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

    return NotebookScheduling(config, log)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config):
    """`-n auto`: one worker per core, at most 4 (each worker and its notebook kernel hold a model in memory)."""
    return max(1, min(_cores(), 4))


def pytest_collection_modifyitems(config, items):
    """The solved exercise notebooks belong to the slow group (`python -m pytest -m slow`), with the multi-process tests."""
    for item in items:
        if "solutions" in item.path.parts:
            item.add_marker(pytest.mark.slow)


def pytest_sessionfinish(session, exitstatus):
    """Remove the session's folder of trained models (it holds one model per profile, about 90 MB each)."""
    import shutil

    if hasattr(session.config, "workerinput"):
        return  # a pytest-xdist worker: the folder is shared, and the main process removes it when all have finished
    folder = os.environ.get("FTLAB_RUNS_DIR", "")
    if os.path.basename(folder).startswith("ftlab-test-runs-"):
        shutil.rmtree(folder, ignore_errors=True)
