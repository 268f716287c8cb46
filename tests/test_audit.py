"""ftlab.audit: what it reports about a labelled file (duplicates, conflicts, leaks, lengths) is what the rows hold."""

import numpy as np
import pandas as pd
import pytest

from ftlab import audit
from ftlab.data import load_text_file


def frame_with(rows):
    return pd.DataFrame(rows, columns=["text", "label", "split"])


ROWS = [
    ("Free prize, call now", "spam", "train"),
    ("free  prize, CALL now", "spam", "test"),  # same text after normalising: a leak
    ("see you at 5", "ham", "train"),
    ("see you at 5", "ham", "train"),  # a copy inside train: not a leak
    ("ok", "ham", "validation"),
    ("OK", "spam", "train"),  # the same text labelled two ways, and a leak into validation
    ("where are you", "ham", "test"),
]


def test_normalize_folds_case_and_spacing_only():
    assert audit.normalize("  Free\tPRIZE \n now ") == "free prize now"
    assert audit.normalize("ok!") != audit.normalize("ok")


def test_duplicates_conflicts_and_leaks_are_counted_from_the_rows():
    frame = frame_with(ROWS)
    groups = audit.duplicate_groups(frame)
    assert sorted(groups["copies"]) == [2, 2, 2]
    assert groups["conflict"].sum() == 1
    leaked = audit.leaks(frame)
    assert sorted(leaked["text"]) == ["free  prize, CALL now", "ok"]
    report = audit.audit(frame)
    assert report["duplicate_texts"] == 3 and report["extra_copies"] == 3 and report["conflicting_texts"] == 1
    assert report["leaks"] == {"test": 1, "validation": 1}


def test_deduplicate_keeps_one_copy_and_drops_texts_labelled_two_ways():
    frame = frame_with(ROWS)
    kept, dropped = audit.deduplicate(frame[["text", "label"]])
    assert dropped == {"rows": 7, "kept": 3, "copies": 2, "conflicting": 2}
    assert list(kept["text"]) == ["Free prize, call now", "see you at 5", "where are you"]
    keys = kept["text"].map(audit.normalize)
    assert keys.is_unique and "ok" not in set(keys)


def test_no_duplicates_gives_empty_tables():
    frame = frame_with([("a", "x", "train"), ("b", "y", "test")])
    assert audit.duplicate_groups(frame).empty and audit.leaks(frame).empty
    report = audit.audit(frame)
    assert report["duplicate_texts"] == 0 and report["leaks"] == {}


def test_length_summary_counts_what_max_length_cuts():
    summary = audit.length_summary(np.array([3, 5, 10, 70, 100]), max_length=64)
    assert summary["cut"] == 2 and summary["cut_share"] == pytest.approx(0.4) and summary["longest"] == 100
    assert summary["median"] == 10


def test_a_split_file_has_no_leak_after_deduplication(tmp_path):
    rows = [(f"message number {i % 40}", "spam" if i % 40 < 12 else "ham") for i in range(200)]
    path = tmp_path / "mine.csv"
    pd.DataFrame(rows, columns=["text", "label"]).to_csv(path, index=False)
    before = audit.frame_of_splits(load_text_file(path))
    assert len(audit.leaks(before)) > 0 and sorted(before["label"].unique()) == ["ham", "spam"]
    kept, dropped = audit.deduplicate(before[["text", "label"]])
    clean = tmp_path / "clean.csv"
    kept.to_csv(clean, index=False)
    after = audit.frame_of_splits(load_text_file(clean))
    assert dropped["kept"] == 40 and len(after) == 40 and audit.leaks(after).empty


def test_label_table_shares_add_up_per_split():
    table = audit.label_table(frame_with(ROWS))
    assert np.allclose(table["share"].sum(), 1.0)
    assert table["rows"].to_numpy().sum() == len(ROWS)
