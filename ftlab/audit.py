"""Look at a labelled text data set before training on it: labels, lengths, duplicates and leaks between splits.

Every function takes plain lists or a pandas DataFrame with a text and a label column, so it works on the tweets,
on a file of your own, or on the splits `ftlab.data.load_text_file` returns (`frame_of_splits` turns those into one
frame). Duplicates are found after `normalize`: the same words with other capitals or spacing count as the same
text, because a model sees them as nearly the same input.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

_SPACES = re.compile(r"\s+")


def normalize(text: str) -> str:
    """The form two texts are compared in: case folded, runs of white space made one space, ends stripped."""
    return _SPACES.sub(" ", str(text).casefold()).strip()


def frame_of_splits(splits: Mapping, label_names: Sequence[str] | None = None) -> pd.DataFrame:
    """One DataFrame (text, label name, split) from a DatasetDict or a dict of DataFrames."""
    parts = []
    for name, part in splits.items():
        frame = part.to_pandas() if hasattr(part, "to_pandas") else pd.DataFrame(part)
        names = label_names
        if names is None and hasattr(part, "features") and hasattr(part.features.get("label"), "names"):
            names = part.features["label"].names
        labels = frame["label"].map(dict(enumerate(names))) if names is not None else frame["label"]
        parts.append(pd.DataFrame({"text": frame["text"].astype(str), "label": labels.astype(str), "split": name}))
    return pd.concat(parts, ignore_index=True)


def label_table(frame: pd.DataFrame, by: str = "split") -> pd.DataFrame:
    """Rows per label in each split (columns), with each label's share of the split in a second table level."""
    counts = pd.crosstab(frame["label"], frame[by])
    shares = counts / counts.sum()
    return pd.concat({"rows": counts, "share": shares.round(3)}, axis=1)


def token_lengths(texts: Sequence[str], tokenizer) -> np.ndarray:
    """Tokens per text, the model's special tokens included, without truncation."""
    ids = tokenizer(list(texts), truncation=False, verbose=False)["input_ids"]
    return np.array([len(x) for x in ids])


def length_summary(lengths: np.ndarray, max_length: int) -> dict[str, float]:
    """Median, 95th percentile and longest length, and how many texts (and which share) `max_length` cuts."""
    cut = int((lengths > max_length).sum())
    return {"texts": int(len(lengths)), "median": float(np.median(lengths)),
            "p95": float(np.percentile(lengths, 95)), "longest": int(lengths.max()),
            "cut": cut, "cut_share": cut / max(1, len(lengths))}


def duplicate_groups(frame: pd.DataFrame) -> pd.DataFrame:
    """Every text that occurs more than once (after `normalize`): how often, in which splits, with which labels."""
    keyed = frame.assign(key=frame["text"].map(normalize))
    repeated = keyed[keyed.duplicated("key", keep=False)]
    if repeated.empty:
        return pd.DataFrame(columns=["text", "copies", "labels", "splits", "conflict"])
    grouped = repeated.groupby("key", sort=False)
    columns = {"text": grouped["text"].first(), "copies": grouped.size(),
               "labels": grouped["label"].agg(lambda s: sorted(set(s)))}
    if "split" in frame:
        columns["splits"] = grouped["split"].agg(lambda s: sorted(set(s)))
    table = pd.DataFrame(columns)
    table["conflict"] = table["labels"].map(len) > 1
    return table.sort_values("copies", ascending=False).reset_index(drop=True)


def leaks(frame: pd.DataFrame, train: str = "train") -> pd.DataFrame:
    """The rows of the other splits whose text (after `normalize`) also occurs in the `train` split.

    A leaked test text measures memory, not skill: the model saw it, with its label, during training.
    """
    keys = frame["text"].map(normalize)
    seen = set(keys[frame["split"] == train])
    leaked = (frame["split"] != train) & keys.isin(seen)
    return frame[leaked]


def deduplicate(frame: pd.DataFrame, text_column: str = "text", label_column: str = "label"
                ) -> tuple[pd.DataFrame, dict[str, int]]:
    """Keep one row per text (after `normalize`); drop every copy of a text whose copies disagree on the label.

    Returns the kept rows (original order and columns) and what was dropped: `copies` (repeats of a text with one
    label) and `conflicting` (rows of texts labelled two ways, which no model can get right both times).
    """
    keys = frame[text_column].map(normalize)
    labels_per_key = frame.groupby(keys)[label_column].nunique()
    conflicting = keys.map(labels_per_key) > 1
    repeat = keys.duplicated(keep="first") & ~conflicting
    kept = frame[~conflicting & ~repeat]
    return kept, {"rows": int(len(frame)), "kept": int(len(kept)), "copies": int(repeat.sum()),
                  "conflicting": int(conflicting.sum())}


def audit(frame: pd.DataFrame, lengths: np.ndarray | None = None, max_length: int | None = None) -> dict:
    """The whole look in one dictionary: rows, labels, duplicates, conflicts, leaks, and lengths if given."""
    groups = duplicate_groups(frame)
    report = {"rows": int(len(frame)), "labels": frame["label"].value_counts().to_dict(),
              "duplicate_texts": int(len(groups)), "extra_copies": int((groups["copies"] - 1).sum()),
              "conflicting_texts": int(groups["conflict"].sum()) if len(groups) else 0}
    if "split" in frame:
        leaked = leaks(frame)
        report["leaks"] = leaked["split"].value_counts().to_dict()
    if lengths is not None and max_length is not None:
        report["lengths"] = length_summary(lengths, max_length)
    return report


def plot_labels(frame: pd.DataFrame, ax=None, title: str = "Labels per split"):
    """Bar chart of each label's share in each split; returns the axes."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3))
    shares = frame.groupby("split")["label"].value_counts(normalize=True).rename("share").reset_index()
    sns.barplot(data=shares, x="share", y="label", hue="split", ax=ax)
    ax.set(xlabel="share of the split", ylabel="", title=title)
    return ax


def plot_lengths(lengths: np.ndarray, max_length: int, ax=None, title: str = "Tokens per text"):
    """Histogram of token lengths with the `max_length` cut marked; returns the axes."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3))
    upper = np.percentile(lengths, 99.5)
    sns.histplot(np.minimum(lengths, upper), bins=40, ax=ax, color="tab:blue")
    ax.axvline(max_length, color="tab:red", linestyle="--", label=f"max_length = {max_length}")
    ax.set(xlabel="tokens (the longest 0.5 % drawn at the right edge)", ylabel="texts", title=title)
    ax.legend()
    return ax
