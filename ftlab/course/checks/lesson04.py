"""Self-checks for lesson 04's exercises (evaluation): each says what is wrong and how to look for it."""

from __future__ import annotations

from typing import Callable

import numpy as np

from ftlab.course.checks.core import ExerciseCheckError, as_array, call_safely, passed, require
from ftlab.evaluate import expected_calibration_error, expected_calibration_error as reference_ece, reliability_table


def _macro_f1_reference(matrix: np.ndarray) -> float:
    """Macro-F1 from a confusion matrix (rows true, columns predicted); a label with 2TP + FP + FN = 0 scores 0."""
    tp = np.diag(matrix).astype(float)
    fp, fn = matrix.sum(axis=0) - tp, matrix.sum(axis=1) - tp
    denominator = 2 * tp + fp + fn
    return float(np.mean(np.divide(2 * tp, denominator, out=np.zeros_like(tp), where=denominator > 0)))


def check_macro_f1_from_confusion(macro_f1_from_confusion: Callable) -> None:
    """Exercise 04.1: `macro_f1_from_confusion(matrix)` computes macro-F1 from a confusion matrix."""
    rng = np.random.default_rng(4)
    cases = [
        (np.array([[5, 0, 0], [0, 3, 0], [0, 0, 2]]), "every answer is right"),
        (np.array([[50, 10, 5], [8, 30, 12], [2, 6, 20]]), "the model makes some mistakes"),
        (np.array([[8, 0, 0], [1, 0, 0], [1, 0, 0]]), "the model always answers the first label"),
        (np.array([[40, 10], [5, 5]]), "there are only two labels"),
        (rng.integers(1, 30, size=(4, 4)), "the matrix is random, with four labels"),
    ]
    for index, (matrix, why) in enumerate(cases):
        call = f"macro_f1_from_confusion({matrix.tolist()})"
        result = call_safely(macro_f1_from_confusion, matrix.copy(),
                             what=call if index else "macro_f1_from_confusion")
        require(result is not None, f"{call} returned None: end the function with `return` and the macro-F1")
        value = as_array(result, f"the result of {call}")
        require(value.size == 1, f"{call} should be one number, got an array of shape {value.shape}: average the "
                                 f"per-label F1 scores with np.mean")
        got = float(value.reshape(-1)[0])
        expected = _macro_f1_reference(matrix)
        if np.isclose(got, expected, atol=1e-6):
            continue
        tp = np.diag(matrix).astype(float)
        with np.errstate(divide="ignore", invalid="ignore"):
            precision, recall = tp / matrix.sum(axis=0), tp / matrix.sum(axis=1)
        support = matrix.sum(axis=1) / matrix.sum()
        f1 = np.nan_to_num(2 * tp / (2 * tp + (matrix.sum(axis=0) - tp) + (matrix.sum(axis=1) - tp)))
        if not np.isfinite(got):
            hint = ("a label that is never predicted has precision 0/0: count its precision (and F1) as 0, or use "
                    "F1 = 2·TP / (2·TP + FP + FN), which never divides by zero here")
        elif np.isclose(got, tp.sum() / matrix.sum()):
            hint = "that is the accuracy (the diagonal over the total); macro-F1 averages one F1 score per label"
        elif np.isclose(got, float((f1 * support).sum())):
            hint = "you weighted the labels by their number of tweets; macro-F1 gives every label the same weight"
        elif np.isclose(got, np.nanmean(precision)) or np.isclose(got, np.nanmean(recall)):
            hint = "that is the mean precision or the mean recall alone; F1 combines both, 2·P·R / (P + R)"
        elif np.isclose(got, np.nanmean(np.nan_to_num((precision + recall) / 2))):
            hint = "F1 is the harmonic mean of precision and recall, 2·P·R / (P + R), not their plain average"
        else:
            hint = ("for each label, precision = TP / column sum and recall = TP / row sum (rows are true labels), "
                    "F1 = 2·P·R / (P + R); then average the labels")
        raise ExerciseCheckError(f"when {why}, {call} should be {expected:.4f}, got {got:.4f}: {hint}")
    passed("macro_f1_from_confusion gives every label's F1 the same weight, also when a label is never predicted")


def _ece_cases() -> list[tuple[np.ndarray, np.ndarray, int, float, str]]:
    """(probs, labels, bins, expected ECE, what the case is) for the ECE exercise."""

    def rows(top: float, n: int, n_right: int) -> tuple[np.ndarray, np.ndarray]:
        rest = (1 - top) / 2
        probs = np.tile([top, rest + 0.01, rest - 0.01] if rest > 0 else [1.0, 0.0, 0.0], (n, 1))
        return probs, np.array([0] * n_right + [1] * (n - n_right))

    cases = []
    probs, labels = rows(0.8, 10, 8)
    cases.append((probs, labels, 10, 0.0, "10 tweets at confidence 0.8 of which 8 are right"))
    probs, labels = rows(0.9, 10, 6)
    cases.append((probs, labels, 10, 0.3, "10 tweets at confidence 0.9 of which only 6 are right"))
    p1, l1 = rows(0.95, 4, 2)
    p2, l2 = rows(0.45, 6, 6)
    cases.append((np.vstack([p1, p2]), np.concatenate([l1, l2]), 10, 0.4 * 0.45 + 0.6 * 0.55,
                  "4 tweets at 0.95 (2 right) and 6 at 0.45 (all right)"))
    probs, labels = rows(1.0, 5, 4)
    cases.append((probs, labels, 10, 0.2, "5 tweets at confidence exactly 1.0 of which 4 are right"))
    p1, l1 = rows(0.45, 5, 5)
    p2, l2 = rows(0.55, 5, 0)
    cases.append((np.vstack([p1, p2]), np.concatenate([l1, l2]), 5, 0.0,
                  "5 tweets at 0.45 (all right) and 5 at 0.55 (all wrong), which share a bin when bins=5"))
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(300, 3)) * 2
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    labels = np.array([rng.choice(3, p=row) for row in probs])  # drawn from the probabilities: nearly calibrated
    cases.append((probs, labels, 10, expected_calibration_error(probs, labels, bins=10),
                  "300 random predictions"))
    return cases


def check_expected_calibration_error(expected_calibration_error: Callable) -> None:
    """Exercise 04.2: `expected_calibration_error(probs, labels, bins=10)` written by hand."""

    for index, (probs, labels, bins, expected, why) in enumerate(_ece_cases()):
        call = f"expected_calibration_error(probs, labels, bins={bins}) for {why}"
        result = call_safely(expected_calibration_error, probs.copy(), labels.copy(), bins,
                             what=call if index else "expected_calibration_error")
        require(result is not None, f"{call} returned None: end the function with `return` and the ECE")
        value = as_array(result, f"the result of {call}")
        require(value.size == 1, f"{call} should be one number, got an array of shape {value.shape}")
        got = float(value.reshape(-1)[0])
        if np.isclose(got, expected, atol=1e-6):
            continue
        table = reliability_table(probs, labels, bins)
        weights = table["count"] / table["count"].sum()
        if not np.isfinite(got):
            hint = "skip the empty bins: the mean of an empty bin is nan"
        elif np.isclose(got, table["gap"].abs().mean()):
            hint = "you averaged the bins equally; weight each bin's gap by its share of the tweets, n_b / n"
        elif np.isclose(got, abs(float((weights * table["gap"]).sum()))):
            hint = "take the absolute value of each bin's gap before adding: gaps of opposite sign must not cancel"
        elif np.isclose(probs.max(), 1.0) and np.isclose(got, 0.0):
            hint = ("a confidence of exactly 1.0 gives int(1.0 * bins) = bins, one past the last bin: put it in the "
                    "last bin, min(int(confidence * bins), bins - 1)")
        elif bins != 10 and np.isclose(got, reference_ece(probs, labels, bins=10), atol=1e-6):
            hint = f"use the `bins` argument (here {bins}) instead of always 10 bins"
        else:
            hint = ("confidence = probs.max(axis=1), correct = probs.argmax(axis=1) == labels, bin = "
                    "min(int(confidence * bins), bins - 1); then add up n_b / n · |accuracy_b − confidence_b|")
        raise ExerciseCheckError(f"{call} should be {expected:.4f}, got {got:.4f}: {hint}")
    passed("expected_calibration_error is right: 0 when calibrated, the weighted gap when not, any number of bins")


def _tfidf_check_data() -> tuple[list[str], list[int], list[str], list[int]]:
    """A small three-label text set: train and validation texts and labels (validation imbalanced)."""
    rng = np.random.default_rng(7)
    words = [["awful", "late", "rude", "lost", "worst"], ["today", "flight", "gate", "seat", "news"],
             ["great", "thanks", "love", "kind", "best"]]
    filler = ["the", "a", "my", "was", "it", "so", "and", "we"]

    def texts(counts: list[int]) -> tuple[list[str], list[int]]:
        out, labels = [], []
        for label, n in enumerate(counts):
            for _ in range(n):
                # Half of each text's words come from another label, so the task is not trivial.
                own = list(rng.choice(words[label], size=2))
                other = list(rng.choice(words[(label + rng.integers(1, 3)) % 3], size=2))
                out.append(" ".join(own + other + list(rng.choice(filler, size=3))))
                labels.append(label)
        return out, labels

    train_texts, train_labels = texts([20, 20, 20])
    val_texts, val_labels = texts([15, 10, 5])
    return train_texts, train_labels, val_texts, val_labels


def check_validation_scores(validation_scores: Callable) -> None:
    """Exercise 04.3: `validation_scores(settings, train_texts, train_labels, val_texts, val_labels)`."""
    from sklearn.base import clone
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.pipeline import make_pipeline

    train_texts, train_labels, val_texts, val_labels = _tfidf_check_data()
    settings = {
        "words, C=0.1": make_pipeline(TfidfVectorizer(), LogisticRegression(C=0.1, max_iter=1000)),
        "words, C=10": make_pipeline(TfidfVectorizer(), LogisticRegression(C=10, max_iter=1000)),
        "chars 2-4, C=1": make_pipeline(TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4)),
                                        LogisticRegression(C=1, max_iter=1000)),
    }
    expected, on_train, accuracy = {}, {}, {}
    for name, pipeline in settings.items():
        fitted = clone(pipeline).fit(train_texts, train_labels)
        predicted = fitted.predict(val_texts)
        expected[name] = f1_score(val_labels, predicted, average="macro")
        accuracy[name] = accuracy_score(val_labels, predicted)
        on_train[name] = f1_score(train_labels, fitted.predict(train_texts), average="macro")
    call = "validation_scores(settings, train_texts, train_labels, val_texts, val_labels)"
    result = call_safely(validation_scores, {k: clone(v) for k, v in settings.items()}, list(train_texts),
                         list(train_labels), list(val_texts), list(val_labels), what=call)
    require(result is not None, f"{call} returned None: return a dictionary {{setting name: validation macro-F1}}")
    require(hasattr(result, "keys"), f"{call} should return a dictionary {{setting name: macro-F1}}, "
                                     f"got {type(result).__name__}")
    require(set(result.keys()) == set(settings),
            f"the dictionary should have one entry per setting, {sorted(settings)}; got {sorted(result.keys())}")
    for name in settings:
        got = float(as_array(result[name], f"the score of {name!r}").reshape(-1)[0])
        if np.isclose(got, expected[name], atol=1e-6):
            continue
        if np.isclose(got, on_train[name], atol=1e-6):
            hint = "that is the score on the training texts; fit on the training texts, score on the validation texts"
        elif np.isclose(got, accuracy[name], atol=1e-6):
            hint = "that is the accuracy; use f1_score(val_labels, predicted, average='macro')"
        else:
            hint = "fit each pipeline on the training texts, predict the validation texts, score with macro-F1"
        raise ExerciseCheckError(f"on a small test set, the setting {name!r} should score {expected[name]:.4f}, "
                                 f"got {got:.4f}: {hint}")
    passed("validation_scores fits on the training texts and scores macro-F1 on the validation texts only")


def check_macro_f1_by_topic(macro_f1_by_topic: Callable) -> None:
    """Exercise 04.4: `macro_f1_by_topic(frame)` gives one macro-F1 per topic."""
    import pandas as pd
    from sklearn.metrics import accuracy_score, f1_score

    frame = pd.DataFrame({
        "topic": ["air"] * 8 + ["cars"] * 6 + ["phones"] * 6,
        "label": [0, 0, 0, 0, 1, 1, 2, 2] + [1, 1, 1, 1, 0, 0] + [2, 2, 2, 0, 0, 1],
        "predicted": [0, 0, 0, 1, 1, 0, 2, 0] + [1, 1, 1, 0, 0, 1] + [2, 2, 0, 0, 1, 1],
        "text": [f"tweet {i}" for i in range(20)],
    })
    before = frame.copy()
    groups = {topic: part for topic, part in frame.groupby("topic")}
    expected = {t: f1_score(p["label"], p["predicted"], average="macro", zero_division=0) for t, p in groups.items()}
    all_labels = {t: f1_score(p["label"], p["predicted"], average="macro", labels=[0, 1, 2], zero_division=0)
                  for t, p in groups.items()}
    accuracy = {t: accuracy_score(p["label"], p["predicted"]) for t, p in groups.items()}
    overall = f1_score(frame["label"], frame["predicted"], average="macro")
    result = call_safely(macro_f1_by_topic, frame, what="macro_f1_by_topic(frame)")
    require(frame.equals(before), "macro_f1_by_topic changed the table it was given: work on a copy")
    require(result is not None, "macro_f1_by_topic returned None: return a pandas Series, one value per topic")
    if isinstance(result, dict):
        result = pd.Series(result)
    require(isinstance(result, pd.Series), f"macro_f1_by_topic should return a pandas Series (topic -> macro-F1), "
                                           f"got {type(result).__name__}")
    require(sorted(result.index) == sorted(groups),
            f"the Series should have one entry per topic, {sorted(groups)}; got {list(result.index)}")
    for topic, want in expected.items():
        got = float(result[topic])
        if np.isclose(got, want, atol=1e-6):
            continue
        if np.isclose(got, all_labels[topic], atol=1e-6):
            hint = ("the topic has no tweets of one label, and you counted that label's F1 as 0; average only the "
                    "labels that occur in the topic, as f1_score does when you do not pass labels=")
        elif np.isclose(got, accuracy[topic], atol=1e-6):
            hint = "that is the accuracy; use f1_score(..., average='macro')"
        elif np.isclose(got, overall, atol=1e-6):
            hint = "that is the macro-F1 of all rows together; compute it separately within each topic (groupby)"
        else:
            hint = "group the rows by topic and compute f1_score(label, predicted, average='macro') in each group"
        raise ExerciseCheckError(f"on a small table, the topic {topic!r} should have macro-F1 {want:.4f}, "
                                 f"got {got:.4f}: {hint}")
    passed("macro_f1_by_topic scores each topic on its own tweets and labels")
