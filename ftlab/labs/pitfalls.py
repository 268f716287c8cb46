"""Lesson 06's experiments: the data they need (label noise), the general skill they measure, many runs at once.

`flip_labels` and `with_labels` make a noisy copy of a training set; `similarity_skill` measures how well the
encoder still rates sentence similarity as people do (the Lee corpus), so forgetting can be seen, and
`skill_difference` puts a bootstrap interval on the difference of two encoders' skill; `Lab` trains many variants
with one recipe (`ftlab.training.train_classifier`) and scores each on the same test tweets.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import pandas as pd

from ftlab.assets import resolve_data
from ftlab.config import LABELS, SEED
from ftlab.evaluate import bootstrap_counts, bootstrap_interval, scores
from ftlab.models import embed, predict_logits
from ftlab.training.efficient import merge_lora
from ftlab.training.loop import Run, train_classifier


def flip_labels(labels: Sequence[int], share: float, seed: int = SEED, n_classes: int = len(LABELS),
                weights: Sequence[float] | None = None) -> np.ndarray:
    """Give `share` of the labels a different, randomly chosen class (label noise), reproducibly.

    `weights` (one per example, non-negative) makes an example's chance of being picked proportional to its
    weight, e.g. 1 - annotator agreement: errors then fall where people also disagreed. Without it every
    example is equally likely to be flipped.
    """
    labels = np.asarray(labels, dtype=int)
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"share must be between 0 and 1, got {share}")
    rng = np.random.default_rng(seed)
    n_flip = int(round(share * len(labels)))
    if weights is None:
        chosen = rng.choice(len(labels), size=n_flip, replace=False)
    else:
        weights = np.asarray(weights, dtype=float)
        if weights.shape != labels.shape or (weights < 0).any() or not np.isfinite(weights).all():
            raise ValueError("weights must be one finite, non-negative number per label")
        if np.count_nonzero(weights) < n_flip:
            raise ValueError(f"only {np.count_nonzero(weights)} examples have a weight above 0, "
                             f"fewer than the {n_flip} to flip")
        chosen = rng.choice(len(labels), size=n_flip, replace=False, p=weights / weights.sum())
    noisy = labels.copy()
    shift = rng.integers(1, n_classes, size=n_flip)  # never the same class again
    noisy[chosen] = (labels[chosen] + shift) % n_classes
    return noisy


def with_labels(dataset, labels: Sequence[int]):
    """The dataset with its `label` column replaced (same length, same class names)."""
    labels = [int(x) for x in labels]
    if len(labels) != len(dataset):
        raise ValueError(f"got {len(labels)} labels for a dataset of {len(dataset)} rows")
    features = dataset.features.copy()
    return dataset.remove_columns("label").add_column("label", labels).cast(features)


def lee_corpus() -> tuple[list[str], np.ndarray]:
    """The Lee corpus: 50 short news documents and a 50×50 matrix of mean human similarity ratings (0 to 1).

    It ships with gensim's test data (`pip install gensim`); the files are read, gensim is never imported.
    Only the upper triangle of the matrix is filled: use :func:`lee_pairs`.
    """

    folder = resolve_data("lee")
    docs = [line.strip() for line in (folder / "lee.cor").read_text(encoding="latin-1").splitlines() if line.strip()]
    ratings = np.loadtxt(folder / "similarities0-1.txt")
    if len(docs) != 50 or ratings.shape != (50, 50):
        raise ValueError(f"{folder}: expected 50 documents and a 50×50 matrix, found {len(docs)} and {ratings.shape}")
    return docs, ratings


def lee_pairs(ratings: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The 1,225 document pairs (i < j) and their human ratings: (i, j, rating)."""
    i, j = np.triu_indices(len(ratings), k=1)
    return i, j, ratings[i, j]


def pair_cosines(encoder, tokenizer, docs: Sequence[str], ratings: np.ndarray, max_length: int = 256) -> np.ndarray:
    """The encoder's cosine similarity of every Lee pair (in `lee_pairs` order), from mean-pooled vectors.

    `encoder` is a bare encoder or a classifier (its encoder body is used), as all-MiniLM-L6-v2 was pretrained
    to compare sentences.
    """
    body = getattr(encoder, "base_model", encoder)
    vectors = embed(list(docs), body, tokenizer, max_length=max_length, progress=False)
    i, j, _ = lee_pairs(ratings)
    return np.sum(vectors[i] * vectors[j], axis=1)


def similarity_skill(encoder, tokenizer, docs: Sequence[str] | None = None, ratings: np.ndarray | None = None,
                     max_length: int = 256) -> float:
    """Pearson correlation between the encoder's cosine similarities and people's ratings on the Lee pairs."""
    if docs is None or ratings is None:
        docs, ratings = lee_corpus()
    cosine = pair_cosines(encoder, tokenizer, docs, ratings, max_length)
    return float(np.corrcoef(cosine, lee_pairs(ratings)[2])[0, 1])


def skill_difference(ratings: np.ndarray, cosines_a: np.ndarray, cosines_b: np.ndarray, *, n_resamples: int = 2000,
                     confidence: float = 0.95, seed: int = SEED) -> dict[str, float]:
    """Similarity skill of A minus that of B (Pearson r with people's ratings), with a bootstrap interval.

    Each resample draws the documents (not the pairs: pairs that share a document are not independent) with
    replacement and scores both encoders on the pairs of the drawn documents, each pair weighted by how often
    its two documents were drawn. The same keys as `ftlab.evaluate.paired_bootstrap`, with `n_items` the
    number of documents.
    """
    i, j, human = lee_pairs(ratings)
    cosines_a, cosines_b = np.asarray(cosines_a, dtype=float), np.asarray(cosines_b, dtype=float)
    if cosines_a.shape != human.shape or cosines_b.shape != human.shape:
        raise ValueError(f"give one cosine per Lee pair ({len(human)}, from pair_cosines) for both encoders; got "
                         f"{cosines_a.shape} and {cosines_b.shape}")
    draws = bootstrap_counts(len(ratings), n_resamples, confidence=confidence, seed=seed)
    weights = draws[:, i] * draws[:, j]
    resampled = _weighted_pearson(weights, cosines_a, human) - _weighted_pearson(weights, cosines_b, human)
    difference = np.corrcoef(cosines_a, human)[0, 1] - np.corrcoef(cosines_b, human)[0, 1]
    return bootstrap_interval(resampled, difference, confidence, len(ratings))


def _weighted_pearson(weights: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson r of x and y under each row of `weights` (one weighted correlation per row)."""
    total = weights.sum(axis=1, keepdims=True)
    dx = x - (weights @ x)[:, None] / total
    dy = y - (weights @ y)[:, None] / total
    return (weights * dx * dy).sum(axis=1) / np.sqrt((weights * dx ** 2).sum(axis=1) * (weights * dy ** 2).sum(axis=1))


class Lab:
    """Trains many variants with one recipe, scores each on the same test tweets and keeps the results.

    recipe: the settings of `train_classifier` every run starts from (learning_rate, batch_size, ...).
    min_examples: small training sets get more epochs, so that every run takes at least this many training
        steps' worth of examples (and at least `recipe["epochs"]` epochs): a run on 50 tweets still learns.
    """

    def __init__(self, tokenizer, test, *, recipe: dict, min_examples: int = 0):
        if "label" not in test.column_names or len(test) == 0:
            raise ValueError("test must be a non-empty tokenized dataset with a 'label' column")
        self.tokenizer = tokenizer
        self.test = test
        self.y_test = np.asarray(test["label"])
        self.recipe = dict(recipe)
        self.min_examples = min_examples
        self.runs: dict[str, Run] = {}
        self.cosines: dict[str, np.ndarray] = {}  # each run's `pair_cosines` (runs with similarity=True)
        self._lee = None

    def epochs_for(self, n: int) -> int:
        """Epochs for a training set of `n` examples: the recipe's, or more for a small set."""
        base = int(self.recipe.get("epochs", 2))
        return max(base, math.ceil(self.min_examples / max(n, 1)))

    def fit(self, name: str, train, *, similarity: bool = False, keep_model: bool = False, **changes) -> Run:
        """Train `name` on `train` with the recipe plus `changes`, score it on the test tweets, remember it.

        similarity: also measure the encoder's sentence-similarity skill (`similarity_skill`) afterwards.
        keep_model: keep the trained model in `run.model` (otherwise it is dropped to free memory).
        """

        settings = {**self.recipe, "epochs": self.epochs_for(len(train)), **changes}
        run = train_classifier(train, self.tokenizer, desc=name, **settings)
        run.name = name
        logits = predict_logits(run.model, self.test, self.tokenizer, batch_size=32, progress=False)
        run.test_pred = logits.argmax(axis=1)
        run.test_scores = scores(self.y_test, run.test_pred)
        if similarity:
            self._lee = self._lee or lee_corpus()
            self.cosines[name] = pair_cosines(_plain_model(run.model), self.tokenizer, *self._lee)
            run.similarity = float(np.corrcoef(self.cosines[name], lee_pairs(self._lee[1])[2])[0, 1])
        if not keep_model:
            run.model = None
        self.runs[name] = run
        extra = "" if run.similarity is None else f", similarity skill {run.similarity:.3f}"
        print(f"{name}: {len(train):,} examples × {run.stopped_epoch} epochs in {run.seconds:.0f} s → "
              f"test macro-F1 {run.test_scores['macro_f1']:.3f}{extra}", flush=True)
        return run

    def table(self) -> pd.DataFrame:
        """One row per run: training size, epochs, seconds, test accuracy and macro-F1, similarity skill."""
        rows = [{"run": r.name, "examples": r.settings["n_train"], "epochs": r.stopped_epoch,
                 "seconds": round(r.seconds, 1), **{k: round(v, 3) for k, v in r.test_scores.items()},
                 "similarity": None if r.similarity is None else round(r.similarity, 3)}
                for r in self.runs.values()]
        return pd.DataFrame(rows).set_index("run")


def _plain_model(model):
    """A LoRA (peft) model with its adapters merged into the weights; any other model unchanged."""

    return merge_lora(model) if hasattr(model, "merge_and_unload") else model
