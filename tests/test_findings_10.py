"""Lesson 10's sentences: every outcome of a learner's file is said, from the numbers given."""

import pandas as pd

from ftlab.course.findings import lesson10 as findings


def report(**changes):
    base = {"rows": 1000, "labels": {"ham": 870, "spam": 130}, "duplicate_texts": 20, "extra_copies": 30,
            "conflicting_texts": 2, "leaks": {"test": 9, "validation": 3},
            "lengths": {"texts": 1000, "median": 20.0, "p95": 55.0, "longest": 238, "cut": 18, "cut_share": 0.018}}
    base.update(changes)
    return base


def test_look_names_the_rare_label_duplicates_conflicts_leaks_and_cut():
    text = findings.describe_look(report(), "sms.csv")
    for part in ("**1,000** rows", "**2** labels", "Rare: spam (13%)", "87%", "**20** texts occur more than once",
                 "30 extra copies", "**2** of them carry different labels", "**12** validation and test texts",
                 "9 in test", "cuts 18 of them (1.8%)"):
        assert part in text, part


def test_look_on_a_clean_balanced_file():
    text = findings.describe_look(report(labels={"a": 500, "b": 500}, duplicate_texts=0, extra_copies=0,
                                         conflicting_texts=0, leaks={}), "mine.csv")
    assert "Rare" not in text and "No text occurs twice." in text and "learned by heart" not in text


def test_cleaning_sentence():
    text = findings.describe_cleaning({"rows": 100, "kept": 90, "copies": 8, "conflicting": 2}, 0)
    assert "**90** of 100" in text and "8 repeated" in text and "no validation or test text" in text
    assert "Still **3**" in findings.describe_cleaning({"rows": 100, "kept": 90, "copies": 8, "conflicting": 2}, 3)


def test_baselines_best_first():
    table = pd.DataFrame({"accuracy": [0.87, 0.95, 0.8], "macro_f1": [0.46, 0.9, 0.7]},
                         index=["majority", "TF-IDF", "zero-shot"])
    text = findings.describe_baselines(table)
    assert "**TF-IDF** (macro-F1 0.900" in text and "weakest is majority" in text


def test_choice_ships_fine_tuned_only_beyond_noise():
    ahead = {"difference": 0.05, "low": 0.01, "high": 0.09, "confidence": 0.95, "n_items": 200}
    within = {"difference": 0.01, "low": -0.03, "high": 0.05, "confidence": 0.95, "n_items": 200}
    assert findings.ship_fine_tuned(ahead) and not findings.ship_fine_tuned(within)
    assert "ships **the fine-tuned model**" in findings.describe_choice(ahead, "TF-IDF", "validation texts")
    assert "ship the cheaper **TF-IDF**" in findings.describe_choice(within, "TF-IDF", "validation texts")
    assert findings.describe_choice(ahead, "TF-IDF", "validation texts")[0].isupper()


def test_test_sentence_is_capitalised_and_names_the_items():
    result = {"difference": 0.3, "low": 0.2, "high": 0.4, "confidence": 0.95, "n_items": 200}
    text = findings.describe_test(result, "zero-shot")
    assert text.startswith("The fine-tuned model beats zero-shot by 30.0 points") and "200 test texts" in text


def test_leak_effect_covers_no_leak_easier_and_not_easier():
    assert "no leak to measure" in findings.describe_leak_effect([], [True, False])
    text = findings.describe_leak_effect([True] * 10, [True, False] * 50)
    assert "**10** leaked test texts" in text and "**100.0%**" in text and "50.0%" in text and "flatter" in text
    assert "no easier" in findings.describe_leak_effect([True, False], [True] * 9 + [False])
