"""Self-checks for lesson 02's exercises (the task dataset): each says what is wrong and how to look for it."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ftlab.config import LABELS
from ftlab.course.checks.core import ExerciseCheckError, as_array, call_safely, passed, require
from ftlab.data import dedup_key


def check_find_leaks(find_leaks: Callable) -> None:
    """Exercise 02.1: `find_leaks(train_texts, test_texts, key=None)` returns the set of leaked test texts."""
    import pandas as pd

    cases = [
        (["the flight was late", "great crew"], ["great crew", "lost my bag"], None, {"great crew"},
         "one test text is also in train"),
        (["a", "b"], ["c", "d"], None, set(), "no test text is in train"),
        ([], ["a"], None, set(), "train is empty"),
        (["a"], [], None, set(), "test is empty"),
        (["a", "b"], ["b", "b", "c"], None, {"b"}, "a leaked text appears twice in test"),
        (["Hello"], ["hello"], None, set(), "texts differ only in case and no key is given"),
        (["Hello"], ["hello", "bye"], str.lower, {"hello"}, "the key is str.lower"),
        (["Thanks @user!"], ["thanks  @user", "thanks"], dedup_key, {"thanks  @user"}, "the key is data.dedup_key"),
        (pd.Series(["x", "y"]), pd.Series(["y", "z"]), None, {"y"}, "train and test are pandas Series"),
    ]
    for train, test, key, expected, what in cases:
        key_name = {None: "None", str.lower: "str.lower", dedup_key: "data.dedup_key"}[key]
        call = f"find_leaks({list(train)!r}, {list(test)!r}, key={key_name})"
        result = call_safely(find_leaks, train, test, key, what=call)
        require(result is not None,
                "find_leaks returned None: end the function with `return` and the set of leaked test texts")
        try:
            found = set(result)
        except TypeError:
            raise ExerciseCheckError(f"find_leaks should return a set of texts, got {type(result).__name__}") from None
        hint = ": return the test texts as they are, not their keys" if key and found else ""
        require(found == expected, f"when {what}, {call} should give {expected}, got {found}{hint}")
    passed("find_leaks finds exact and normalised copies, and nothing else")


def check_is_retweet(is_retweet: Callable) -> None:
    """Exercise 02.2: `is_retweet(text)` recognises a leading RT/MT marker."""
    first_word = "the first word is RT or MT"
    cases = [
        ("RT @united: thanks for the upgrade", True, first_word),
        ("rt @JetBlue great flight", True, f"{first_word}, in lower case"),
        ("   MT @news: driverless cars are here", True, f"{first_word}, after some spaces"),
        ("RT: look at this", True, f"{first_word}, followed by a colon"),
        ("RT", True, f"{first_word} and the only word"),
        ("RTX 4090 is out", False, "the first word is RTX, not RT"),
        ("MTV awards tonight", False, "the first word is MTV, not MT"),
        ("so true RT @x: hi", False, "RT is there, but it is not the first word"),
        ("ART is everything", False, "the first word is ART"),
        ("", False, "the text is empty"),
    ]
    for text, expected, why in cases:
        result = call_safely(is_retweet, text, what=f"is_retweet({text!r})")
        require(isinstance(result, (bool, np.bool_)),
                f"is_retweet({text!r}) returned {result!r} ({type(result).__name__}): return True or False "
                f"(with re.match, compare its result with None)")
        require(bool(result) == expected, f"is_retweet({text!r}) should be {expected}: {why}")
    passed("is_retweet recognises RT/MT markers and ignores look-alikes")


def check_load_moods(load_moods: Callable, path: Any) -> None:
    """Exercise 02.3: `load_moods(path)` loads the moods JSONL file with labels bad, ok, good."""
    import json
    from pathlib import Path

    rows = [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    expected_mood = {row["message"]: row["mood"] for row in rows}
    result = call_safely(load_moods, path, what="load_moods(moods_file)")
    require(result is not None, "load_moods returned None: return what data.load_text_file gives you")
    require(hasattr(result, "keys") and set(result.keys()) == {"train", "validation", "test"},
            f"load_moods should return the DatasetDict of data.load_text_file (train, validation, test), "
            f"got {type(result).__name__}")
    names = result["train"].features["label"].names
    require(names == ["bad", "ok", "good"],
            f"the label names are {names}, in that order: pass labels=['bad', 'ok', 'good'] so that 0 is bad, "
            f"1 is ok and 2 is good")
    total = sum(len(split) for split in result.values())
    require(total == len(rows), f"the splits hold {total} rows together, the file has {len(rows)}")
    for split in result.values():
        for text, label in zip(split["text"], split["label"]):
            require(text in expected_mood, f"the text {text!r} is not a message of the file: "
                                           f"pass text_column='message'")
            require(names[label] == expected_mood[text],
                    f"{text!r} has the label {names[label]!r}, the file says {expected_mood[text]!r}")
    passed(f"load_moods gives {total} messages in train/validation/test with labels bad, ok, good")


def check_label_share_by_topic(label_share_by_topic: Callable) -> None:
    """Exercise 02.4: `label_share_by_topic(frame)` gives the share of each label within each topic."""
    import pandas as pd

    frame = pd.DataFrame({  # no tweet is positive: the column must still be there, full of zeros
        "topic": ["air", "air", "air", "cars", "cars", "air"],
        "sentiment": ["negative", "negative", "neutral", "neutral", "neutral", "negative"],
        "text": ["a", "b", "c", "d", "e", "f"],
    })
    before = frame.copy()
    result = call_safely(label_share_by_topic, frame, what="label_share_by_topic(frame)")
    require(frame.equals(before), "label_share_by_topic changed the table it was given: work on a copy")
    require(isinstance(result, pd.DataFrame), f"label_share_by_topic should return a DataFrame, "
                                              f"got {type(result).__name__}")
    require(list(result.columns) == list(LABELS),
            f"the columns should be the labels in the order {list(LABELS)}, got {list(result.columns)} "
            f"(reindex the columns; a label that never occurs still needs its column)")
    require(sorted(result.index) == ["air", "cars"],
            f"there should be one row per topic (air, cars), got the index {list(result.index)}")
    require(not result.isna().any().any(), "the table has NaN: a label that a topic never has should be 0")
    values = as_array(result.loc[["air", "cars"]].to_numpy(), "the shares")
    sums = values.sum(axis=1)
    hint = ": divide by the number of tweets of the topic, not of the whole table" if (sums < 1).all() else ""
    require(np.allclose(sums, 1.0), f"each row should sum to 1 (shares within the topic), the sums are "
                                    f"{sums.round(3)}{hint}")
    expected = np.array([[0.75, 0.25, 0.0], [0.0, 1.0, 0.0]])
    require(np.allclose(values, expected),
            f"on a small table with air = 3 negative + 1 neutral and cars = 2 neutral, expected\n{expected}\n"
            f"got\n{values.round(3)}")
    passed("label_share_by_topic gives the share of each label within each topic")
