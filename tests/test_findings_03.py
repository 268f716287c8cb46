import numpy as np
import pytest

from ftlab.course.findings import lesson03 as findings


def result(difference, low, high, n=200):
    return {"difference": difference, "low": low, "high": high, "confidence": 0.95, "n_items": n}


def test_a_clear_gain_on_validation_is_named_with_its_interval():
    text = findings.on_validation(result(0.199, 0.114, 0.288), "the fine-tuned model", "zero-shot")
    assert text.startswith("The fine-tuned model beats zero-shot by 19.9 points of macro-F1")
    assert "+11.4 to +28.8, 200 validation tweets" in text and "test items" not in text


def test_a_difference_within_noise_says_so():
    text = findings.on_validation(result(-0.02, -0.073, 0.027), "the Trainer", "the plain loop")
    assert "within noise" in text and "-2.0 points" in text and "beats" not in text


def test_same_recipe_counts_how_often_the_two_agree():
    a, b = np.array([0, 1, 2, 2]), np.array([0, 1, 2, 0])
    text = findings.same_recipe(result(0.01, -0.05, 0.06, n=4), a, b)
    assert text.endswith("predict the same label for 75% of the validation tweets.")
    assert text.startswith("The Trainer and the plain loop differ by +1.0 points")
    with pytest.raises(ValueError, match="same tweets"):
        findings.same_recipe(result(0.0, -0.1, 0.1), a, b[:3])


def test_the_model_ahead_starts_the_sentence_with_a_capital():
    text = findings.same_recipe(result(-0.079, -0.132, -0.032), [0, 1], [0, 1])
    assert text.startswith("The plain loop beats the Trainer by 7.9 points of macro-F1 (95% interval +3.2 to +13.2")
