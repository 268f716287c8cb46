"""Lesson 06's sentences say what the numbers show: clear only beyond both the interval and the noise floor."""

import pandas as pd
import pytest

from ftlab.course.findings import lesson06 as findings


def result(difference, low, high, n_items=200):
    return {"difference": difference, "low": low, "high": high, "confidence": 0.95, "n_items": n_items}


@pytest.mark.parametrize("res, floor, clear", [
    (result(0.10, 0.04, 0.16), 0.05, True),
    (result(-0.10, -0.16, -0.04), 0.05, True),
    (result(0.03, 0.01, 0.05), 0.05, False),  # interval above zero, but within another seed's chance
    (result(0.10, -0.01, 0.20), 0.02, False),  # beyond the floor, but the interval holds zero
])
def test_is_clear_needs_both_the_interval_and_the_noise_floor(res, floor, clear):
    assert findings.is_clear(res, floor) is clear


def test_is_clear_refuses_a_negative_floor():
    with pytest.raises(ValueError, match="at least 0"):
        findings.is_clear(result(0.1, 0.05, 0.15), -0.01)


def test_compare_says_clear_within_noise_or_below_the_floor():
    assert "a clear difference" in findings.compare(result(0.10, 0.04, 0.16), "A", "B", 0.05)
    assert "A beats B by 10.0 points" in findings.compare(result(0.10, 0.04, 0.16), "A", "B", 0.05)
    assert "B beats A" in findings.compare(result(-0.10, -0.16, -0.04), "A", "B", 0.05)
    below = findings.compare(result(0.03, 0.01, 0.05), "A", "B", 0.05)
    assert "not a clear difference" in below and "5.0 points" in below
    within = findings.compare(result(0.10, -0.01, 0.20), "A", "B", 0.02)
    assert "within noise" in within and "clear" not in within


def test_data_efficiency_finds_the_first_matching_size():
    text = findings.data_efficiency({40: 0.50, 160: 0.60}, {160: 0.30, 640: 0.52, 2560: 0.58})
    assert "**0.500** with 40 tweets" in text and "first matched it with **640**" in text and "16× as many" in text
    never = findings.data_efficiency({40: 0.50}, {160: 0.30, 320: 0.35})
    assert "did not match it even with **320**" in never and "8× as many" in never and "0.350" in never
    with pytest.raises(ValueError, match="at least one size"):
        findings.data_efficiency({}, {160: 0.3})


def test_memorisation_only_claims_it_when_loss_and_score_disagree():
    table = pd.DataFrame({"final training loss": [0.05, 0.40], "test macro_f1": [0.45, 0.60]}, index=[40, 160])
    assert "learnt by heart" in findings.memorisation(table)
    table.loc[40, "test macro_f1"] = 0.65
    assert "only the test score does" in findings.memorisation(table)
    close = pd.DataFrame({"final training loss": [0.35, 0.40], "test macro_f1": [0.45, 0.60]}, index=[40, 160])
    assert "only the test score does" in findings.memorisation(close)


def test_label_noise_reports_both_comparisons_and_calls_the_catch_no_finding():
    text = findings.label_noise(0.3, 0.60, 0.50, result(0.10, 0.04, 0.16), removed=0.7, dropped=0.3,
                                filtered=result(0.01, -0.04, 0.06), noise_floor=0.05)
    assert "**30%** of the training labels wrong" in text and "**0.600** to **0.500**" in text
    assert "a clear difference" in text and "within noise" in text
    assert "**70%** of the wrong labels" in text and "30% of the tweets" in text and "no finding" in text


def test_keeps_more_sorts_methods_by_their_interval():
    text = findings.keeps_more({"LoRA": result(0.2, 0.1, 0.3), "frozen lower layers": result(0.01, -0.02, 0.04)})
    assert text.startswith("LoRA kept clearly more")
    assert "for frozen lower layers the difference from full fine-tuning is within noise" in text
    assert "clearly less" in findings.keeps_more({"X": result(-0.2, -0.3, -0.1)})
    assert "no gentler method" in findings.keeps_more({})
