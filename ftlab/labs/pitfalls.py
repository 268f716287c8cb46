"""Lesson 06's experiments: the data they need (label noise), the general skill they measure, many runs at once.

`flip_labels` and `with_labels` make a noisy copy of a training set; `similarity_skill` measures how well the
encoder still rates sentence similarity as people do (the Lee corpus), so forgetting can be seen; `Lab` trains
many variants with one recipe (`ftlab.training.train_classifier`) and scores each on the same test tweets.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import pandas as pd

from ftlab.assets import resolve_data
from ftlab.config import LABELS, SEED
from ftlab.evaluate import scores
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


def similarity_skill(encoder, tokenizer, docs: Sequence[str] | None = None, ratings: np.ndarray | None = None,
                     max_length: int = 256) -> float:
    """Pearson correlation between the encoder's cosine similarities and people's ratings on the Lee pairs.

    `encoder` is a bare encoder or a classifier (its encoder body is used); vectors are mean-pooled, the way
    all-MiniLM-L6-v2 was pretrained to compare sentences.
    """

    if docs is None or ratings is None:
        docs, ratings = lee_corpus()
    body = getattr(encoder, "base_model", encoder)
    vectors = embed(list(docs), body, tokenizer, max_length=max_length, progress=False)
    i, j, human = lee_pairs(ratings)
    cosine = np.sum(vectors[i] * vectors[j], axis=1)
    return float(np.corrcoef(cosine, human)[0, 1])


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
            run.similarity = similarity_skill(_plain_model(run.model), self.tokenizer)
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
