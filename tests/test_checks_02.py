"""The lesson 02 exercise checks accept a right answer and reject wrong ones with a message that helps."""

import json
import re

import pandas as pd
import pytest

from ftlab import data
from ftlab.course.checks import lesson02 as checks
from ftlab.course.checks.core import ExerciseCheckError
from ftlab.config import LABELS


def stub(*args):
    raise NotImplementedError("Exercise 1 of 02_dataset is not done yet")


# Exercise 1: find_leaks


def find_leaks(train_texts, test_texts, key=None):
    key = key or (lambda text: text)
    train_keys = {key(text) for text in train_texts}
    return {text for text in test_texts if key(text) in train_keys}


def test_find_leaks_accepts_a_right_answer(capsys):
    checks.check_find_leaks(find_leaks)
    assert capsys.readouterr().out.startswith("\u2714")


def test_find_leaks_also_accepts_a_list():
    checks.check_find_leaks(lambda train, test, key=None: sorted(find_leaks(train, test, key)))


@pytest.mark.parametrize("wrong, message", [
    (stub, "not written yet"),
    (lambda train, test, key=None: None, "returned None"),
    (lambda train, test, key=None: set(test) & set(train), "when the key is str.lower"),
    (lambda train, test, key=None: {(key or str)(t) for t in test} & {(key or str)(t) for t in train},
     "not their keys"),
    (lambda train, test, key=None: set(test), "when one test text is also in train"),
    (lambda train, test, key=None: 3, "should return a set of texts"),
])
def test_find_leaks_rejects_wrong_answers(wrong, message):
    with pytest.raises(ExerciseCheckError, match=re.escape(message)):
        checks.check_find_leaks(wrong)


# Exercise 2: is_retweet


def test_is_retweet_accepts_ftlabs_pattern(capsys):
    checks.check_is_retweet(lambda text: data.RETWEET_RE.match(text) is not None)
    assert "\u2714" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, message", [
    (stub, "not written yet"),
    (lambda text: text.strip().upper().startswith(("RT", "MT")), "the first word is RTX"),
    (lambda text: text.split()[:1] == ["RT"], "in lower case"),
    (lambda text: bool({"RT", "MT", "RT:"} & set(text.upper().split())), "not the first word"),
    (lambda text: re.match(r"(RT|MT)\b", text), "return True or False"),
])
def test_is_retweet_rejects_wrong_answers(wrong, message):
    with pytest.raises(ExerciseCheckError, match=re.escape(message)):
        checks.check_is_retweet(wrong)


# Exercise 3: load_moods


@pytest.fixture
def moods_file(tmp_path):
    path = tmp_path / "moods.jsonl"
    lines = [json.dumps({"message": f"{mood} message {i}", "mood": mood})
             for mood in ("bad", "ok", "good") for i in range(10)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_load_moods_accepts_a_right_answer(moods_file, capsys):
    checks.check_load_moods(lambda path: data.load_text_file(path, text_column="message", label_column="mood",
                                                             labels=["bad", "ok", "good"]), moods_file)
    assert "30 messages" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, message", [
    (stub, "not written yet"),
    (lambda path: None, "returned None"),
    (lambda path: data.load_text_file(path), "column 'text' not found"),
    (lambda path: data.load_text_file(path, text_column="message", label_column="mood"),
     "pass labels=['bad', 'ok', 'good']"),
    (lambda path: pd.read_json(path, lines=True), "should return the DatasetDict"),
])
def test_load_moods_rejects_wrong_answers(moods_file, wrong, message):
    with pytest.raises(ExerciseCheckError, match=re.escape(message)):
        checks.check_load_moods(wrong, moods_file)


def test_load_moods_notices_texts_that_are_not_the_messages(moods_file):
    def wrong(path):
        dataset = data.load_text_file(path, text_column="message", label_column="mood", labels=["bad", "ok", "good"])
        return dataset.map(lambda row: {"text": row["text"].upper()})

    with pytest.raises(ExerciseCheckError, match="is not a message of the file"):
        checks.check_load_moods(wrong, moods_file)


# Exercise 4: label_share_by_topic


def label_share_by_topic(frame):
    counts = pd.crosstab(frame["topic"], frame["sentiment"]).reindex(columns=list(LABELS), fill_value=0)
    return counts.div(counts.sum(axis=1), axis=0)


def test_label_share_by_topic_accepts_a_right_answer(capsys):
    checks.check_label_share_by_topic(label_share_by_topic)
    assert "\u2714" in capsys.readouterr().out


def drop_column(frame):
    frame.drop(columns="text", inplace=True)
    return label_share_by_topic(frame)


@pytest.mark.parametrize("wrong, message", [
    (stub, "not written yet"),
    (lambda frame: pd.crosstab(frame["topic"], frame["sentiment"], normalize="index"), "a label that never occurs"),
    (lambda frame: pd.crosstab(frame["topic"], frame["sentiment"], normalize="index").reindex(columns=list(LABELS)),
     "NaN"),
    (lambda frame: label_share_by_topic(frame) * len(frame) / len(frame) * 2, "each row should sum to 1"),
    (lambda frame: pd.crosstab(frame["topic"], frame["sentiment"]).reindex(columns=list(LABELS), fill_value=0)
     / len(frame), "divide by the number of tweets of the topic"),
    (lambda frame: label_share_by_topic(frame).T, "the columns should be the labels"),
    (lambda frame: label_share_by_topic(frame).to_numpy(), "should return a DataFrame"),
    (drop_column, "changed the table it was given"),
])
def test_label_share_by_topic_rejects_wrong_answers(wrong, message):
    with pytest.raises(ExerciseCheckError, match=re.escape(message)):
        checks.check_label_share_by_topic(wrong)


def test_label_share_by_topic_rejects_the_wrong_values():
    def swapped(frame):
        share = label_share_by_topic(frame)
        return share[["positive", "neutral", "negative"]].set_axis(list(LABELS), axis=1)

    with pytest.raises(ExerciseCheckError, match="expected"):
        checks.check_label_share_by_topic(swapped)
