"""Self-checks for lesson 04's exercises (evaluation): each says what is wrong and how to look for it."""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ftlab.course.checks.core import ExerciseCheckError, as_array, call_safely, passed, require
from ftlab.config import SEED
from ftlab.evaluate import expected_calibration_error, paired_bootstrap


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


def ship_rule(candidates: Mapping[str, np.ndarray], labels: np.ndarray, seed: int = SEED) -> dict:
    """The figures the shipping rule of exercise 04.2 needs, and the model it ships.

    Quality first: when the paired bootstrap interval of the macro-F1 difference excludes zero, the better model
    ships; when it contains zero, the lower ECE (ten bins) decides.
    """
    (first, probs_a), (second, probs_b) = candidates.items()
    quality = paired_bootstrap(labels, probs_a.argmax(axis=1), probs_b.argmax(axis=1), seed=seed)
    eces = {name: expected_calibration_error(probs, labels) for name, probs in candidates.items()}
    if quality["low"] > 0:
        ship = first
    elif quality["high"] < 0:
        ship = second
    else:
        ship = min(eces, key=eces.get)
    return {"quality": quality, "ece": eces, "ship": ship, "names": (first, second)}


def check_ship_decision(ship: Any, candidates: Mapping[str, Any], labels: Any) -> None:
    """Exercise 04.2: `ship` names the model the rule picks from validation macro-F1 (with its interval) and ECE."""
    require(isinstance(candidates, Mapping) and len(candidates) == 2,
            "pass the dictionary of the two candidates' validation probabilities, {name: probabilities}")
    probs = {name: as_array(value, f"the probabilities of {name!r}") for name, value in candidates.items()}
    labels = as_array(labels, "the validation labels").astype(int)
    require(ship is not None, "`ship` is None: set it to the name of the model you would ship")
    require(isinstance(ship, str) and ship in probs,
            f"`ship` should be one of {sorted(probs)}, got {ship!r}")
    rule = ship_rule(probs, labels)
    quality, eces, (first, second) = rule["quality"], rule["ece"], rule["names"]
    interval = (f"{first} minus {second}: {100 * quality['difference']:+.1f} macro-F1 points, interval "
                f"{100 * quality['low']:+.1f} to {100 * quality['high']:+.1f}")
    calibration = ", ".join(f"{name} {value:.3f}" for name, value in eces.items())
    if ship == rule["ship"]:
        reason = ("the interval excludes zero, so quality decides" if quality["low"] > 0 or quality["high"] < 0
                  else "the interval contains zero, so calibration decides")
        passed(f"ship {ship}: {reason} ({interval}; ECE {calibration})")
        return
    if quality["low"] > 0 or quality["high"] < 0:
        hint = (f"the macro-F1 interval excludes zero ({interval}), so quality decides first, whatever the ECE "
                f"({calibration}); a temperature can repair calibration later, not quality")
    else:
        hint = (f"the macro-F1 interval contains zero ({interval}): on these tweets the two are tied on quality, "
                f"however the point estimates fall, so the lower ECE decides ({calibration})")
    raise ExerciseCheckError(f"the rule ships {rule['ship']}, not {ship}: {hint}")


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


def weakest_topic(frame, min_tweets: int):
    """The topic with the lowest macro-F1 among those with at least `min_tweets` rows, and every such topic's score.

    `frame` has columns topic, label and predicted; macro-F1 averages the labels that occur in the topic.
    """
    import pandas as pd
    from sklearn.metrics import f1_score

    sizes = frame["topic"].value_counts()
    scores = {topic: f1_score(part["label"], part["predicted"], average="macro", zero_division=0)
              for topic, part in frame.groupby("topic") if sizes[topic] >= min_tweets}
    require(len(scores) >= 2, f"fewer than two topics have at least {min_tweets} tweets: lower min_tweets")
    ranked = pd.Series(scores, name="macro-F1").sort_values()
    return str(ranked.index[0]), ranked


def check_topic_guess(guess: Any, eligible: Sequence[str]) -> None:
    """Exercise 04.4, the prediction: `guess` is one of the topics that will be scored, written down before measuring."""
    require(guess is not None, "`guess` is None: write the topic you expect to be weakest, as a string")
    require(isinstance(guess, str) and guess in list(eligible),
            f"`guess` should be one of the topics that will be scored, {sorted(eligible)}; got {guess!r}")
    passed(f"your prediction is written down: {guess}. Now measure")


def judge_topic_guess(guess: str, frame, min_tweets: int) -> None:
    """Exercise 04.4, the measurement: the weakest topic on validation, and how the prediction fared."""
    require({"topic", "label", "predicted"} <= set(frame.columns),
            f"the table needs columns topic, label and predicted; it has {list(frame.columns)}")
    weakest, ranked = weakest_topic(frame, min_tweets)
    require(guess in ranked.index, f"{guess!r} is not among the measured topics {list(ranked.index)}")
    rank = list(ranked.index).index(guess) + 1
    if guess == weakest:
        passed(f"your prediction was right: {weakest} is the weakest topic (macro-F1 {ranked[weakest]:.3f} of "
               f"{len(ranked)} topics measured)")
    else:
        print(f"\u2022 measured: the weakest topic is {weakest} (macro-F1 {ranked[weakest]:.3f}); your guess {guess} "
               f"ranks {rank} of {len(ranked)} from the bottom (macro-F1 {ranked[guess]:.3f}). A prediction that "
               f"missed is worth a look: which clue pointed elsewhere?")
