"""Scores for a classifier: the numbers (functions) and the pictures (`plot_*` functions) kept apart."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd



def label_ids(*label_arrays, n_labels: int | None = None) -> list[int]:
    """The label ids a macro average runs over: 0 … n_labels − 1 when the number of labels is known (a model's
    outputs), else every id that occurs in the arrays given (the gold labels and the predictions)."""
    if n_labels is not None:
        if n_labels < 2:
            raise ValueError(f"a classifier has at least two labels, got n_labels={n_labels}")
        return list(range(n_labels))
    return sorted(int(x) for x in np.unique(np.concatenate([np.asarray(a).ravel() for a in label_arrays])))


def scores(y_true: Sequence[int], y_pred: Sequence[int], n_labels: int | None = None) -> dict[str, float]:
    """Accuracy and macro-F1 (the mean of the per-class F1 scores, so every class counts the same).

    The classes are those of the data: 0 … n_labels − 1 if `n_labels` is given (e.g. the model's number of
    outputs), else every label that occurs in `y_true` or `y_pred`. A class that is in neither is not averaged in.
    """
    from sklearn.metrics import accuracy_score, f1_score

    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape or y_true.ndim != 1:
        raise ValueError(f"y_true and y_pred must be 1-D and the same length, got shapes {y_true.shape} "
                         f"and {y_pred.shape}")
    if len(y_true) == 0:
        raise ValueError("y_true is empty: there is nothing to score")
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, average="macro", labels=label_ids(y_true, y_pred, n_labels=n_labels),
                                   zero_division=0)),
    }


def trainer_metrics(eval_prediction) -> dict[str, float]:
    """`compute_metrics` for a transformers Trainer: accuracy and macro-F1 from logits and labels."""
    logits, labels = eval_prediction
    if isinstance(logits, tuple):
        logits = logits[0]
    logits = np.asarray(logits)
    return scores(labels, logits.argmax(axis=-1), n_labels=logits.shape[-1])


def cross_entropy(logits, labels) -> float:
    """Mean cross-entropy loss of logits (one row per example) against integer labels, computed stably."""
    logits = np.asarray(logits, dtype=np.float64)
    labels = np.asarray(labels, dtype=int)
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return float(-log_probs[np.arange(len(labels)), labels].mean())


def scores_from_logits(logits, labels) -> dict[str, float]:
    """Loss, accuracy and macro-F1 of a classifier's logits: the one scorer every training loop reports."""
    logits = np.asarray(logits)
    return {"loss": cross_entropy(logits, labels), **scores(labels, logits.argmax(axis=1), n_labels=logits.shape[1])}


def softmax(logits: np.ndarray) -> np.ndarray:
    """Probabilities from logits along the last axis, computed stably."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


def paired_bootstrap(y_true, pred_a, pred_b, *, score: str = "macro_f1", n_resamples: int = 2000,
                     confidence: float = 0.95, seed: int = 0, n_labels: int | None = None) -> dict[str, float]:
    """The difference score(A) − score(B) on the same test items, with a paired bootstrap confidence interval.

    Each resample draws the test items with replacement and scores both models on the same draw, so the interval
    reflects how much the difference depends on which items happened to be in the test set. Returns
    {"difference", "low", "high", "confidence", "n_items"}; an interval that contains 0 means the data cannot tell
    the two models apart. Macro-F1 averages over the labels of `label_ids` (all of 0 … n_labels − 1 if given, else
    those that occur in the gold labels or either model's predictions), the same set on every resample.
    """
    y_true, pred_a, pred_b = (np.asarray(v) for v in (y_true, pred_a, pred_b))
    if not (y_true.shape == pred_a.shape == pred_b.shape) or y_true.ndim != 1:
        raise ValueError(f"y_true, pred_a and pred_b must be 1-D and the same length, got shapes {y_true.shape}, "
                         f"{pred_a.shape} and {pred_b.shape}: score both models on the same test items")
    if score not in {"accuracy", "macro_f1"}:
        raise ValueError(f"score must be 'accuracy' or 'macro_f1', got {score!r}")
    ids = label_ids(y_true, pred_a, pred_b, n_labels=n_labels)
    counts = bootstrap_counts(len(y_true), n_resamples, confidence=confidence, seed=seed)
    whole = np.ones((1, len(y_true)))

    def difference(weights: np.ndarray) -> np.ndarray:
        return _resampled_score(weights, y_true, pred_a, score, ids) - _resampled_score(weights, y_true, pred_b,
                                                                                         score, ids)
    return bootstrap_interval(difference(counts), float(difference(whole)[0]), confidence, len(y_true))


def bootstrap_counts(n_items: int, n_resamples: int = 2000, *, confidence: float = 0.95, seed: int = 0) -> np.ndarray:
    """How often each of `n_items` items is drawn in each bootstrap resample: (n_resamples, n_items) counts.

    The resampling every paired bootstrap of the course shares (macro-F1 here, chrF and window losses in lesson 07,
    similarity skill in lesson 06): a score of each resample is a weighted score with these counts as weights.
    `confidence` is only checked here, for the interval `bootstrap_interval` will draw from the resamples.
    """
    if not 0 < confidence < 1 or n_resamples < 100:
        raise ValueError(f"confidence must be between 0 and 1 and n_resamples at least 100, got {confidence} "
                         f"and {n_resamples}")
    if n_items < 1:
        raise ValueError("there are no items to resample: score both models on at least one item")
    draws = np.random.default_rng(seed).integers(0, n_items, size=(n_resamples, n_items))
    return np.stack([np.bincount(row, minlength=n_items) for row in draws]).astype(float)


def bootstrap_interval(resampled_differences, difference: float, confidence: float, n_items: int) -> dict[str, float]:
    """The result of a paired bootstrap: the observed `difference` and the central `confidence` interval of the
    differences over the resamples, as {"difference", "low", "high", "confidence", "n_items"}."""
    tail = (1 - confidence) / 2
    low, high = np.quantile(np.asarray(resampled_differences, dtype=float), [tail, 1 - tail])
    return {"difference": float(difference), "low": float(low), "high": float(high), "confidence": confidence,
            "n_items": int(n_items)}


def _resampled_score(counts: np.ndarray, y_true: np.ndarray, y_pred: np.ndarray, score: str,
                     ids: Sequence[int]) -> np.ndarray:
    """`scores(...)[score]` of every resample at once, from per-item counts; macro-F1 over the label `ids`."""
    if score == "accuracy":
        return counts @ (y_true == y_pred) / counts.sum(axis=1)
    f1 = []
    for label in ids:
        hits = counts @ ((y_true == label) & (y_pred == label))
        either = counts @ (y_true == label) + counts @ (y_pred == label)
        f1.append(np.divide(2 * hits, either, out=np.zeros_like(hits), where=either > 0))
    return np.mean(f1, axis=0)


def describe_difference(result: dict[str, float], better: str, worse: str, score: str = "macro-F1",
                        items: str = "test items") -> str:
    """One sentence for a `paired_bootstrap` result of `better` minus `worse`, in points (hundredths).

    Says which model is ahead and by how much when the interval excludes zero; says the difference is within
    noise when it does not. `items` names what was resampled (e.g. "validation tweets").
    """
    points = {key: 100 * result[key] for key in ("difference", "low", "high")}

    def interval(low: float, high: float) -> str:
        return f"{result['confidence']:.0%} interval {low:+.1f} to {high:+.1f}, {result['n_items']:,} {items}"

    if result["low"] > 0:
        return (f"{better} beats {worse} by {points['difference']:.1f} points of {score} "
                f"({interval(points['low'], points['high'])}).")
    if result["high"] < 0:  # said the other way round, so the interval is of worse minus better
        return (f"{worse} beats {better} by {-points['difference']:.1f} points of {score} "
                f"({interval(-points['high'], -points['low'])}).")
    return (f"{better} and {worse} differ by {points['difference']:+.1f} points of {score}, within noise: the "
            f"interval contains zero ({interval(points['low'], points['high'])}).")


def seed_spread(values: Sequence[float]) -> dict[str, float]:
    """Mean, standard deviation (n − 1), smallest and largest of one score measured at several seeds."""
    values = np.asarray(values, dtype=float)
    if values.ndim != 1 or len(values) < 2:
        raise ValueError(f"give one score per seed, at least two seeds, got {values.size}")
    return {"mean": float(values.mean()), "std": float(values.std(ddof=1)), "min": float(values.min()),
            "max": float(values.max()), "n_seeds": int(len(values))}


def negative_log_likelihood(probs, labels) -> float:
    """The mean of -log(probability given to the true label): lower is better, 0 for certain and right."""
    probs, labels = np.asarray(probs, dtype=float), np.asarray(labels)
    if probs.ndim != 2 or len(probs) != len(labels) or len(labels) == 0:
        raise ValueError(f"probs must be (texts, labels) and labels one id per text; got shapes {probs.shape} "
                         f"and {labels.shape}")
    return float(-np.log(np.clip(probs[np.arange(len(labels)), labels], 1e-12, None)).mean())


def fit_temperature(logits, labels, grid: Sequence[float] | None = None) -> float:
    """The temperature T for which softmax(logits / T) has the lowest negative log-likelihood on `labels`.

    Temperature scaling changes how sure the probabilities are, never which label wins. Fit it on held-out
    (validation) data, not on the test split. Without `grid`, T is found by a bounded one-dimensional search over
    log T (scipy's `minimize_scalar`) between 0.001 and 1000; a T at either end of that range means the logits
    carry no usable scale and raises an error. With `grid`, the best of those candidates is returned.
    """
    from scipy.optimize import minimize_scalar

    logits = np.asarray(logits, dtype=float)
    if grid is not None:
        grid = np.asarray(grid, dtype=float)
        if (grid <= 0).any():
            raise ValueError("every candidate temperature must be > 0")
        losses = [negative_log_likelihood(softmax(logits / t), labels) for t in grid]
        return float(grid[int(np.argmin(losses))])
    low, high = np.log(1e-3), np.log(1e3)
    found = minimize_scalar(lambda log_t: negative_log_likelihood(softmax(logits / np.exp(log_t)), labels),
                            bounds=(low, high), method="bounded", options={"xatol": 1e-4})
    if min(found.x - low, high - found.x) < 1e-2:
        raise ValueError(f"the best temperature lies at the edge of the search ({np.exp(found.x):.3g}): the "
                         "logits do not rank the true labels higher than the others, so no scaling helps")
    return float(np.exp(found.x))


def plot_confusion(y_true: Sequence[int], y_pred: Sequence[int], labels: Sequence[str] | None = None, ax=None,
                   normalize: bool = True, title: str = "Confusion matrix"):
    """A seaborn heatmap of the confusion matrix (rows: true label; each row sums to 1 if `normalize`).

    `labels` names the label ids 0, 1, … in order (e.g. `dataset.features["label"].names`); without it the rows
    and columns are the ids that occur.
    """
    import matplotlib.pyplot as plt
    import seaborn as sns
    from sklearn.metrics import confusion_matrix

    found = label_ids(y_true, y_pred)
    if labels is None:
        ids, labels = found, [str(i) for i in found]
    elif found[0] < 0 or found[-1] >= len(labels):
        raise ValueError(f"the label ids run from {found[0]} to {found[-1]}, but {len(labels)} names were given "
                         f"({list(labels)}): give one name per label id")
    else:
        ids = list(range(len(labels)))
    matrix = confusion_matrix(y_true, y_pred, labels=ids, normalize="true" if normalize else None)
    ax = ax or plt.subplots(figsize=(4.2, 3.6))[1]
    sns.heatmap(pd.DataFrame(matrix, index=list(labels), columns=list(labels)), annot=True,
                fmt=".2f" if normalize else "d", cmap="Blues", vmin=0, vmax=1 if normalize else None, ax=ax,
                cbar=False)
    ax.set(xlabel="predicted", ylabel="true", title=title)
    return ax


# ---------------------------------------------------------------------------------------------------
# Calibration: does a predicted probability of 0.8 come true 80 % of the time?


def _probabilities_and_labels(probs, labels, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Check the arguments of the calibration functions and return them as arrays."""
    probs = np.asarray(probs, dtype=float)
    labels = np.asarray(labels)
    if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 1:
        raise ValueError(f"bins must be a whole number of at least 1, got {bins!r}")
    if probs.ndim != 2:
        raise ValueError(f"probs must be 2-D, one row of class probabilities per example, got shape {probs.shape}"
                         + (": for one example use probs[None, :]" if probs.ndim == 1 else ""))
    if len(probs) == 0:
        raise ValueError("probs is empty: there is nothing to calibrate")
    if labels.ndim != 1 or len(labels) != len(probs):
        raise ValueError(f"labels must be 1-D with one label per row of probs: probs has shape {probs.shape}, "
                         f"labels {labels.shape}")
    if not np.all(np.isfinite(probs)) or probs.min() < 0 or probs.max() > 1 or \
            not np.allclose(probs.sum(axis=1), 1.0, atol=1e-3):
        raise ValueError("each row of probs must be probabilities that sum to 1; if you have logits, "
                         "pass softmax(logits)")
    if not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0 or labels.max() >= probs.shape[1]:
        raise ValueError(f"labels must be class ids from 0 to {probs.shape[1] - 1} (one per column of probs), "
                         f"got values from {labels.min()} to {labels.max()}")
    return probs, labels


def reliability_table(probs, labels, bins: int = 10) -> pd.DataFrame:
    """Group predictions by confidence (the top probability) into equal-width bins and compare with accuracy.

    One row per non-empty bin: its range, the number of examples, their mean confidence, the share that is
    right (accuracy) and the gap accuracy − confidence (negative: overconfident). Bin k holds confidences in
    [k/bins, (k+1)/bins); a confidence of exactly 1 goes into the last bin.
    """
    probs, labels = _probabilities_and_labels(probs, labels, bins)
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == labels
    bin_of = np.minimum((confidence * bins).astype(int), bins - 1)
    rows = []
    for k in np.unique(bin_of):
        in_bin = bin_of == k
        rows.append({"bin_low": k / bins, "bin_high": (k + 1) / bins, "count": int(in_bin.sum()),
                     "confidence": float(confidence[in_bin].mean()), "accuracy": float(correct[in_bin].mean())})
    table = pd.DataFrame(rows)
    table["gap"] = table["accuracy"] - table["confidence"]
    return table


def expected_calibration_error(probs, labels, bins: int = 10) -> float:
    """ECE: the gap |accuracy − confidence| of each confidence bin, averaged with the bins' shares as weights."""
    table = reliability_table(probs, labels, bins)
    return float((table["count"] / table["count"].sum() * table["gap"].abs()).sum())


def plot_reliability(table: pd.DataFrame, ax=None, title: str = "Reliability diagram"):
    """Accuracy per confidence bin (bars) against the diagonal of perfect calibration; returns the axes.

    `table` is what `reliability_table` returns. Each bar is labelled with the number of examples in its bin.
    """
    import matplotlib.pyplot as plt

    missing = {"bin_low", "bin_high", "count", "confidence", "accuracy"} - set(table.columns)
    if missing:
        raise ValueError(f"table lacks the columns {sorted(missing)}: pass the result of reliability_table(...)")
    ax = ax or plt.subplots(figsize=(4.6, 4.2))[1]
    width = table["bin_high"] - table["bin_low"]
    ax.bar(table["bin_low"], table["accuracy"], width=width, align="edge", color="tab:blue", edgecolor="white",
           alpha=0.85, label="accuracy in the bin")
    ax.plot(table["confidence"], table["confidence"], "o", color="tab:red", markersize=4,
            label="mean confidence in the bin")
    for row in table.itertuples():  # the bin's size, above both its bar and its dot
        ax.text((row.bin_low + row.bin_high) / 2, max(row.accuracy, row.confidence) + 0.02, f"{row.count:,}",
                ha="center", va="bottom", fontsize=7)
    ax.plot([0, 1], [0, 1], "--", color="gray", label="perfectly calibrated")
    ax.set(xlim=(0, 1), ylim=(0, 1.08), xlabel="confidence (top predicted probability)", ylabel="accuracy",
           title=title)
    ax.legend(loc="upper left", fontsize=8)
    return ax
