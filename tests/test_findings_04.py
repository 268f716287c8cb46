"""Lesson 04's sentences say what the figures show: each branch, with figures that lead to it."""

import pytest

from ftlab.course.findings import lesson04 as findings


def interval(difference, low, high, n=200):
    return {"difference": difference, "low": low, "high": high, "confidence": 0.95, "n_items": n}


def test_search_choice_on_the_recipe_needs_no_retraining():
    text = findings.search_choice((2e-4, 2), 0.612, (2e-4, 2), 0.612, 100)
    assert "2.0e-04" in text and "0.612" in text and "nothing needs retraining" in text
    assert "retrained" not in text and "trained on all" not in text


def test_search_choice_elsewhere_is_retrained_and_names_the_recipe_score():
    text = findings.search_choice((8e-4, 1), 0.655, (2e-4, 2), 0.601, 100)
    assert "8.0e-04" in text and "**1**" in text and "0.601" in text
    assert "trained on all the training tweets" in text and "nothing needs retraining" not in text


@pytest.mark.parametrize("comparison, keep", [
    (None, False),
    (interval(0.05, 0.01, 0.09), True),
    (interval(0.02, -0.01, 0.05), False),
    (interval(-0.05, -0.09, -0.01), False),
    (interval(0.03, 0.0, 0.06), False),  # an interval that touches zero does not exclude it
])
def test_the_search_choice_replaces_the_recipe_only_beyond_noise(comparison, keep):
    assert findings.keep_search_choice(comparison) is keep


def test_final_choice_sentences():
    assert "confirmed" in findings.final_choice(None)
    ahead = findings.final_choice(interval(0.05, 0.01, 0.09, n=300))
    assert ahead.startswith("The search's choice beats the recipe's model by 5.0 points")
    assert "becomes the final model" in ahead and "300 validation tweets" in ahead and "test" not in ahead
    behind = findings.final_choice(interval(-0.05, -0.09, -0.01))
    assert behind.startswith("The recipe's model beats the search's choice by 5.0 points")
    assert "within noise" in findings.final_choice(interval(0.02, -0.01, 0.05))
    assert "recipe's model stays" in findings.final_choice(interval(0.02, -0.01, 0.05))
    assert "it is the better one" in findings.final_choice(interval(-0.05, -0.09, -0.01))


def test_calibration_change_says_which_way_the_temperature_moved():
    before, after = {"NLL": 0.81, "ECE": 0.09}, {"NLL": 0.74, "ECE": 0.04}
    softer = findings.calibration_change(before, after, 1.8, 200)
    assert "too sure" in softer and "0.810" in softer and "0.740" in softer and "did not fall" not in softer
    sharper = findings.calibration_change(before, after, 0.6, 200)
    assert "too timid" in sharper and "0.60" in sharper
    worse_ece = findings.calibration_change(before, {"NLL": 0.8, "ECE": 0.11}, 1.2, 200)
    assert "did not fall" in worse_ece and "200 tweets" in worse_ece


def test_baseline_comparisons_one_bullet_each_with_its_interval():
    text = findings.baseline_comparisons({"zero-shot": interval(0.2, 0.12, 0.28),
                                          "TF-IDF words 1–2": interval(0.01, -0.05, 0.07)})
    lines = text.splitlines()
    assert len(lines) == 2 and all(line.startswith("- The fine-tuned model") for line in lines)
    assert "beats *zero-shot* by 20.0 points" in lines[0] and "200 test tweets" in lines[0]
    assert "within noise" in lines[1]


def test_scratch_note_only_when_one_label_is_answered():
    assert findings.scratch_note([1, 1, 1], ["negative", "neutral", "positive"], 50).startswith(
        "The network trained from random weights answers *neutral*")
    assert "50 training steps" in findings.scratch_note([1, 1], ["negative", "neutral", "positive"], 50)
    assert findings.scratch_note([0, 1, 1], ["negative", "neutral", "positive"], 50) == ""


@pytest.mark.parametrize("comparison, phrase", [
    (interval(0.06, 0.03, 0.09), "fine-tuning pays off"),
    (interval(-0.06, -0.09, -0.03), "not enough for fine-tuning to pay off"),
    (interval(0.01, -0.04, 0.06), "cannot tell"),
])
def test_tfidf_verdict_follows_the_interval(comparison, phrase):
    text = findings.tfidf_verdict(comparison, "TF-IDF chars 2–5", 400, 50)
    assert phrase in text and "TF-IDF chars 2–5" in text and "400 training tweets" in text
    assert "high-confidence" not in text


def test_tfidf_verdict_adds_the_high_confidence_part():
    text = findings.tfidf_verdict(interval(0.06, 0.03, 0.09), "TF-IDF words 1–2", 6000, 375,
                                  high=interval(0.1, 0.04, 0.16, n=640))
    assert "6,000 training tweets" in text and "On the high-confidence test tweets alone, the fine-tuned model beats" in text
    assert "640 tweets)" in text and text.count("beats") == 2


def recap_figures(**changes):
    figures = dict(final="the recipe's setting", majority={"accuracy": 0.6, "macro_f1": 0.25},
                   disputed={"overall": 0.2, "confident": 0.4}, topics={"worst": 0.41, "best": 0.83},
                   calibration={"nll_before": 0.8, "nll_after": 0.7, "temperature": 1.5},
                   comparisons={"zero-shot": interval(0.2, 0.1, 0.3), "TF-IDF": interval(0.0, -0.05, 0.05)})
    figures.update(changes)
    return figures


def test_recap_reports_what_this_run_found():
    text = findings.recap(**recap_figures())
    assert text.count("\n- ") == 6 and text.startswith("- The final model was chosen on validation")
    assert "60%" in text and "0.250" in text and "over-represented" in text and "not over-represented" not in text
    assert "0.410 to 0.830" in text and "T = 1.50) changes no label and lowers" in text
    assert "beyond noise: *zero-shot*" in text and "ahead of *TF-IDF*" in text


def test_recap_branches_the_other_way():
    text = findings.recap(**recap_figures(disputed={"overall": 0.3, "confident": 0.1},
                                          calibration={"nll_before": 0.7, "nll_after": 0.72, "temperature": 0.9},
                                          comparisons={"zero-shot": interval(0.2, 0.1, 0.3)}))
    assert "not over-represented" in text and "does not lower" in text and "does not show it ahead" not in text
