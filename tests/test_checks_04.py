"""The lesson 04 exercise checks accept a right answer and reject wrong ones with a message that helps."""

import re
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.metrics import accuracy_score, f1_score

from ftlab import evaluate
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


# Exercise 2: expected calibration error


def bins_of(probs, bins):
    return np.minimum((probs.max(axis=1) * bins).astype(int), bins - 1)


def ece(probs, labels, bins=10):
    confidence, correct, which = probs.max(axis=1), probs.argmax(axis=1) == labels, bins_of(probs, bins)
    return sum(np.mean(which == k) * abs(correct[which == k].mean() - confidence[which == k].mean())
               for k in range(bins) if (which == k).any())


def test_ece_accepts_a_right_answer_and_ftlabs(capsys):
    checks.check_expected_calibration_error(ece)
    checks.check_expected_calibration_error(evaluate.expected_calibration_error)
    assert capsys.readouterr().out.count("\u2714") == 2


def unweighted(probs, labels, bins=10):
    confidence, correct, which = probs.max(axis=1), probs.argmax(axis=1) == labels, bins_of(probs, bins)
    return np.mean([abs(correct[which == k].mean() - confidence[which == k].mean())
                    for k in range(bins) if (which == k).any()])


def signed(probs, labels, bins=10):
    confidence, correct, which = probs.max(axis=1), probs.argmax(axis=1) == labels, bins_of(probs, bins)
    return abs(sum(np.mean(which == k) * (correct[which == k].mean() - confidence[which == k].mean())
                   for k in range(bins) if (which == k).any()))


def drops_certain(probs, labels, bins=10):
    confidence, correct = probs.max(axis=1), probs.argmax(axis=1) == labels
    which = (confidence * bins).astype(int)
    return sum(np.mean(which == k) * abs(correct[which == k].mean() - confidence[which == k].mean())
               for k in range(bins) if (which == k).any())


def empty_bins_too(probs, labels, bins=10):
    confidence, correct, which = probs.max(axis=1), probs.argmax(axis=1) == labels, bins_of(probs, bins)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the mean of an empty bin
        return sum(np.mean(which == k) * abs(correct[which == k].mean() - confidence[which == k].mean())
                   for k in range(bins))


@pytest.mark.parametrize("wrong, message", [
    (stub, "not written yet"),
    (lambda probs, labels, bins=10: None, "returned None"),
    (unweighted, "weight each bin's gap"),
    (signed, "absolute value"),
    (drops_certain, "exactly 1.0"),
    (lambda probs, labels, bins=10: ece(probs, labels, 10), "use the `bins` argument"),
    (empty_bins_too, "skip the empty bins"),
    (lambda probs, labels, bins=10: [ece(probs, labels, bins)] * 2, "should be one number"),
])
def test_ece_rejects_wrong_answers(wrong, message):
    with pytest.raises(ExerciseCheckError, match=re.escape(message)):
        checks.check_expected_calibration_error(wrong)


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


# Exercise 4: macro-F1 by topic


def macro_f1_by_topic(frame):
    return pd.Series({topic: f1_score(part["label"], part["predicted"], average="macro", zero_division=0)
                      for topic, part in frame.groupby("topic")})


def test_macro_f1_by_topic_accepts_a_right_answer(capsys):
    checks.check_macro_f1_by_topic(macro_f1_by_topic)
    checks.check_macro_f1_by_topic(lambda frame: macro_f1_by_topic(frame).to_dict())
    assert capsys.readouterr().out.count("\u2714") == 2


def drop_column(frame):
    del frame["text"]
    return macro_f1_by_topic(frame)


@pytest.mark.parametrize("wrong, message", [
    (stub, "not written yet"),
    (lambda frame: None, "returned None"),
    (lambda frame: macro_f1_by_topic(frame).to_numpy(), "should return a pandas Series"),
    (lambda frame: macro_f1_by_topic(frame).iloc[:2], "one entry per topic"),
    (lambda frame: pd.Series({t: f1_score(p["label"], p["predicted"], average="macro", labels=[0, 1, 2],
                                          zero_division=0) for t, p in frame.groupby("topic")}),
     "average only the labels that occur"),
    (lambda frame: pd.Series({t: accuracy_score(p["label"], p["predicted"]) for t, p in frame.groupby("topic")}),
     "that is the accuracy"),
    (lambda frame: pd.Series({t: f1_score(frame["label"], frame["predicted"], average="macro")
                              for t in frame["topic"].unique()}), "all rows together"),
    (drop_column, "changed the table it was given"),
])
def test_macro_f1_by_topic_rejects_wrong_answers(wrong, message):
    with pytest.raises(ExerciseCheckError, match=re.escape(message)):
        checks.check_macro_f1_by_topic(wrong)
