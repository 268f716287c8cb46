"""Lesson 10's exercise checks accept right answers and name what is wrong in wrong ones."""

import numpy as np
import pandas as pd
import pytest

from ftlab import audit
from ftlab.course.checks import lesson10 as checks
from ftlab.course.checks.core import ExerciseCheckError


def right_leaks(train, other):
    seen = {audit.normalize(t) for t in train}
    return [i for i, t in enumerate(other) if audit.normalize(t) in seen]


def test_find_leaks_right_answer_passes(capsys):
    checks.check_find_leaks(right_leaks)
    assert "✔" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, message", [
    (lambda train, other: [i for i, t in enumerate(other) if t in set(train)], "audit.normalize"),
    (lambda train, other: [t for t in other if t in train], "positions"),
    (lambda train, other: None, "returned None"),
])
def test_find_leaks_wrong_answers_are_explained(wrong, message):
    with pytest.raises(ExerciseCheckError, match=message):
        checks.check_find_leaks(wrong)


def test_find_leaks_stub_is_explained():
    def stub(train, other):
        raise NotImplementedError
    with pytest.raises(ExerciseCheckError, match="not written yet"):
        checks.check_find_leaks(stub)


def test_leak_count():
    frame = pd.DataFrame({"text": ["a", "a", "b"], "label": ["x", "x", "y"], "split": ["train", "test", "test"]})
    checks.check_leak_count(1, frame)
    with pytest.raises(ExerciseCheckError, match="ftlab.audit.leaks finds 1"):
        checks.check_leak_count(2, frame)


def test_descriptions_must_cover_every_label_and_beat_majority():
    good = {"ham": ["see you later"], "spam": "win a prize now"}
    checks.check_descriptions(good, ["ham", "spam"], lambda prompts: 0.8, majority_f1=0.46)
    with pytest.raises(ExerciseCheckError, match=r"\['spam'\] have no description"):
        checks.check_descriptions({"ham": ["x"]}, ["ham", "spam"], lambda p: 0.8, 0.46)
    with pytest.raises(ExerciseCheckError, match="not labels of this file"):
        checks.check_descriptions({**good, "eggs": ["x"]}, ["ham", "spam"], lambda p: 0.8, 0.46)
    with pytest.raises(ExerciseCheckError, match="no better than always answering"):
        checks.check_descriptions(good, ["ham", "spam"], lambda p: 0.4, 0.46)
    with pytest.raises(ExerciseCheckError, match="sentences of text"):
        checks.check_descriptions({"ham": [""], "spam": ["x"]}, ["ham", "spam"], lambda p: 0.8, 0.46)


def test_ship_follows_the_validation_interval():
    rng = np.random.default_rng(0)
    gold = rng.integers(0, 2, 300)
    perfect = gold.copy()
    noisy = np.where(rng.random(300) < 0.3, 1 - gold, gold)
    checks.check_ship("fine-tuned", gold, perfect, noisy, "TF-IDF", 2, 0)
    with pytest.raises(ExerciseCheckError, match="ships the fine-tuned model"):
        checks.check_ship("TF-IDF", gold, perfect, noisy, "TF-IDF", 2, 0)
    almost = np.where(rng.random(300) < 0.02, 1 - perfect, perfect)
    checks.check_ship("TF-IDF", gold, almost, perfect, "TF-IDF", 2, 0)
    with pytest.raises(ExerciseCheckError, match="cheaper TF-IDF"):
        checks.check_ship("fine-tuned", gold, almost, perfect, "TF-IDF", 2, 0)
    with pytest.raises(ExerciseCheckError, match="one of"):
        checks.check_ship("the big one", gold, perfect, noisy, "TF-IDF", 2, 0)
