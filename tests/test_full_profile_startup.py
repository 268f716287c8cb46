"""Every notebook starts under the `full` profile, the default on a GPU (Colab), although CI has none.

Under `full` some sizes are None ("all the data"), so arithmetic that works under `quick` can crash there. Each
notebook runs in a fresh kernel with FTLAB_PROFILE=full from its first cell up to, not including, the first cell
that trains a model or loads the tweets (that work would take hours on a CPU). The cells before it are the set-up,
the plans and everything computed from the profile alone, which is where a `full`-only crash would be.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p for folder in ("lessons", "solutions") for p in (ROOT / folder).glob("*.ipynb"))
# Calls that train, or read and tokenize the whole data set: the start-up run stops before the first one.
HEAVY = re.compile(r"\b(load_tweets|finetuned_model|fine_tune|train_classifier|train_causal_lm|tokenize|"
                   r"load_phrasebook|phrase_pairs|Trainer|Lab|train_once|choose_tfidf)\(|\.(fit|train|fit_transform)\(")


def startup_cells(notebook) -> list:
    """The code cells before the first heavy one (the Colab install cell included: it does nothing off Colab)."""
    cells = []
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        if HEAVY.search(cell.source):
            break
        cells.append(cell)
    return cells


def test_the_start_up_stops_at_training_and_data_loading():
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("profile = start_lesson('03')"),
        nbformat.v4.new_markdown_cell("Why."),
        nbformat.v4.new_code_cell("steps = profile.n_train // profile.batch_size"),
        nbformat.v4.new_code_cell("splits = data.load_tweets(profile)"),
        nbformat.v4.new_code_cell("after = 1"),
    ])
    assert [c.source for c in startup_cells(notebook)] == ["profile = start_lesson('03')",
                                                           "steps = profile.n_train // profile.batch_size"]


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_notebook_starts_under_the_full_profile(path, tmp_path, monkeypatch):
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    cells = startup_cells(notebook)
    assert cells, f"{path.name} has no start-up cells before its first training or data-loading cell"
    uses_profile = any("start_lesson(" in c.source for c in cells)
    if uses_profile:
        cells.append(nbformat.v4.new_code_cell('assert profile.name == "full", profile.name'))
    notebook.cells = cells
    monkeypatch.setenv("FTLAB_PROFILE", "full")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("FTLAB_RUNS_DIR", str(tmp_path / "runs"))
    client = NotebookClient(notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    assert os.environ["FTLAB_PROFILE"] == "full"
    client.execute()
