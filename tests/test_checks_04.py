"""The lesson 04 exercise checks accept a right answer and reject wrong ones with a message that helps."""

import re

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.metrics import accuracy_score, f1_score

from ftlab.course.checks import lesson04 as checks
from ftlab.course.checks.core import ExerciseCheckError


def stub(*args):
    raise NotImplementedError("Exercise 1 of 04_evaluation is not done yet")


# Exercise 1: macro-F1 from a confusion matrix


def macro_f1_from_confusion(matrix):
    matrix = np.asarray(matrix, dtype=float)
    correct = np.diag(matrix)
    predicted, actual = matrix.sum(axis=0), matrix.sum(axis=1)
    precision = np.divide(correct, predicted, out=np.zeros_like(correct), where=predicted > 0)
    recall = np.divide(correct, actual, out=np.zeros_like(correct), where=actual > 0)
    both = precision + recall
    return float(np.mean(np.divide(2 * precision * recall, both, out=np.zeros_like(correct), where=both > 0)))


def test_macro_f1_from_confusion_accepts_a_right_answer(capsys):
    checks.check_macro_f1_from_confusion(macro_f1_from_confusion)
    assert capsys.readouterr().out.startswith("\u2714")


def test_macro_f1_from_confusion_accepts_sklearn_on_expanded_labels():
    def via_sklearn(matrix):
        true = np.repeat(np.arange(len(matrix)), matrix.sum(axis=1))
        pred = np.concatenate([np.repeat(np.arange(len(matrix)), row) for row in matrix])
        return f1_score(true, pred, average="macro", labels=range(len(matrix)), zero_division=0)

    checks.check_macro_f1_from_confusion(via_sklearn)


@pytest.mark.parametrize("wrong, message", [
    (stub, "not written yet"),
    (lambda m: None, "returned None"),
    (lambda m: np.trace(m) / m.sum(), "that is the accuracy"),
    (lambda m: 2 * np.diag(m) / (m.sum(axis=0) + m.sum(axis=1)), "should be one number"),
    (lambda m: np.mean(np.diag(m) / m.sum(axis=0)), "mean precision or the mean recall"),
    (lambda m: np.mean(np.diag(m) / m.sum(axis=1)), "mean precision or the mean recall"),
    (lambda m: np.mean((np.diag(m) / m.sum(axis=0) + np.diag(m) / m.sum(axis=1)) / 2), "harmonic mean"),
    (lambda m: float(np.sum(2 * np.diag(m) / (m.sum(axis=0) + m.sum(axis=1)) * m.sum(axis=1) / m.sum())),
     "weighted the labels"),
])
def test_macro_f1_from_confusion_rejects_wrong_answers(wrong, message):
    with pytest.raises(ExerciseCheckError, match=re.escape(message)):
        checks.check_macro_f1_from_confusion(wrong)


def test_macro_f1_from_confusion_explains_a_division_by_zero():
    def naive(matrix):
        with np.errstate(divide="ignore", invalid="ignore"):
            precision = np.diag(matrix) / matrix.sum(axis=0)
            recall = np.diag(matrix) / matrix.sum(axis=1)
            return float(np.mean(2 * precision * recall / (precision + recall)))

    with pytest.raises(ExerciseCheckError, match="never predicted has precision 0/0"):
        checks.check_macro_f1_from_confusion(naive)


# Exercise 2: which model to ship


def candidate(labels, accuracy, confidence, seed):
    """Probabilities that are right for a share `accuracy` of the items, each with top probability `confidence`."""
    rng = np.random.default_rng(seed)
    right = rng.random(len(labels)) < accuracy
    predicted = np.where(right, labels, (labels + rng.integers(1, 3, len(labels))) % 3)
    probs = np.full((len(labels), 3), (1 - confidence) / 2)
    probs[np.arange(len(labels)), predicted] = confidence
    return probs


LABELS = np.random.default_rng(0).integers(0, 3, 400)
CLEAR = {"fine-tuned": candidate(LABELS, 0.85, 0.99, 1), "TF-IDF": candidate(LABELS, 0.55, 0.55, 2)}
TIED = {"fine-tuned": candidate(LABELS, 0.70, 0.98, 3), "TF-IDF": candidate(LABELS, 0.70, 0.70, 3)}
REVERSED = {"fine-tuned": candidate(LABELS, 0.55, 0.55, 4), "TF-IDF": candidate(LABELS, 0.85, 0.99, 5)}


def test_the_cases_are_what_their_names_say():
    clear, tied, reversed_ = (checks.ship_rule(c, LABELS) for c in (CLEAR, TIED, REVERSED))
    assert clear["quality"]["low"] > 0 and clear["ece"]["fine-tuned"] > clear["ece"]["TF-IDF"]
    assert tied["quality"]["low"] <= 0 <= tied["quality"]["high"]
    assert tied["ece"]["TF-IDF"] < tied["ece"]["fine-tuned"]
    assert reversed_["quality"]["high"] < 0 and reversed_["ece"]["TF-IDF"] > reversed_["ece"]["fine-tuned"]


@pytest.mark.parametrize("cases, right", [(CLEAR, "fine-tuned"), (TIED, "TF-IDF"), (REVERSED, "TF-IDF")])
def test_ship_decision_accepts_the_rule(capsys, cases, right):
    checks.check_ship_decision(right, cases, LABELS)
    assert capsys.readouterr().out.startswith("\u2714 ship " + right)


@pytest.mark.parametrize("cases, wrong, message", [
    (CLEAR, "TF-IDF", "quality decides first"),  # the better-calibrated one, although quality differs
    (REVERSED, "fine-tuned", "quality decides first"),
    (TIED, "fine-tuned", "tied on quality"),  # quality tied: calibration decides
    (CLEAR, None, "is None"),
    (CLEAR, "tfidf", "should be one of"),
])
def test_ship_decision_rejects_wrong_decisions(cases, wrong, message):
    with pytest.raises(ExerciseCheckError, match=re.escape(message)):
        checks.check_ship_decision(wrong, cases, LABELS)


def test_ship_decision_needs_two_candidates():
    with pytest.raises(ExerciseCheckError, match="two candidates"):
        checks.check_ship_decision("fine-tuned", {"fine-tuned": CLEAR["fine-tuned"]}, LABELS)


# Exercise 3: choosing a TF-IDF setting on the validation split


def validation_scores(settings, train_texts, train_labels, val_texts, val_labels):
    return {name: f1_score(val_labels, clone(p).fit(train_texts, train_labels).predict(val_texts), average="macro")
            for name, p in settings.items()}


def test_validation_scores_accepts_a_right_answer(capsys):
    checks.check_validation_scores(validation_scores)
    assert "\u2714" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, message", [
    (stub, "not written yet"),
    (lambda s, tt, tl, vt, vl: None, "returned None"),
    (lambda s, tt, tl, vt, vl: [0.5] * len(s), "should return a dictionary"),
    (lambda s, tt, tl, vt, vl: {"only one": 0.5}, "one entry per setting"),
    (lambda s, tt, tl, vt, vl: {n: f1_score(tl, p.fit(tt, tl).predict(tt), average="macro") for n, p in s.items()},
     "score on the training texts"),
    (lambda s, tt, tl, vt, vl: {n: accuracy_score(vl, p.fit(tt, tl).predict(vt)) for n, p in s.items()},
     "that is the accuracy"),
])
def test_validation_scores_rejects_wrong_answers(wrong, message):
    with pytest.raises(ExerciseCheckError, match=re.escape(message)):
        checks.check_validation_scores(wrong)


# Exercise 4: predict the weakest topic, then measure


TOPICS = pd.DataFrame({
    "topic": ["air"] * 8 + ["cars"] * 6 + ["phones"] * 6 + ["rare"] * 2,
    "label": [0, 0, 0, 0, 1, 1, 2, 2] + [1, 1, 1, 1, 0, 0] + [2, 2, 2, 0, 0, 1] + [0, 1],
    "predicted": [0, 0, 0, 1, 1, 0, 2, 0] + [1, 1, 1, 0, 0, 1] + [2, 2, 0, 0, 1, 1] + [1, 0],
})


def test_weakest_topic_scores_each_topic_on_its_own_labels():
    weakest, ranked = checks.weakest_topic(TOPICS, min_tweets=5)
    expected = {t: f1_score(p["label"], p["predicted"], average="macro", zero_division=0)
                for t, p in TOPICS.groupby("topic") if t != "rare"}
    assert sorted(ranked.index) == ["air", "cars", "phones"]  # "rare" has too few rows
    assert np.allclose([ranked[t] for t in expected], list(expected.values()))
    assert weakest == min(expected, key=expected.get) and ranked.is_monotonic_increasing


def test_topic_guess_must_be_a_scored_topic(capsys):
    checks.check_topic_guess("cars", ["air", "cars", "phones"])
    assert "cars" in capsys.readouterr().out
    for wrong, message in [(None, "is None"), ("rare", "should be one of"), (3, "should be one of")]:
        with pytest.raises(ExerciseCheckError, match=re.escape(message)):
            checks.check_topic_guess(wrong, ["air", "cars", "phones"])


def test_judge_topic_guess_says_whether_the_prediction_was_right(capsys):
    weakest, ranked = checks.weakest_topic(TOPICS, min_tweets=5)
    checks.judge_topic_guess(weakest, TOPICS, min_tweets=5)
    assert "your prediction was right" in capsys.readouterr().out
    other = ranked.index[-1]
    checks.judge_topic_guess(other, TOPICS, min_tweets=5)
    out = capsys.readouterr().out
    assert "your prediction was right" not in out and f"ranks {len(ranked)} of {len(ranked)}" in out
    with pytest.raises(ExerciseCheckError, match="not among the measured topics"):
        checks.judge_topic_guess("rare", TOPICS, min_tweets=5)
    with pytest.raises(ExerciseCheckError, match="needs columns"):
        checks.judge_topic_guess("air", TOPICS.drop(columns="predicted"), min_tweets=5)
