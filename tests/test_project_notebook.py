"""Lesson 10 on a file it was not written on: four labels, a JSONL file, other column names, no label descriptions.

This is what a learner does with their own data (change the cell *Your file*, run everything), checked on the tweets'
topics written out as JSONL. Slow group: it runs the whole lesson once more.
"""

import json
import sys
from pathlib import Path

import nbformat
import pytest

from ftlab import data

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import run_project  # noqa: E402  (a script, imported for its notebook-editing helpers)

pytestmark = pytest.mark.slow

TOPICS = ("airline", "apple", "deflategate", "self_driving")


@pytest.fixture(scope="module")
def topic_file(tmp_path_factory):
    frame = data.tweets_frame()
    frame = frame[frame["topic"].isin(TOPICS)]
    frame = frame.groupby("topic").sample(150, random_state=0)
    path = tmp_path_factory.mktemp("own") / "topics.jsonl"
    with open(path, "w", encoding="utf-8") as handle:
        for text, topic in zip(frame["text"], frame["topic"]):
            handle.write(json.dumps({"tweet": text, "about": topic}) + "\n")
    return path


def test_lesson_10_runs_on_a_four_label_jsonl_file(topic_file, tmp_path, monkeypatch):
    from nbclient import NotebookClient

    lesson = nbformat.read(ROOT / "lessons" / "10_project.ipynb", as_version=4)
    nb = run_project.with_file(lesson, str(topic_file), "tweet", "about", None)
    monkeypatch.setenv("FTLAB_PROFILE", "quick")
    # Its own runs folder: the solved lesson 10, in the same slow group, may run at the same time on another worker
    # and writes its cleaned file and model where the lesson does.
    monkeypatch.setenv("FTLAB_RUNS_DIR", str(tmp_path / "runs"))
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(ROOT / "lessons")}}).execute()
    printed = "\n".join(run_project.figures(nb))
    assert "labels: ['airline', 'apple', 'deflategate', 'self_driving']" in printed
    assert "**4** labels" in printed and "described by their names only" in printed
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors


def test_the_your_file_cell_is_the_one_cell_changed():
    lesson = nbformat.read(ROOT / "lessons" / "10_project.ipynb", as_version=4)
    changed = run_project.with_file(lesson, "mine.csv", "review", "stars", {"good": ["great"]})
    differing = [i for i, (a, b) in enumerate(zip(lesson.cells, changed.cells)) if a.source != b.source]
    assert differing == [run_project.your_file_cell(lesson)]
    assert "DATA_FILE = 'mine.csv'" in changed.cells[differing[0]].source
