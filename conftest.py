"""pytest set-up shared by the unit tests and the notebooks that nbval runs."""

import os
import tempfile

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
os.environ.setdefault("FTLAB_RUNS_DIR", tempfile.mkdtemp(prefix="ftlab-test-runs-"))


def pytest_collection_modifyitems(config, items):
    """The solved exercise notebooks belong to the slow group (`python -m pytest -m slow`), with the multi-process tests."""
    import pytest

    for item in items:
        if "solutions" in item.path.parts:
            item.add_marker(pytest.mark.slow)


def pytest_sessionfinish(session, exitstatus):
    """Remove the session's folder of trained models (it holds one model per profile, about 90 MB each)."""
    import shutil

    folder = os.environ.get("FTLAB_RUNS_DIR", "")
    if os.path.basename(folder).startswith("ftlab-test-runs-"):
        shutil.rmtree(folder, ignore_errors=True)
