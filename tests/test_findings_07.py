import math

import pytest

from ftlab.course.findings import lesson07 as findings


def result(difference, low, high, n=48):
    return {"difference": difference, "low": low, "high": high, "confidence": 0.95, "n_items": n}


def test_chrf_difference_names_the_winner_or_says_within_noise():
    ahead = findings.chrf_difference(result(12.3, 8.0, 16.5), "A", "B")
    assert ahead.startswith("A beats B by 12.3 chrF points") and "+8.0 to +16.5" in ahead and "48 validation" in ahead
    behind = findings.chrf_difference(result(-4.0, -7.5, -1.2), "A", "B", items="test pairs")
    assert behind.startswith("B beats A by 4.0") and "test pairs" in behind
    noise = findings.chrf_difference(result(1.5, -2.0, 5.0), "A", "B")
    assert "within noise" in noise and "beats" not in noise


def test_pretraining_uses_the_recipe_or_says_it_is_not_recorded():
    recipe = {"training_tokens": 1_966_078, "steps": 700, "tokens_per_step": 4096}
    text = findings.pretraining("tiny-gpt2", 5_322_240, recipe)
    assert "5.3 million parameters" in text and "2.0 million tokens" in text and "1.5 times" in text
    hub = findings.pretraining("gpt2", 124_439_808, None)
    assert "124.4 million parameters" in hub and "records no pretraining corpus" in hub and "tokens of text" not in hub


def test_accent_cost_reports_the_measured_tokens():
    text = findings.accent_cost({"é": 2, "à": 2}, {"é": 2, "à": 2}, 4.25, 2.5)
    assert "(à, é)" in text and "2 bytes" in text and "as 2 tokens" in text and "4.2 tokens" in text
    mixed = findings.accent_cost({"é": 1, "è": 2}, {"é": 2, "è": 2}, 3.0, 2.0)
    assert "1 to 2 tokens" in mixed
    assert "no accented letter" in findings.accent_cost({}, {}, 0.0, 0.0)


def test_decoding_choice_refuses_a_choice_that_is_not_the_best_on_validation():
    scores = {"greedy": 61.0, "sampled, temperature 0.7": 55.0, "sampled, temperature 1.0": 48.0}
    text = findings.decoding_choice(scores, "greedy", "sampled, temperature 0.7", result(-6.0, -9.0, -3.0))
    assert "**greedy** (chrF 61.0). Greedy beats sampled, temperature 0.7 by 6.0" in text
    with pytest.raises(ValueError, match="highest validation chrF"):
        findings.decoding_choice(scores, "sampled, temperature 1.0", "sampled, temperature 0.7", result(-6, -9, -3))


def test_masking_choice_keeps_the_one_ahead_and_warns_within_noise():
    clear = findings.masking_choice(result(5.0, 1.0, 9.0), "prompt masked")
    assert clear.startswith("The prompt-masked model beats the unmasked model") and "**prompt masked**" in clear and "reverse" not in clear
    behind = findings.masking_choice(result(-5.0, -9.0, -1.0), "not masked")
    assert behind.startswith("The unmasked model beats the prompt-masked model by 5.0")
    noisy = findings.masking_choice(result(-1.0, -4.0, 2.0), "not masked")
    assert "within noise" in noisy and "**not masked**" in noisy and "reverse" in noisy
    with pytest.raises(ValueError, match="behind on validation"):
        findings.masking_choice(result(5.0, 1.0, 9.0), "not masked")
    with pytest.raises(ValueError, match="'prompt masked' or 'not masked'"):
        findings.masking_choice(result(5.0, 1.0, 9.0), "masked")


def test_test_result_says_test_pairs():
    text = findings.test_result("prompt masked, greedy", 20.0, 65.0, result(45.0, 40.0, 50.0, n=64))
    assert "20.0 → 65.0" in text and "64 test pairs" in text and "The fine-tuned model beats the pretrained one by 45.0" in text


def test_forgetting_reads_a_loss_difference_as_a_perplexity_ratio():
    text = findings.forgetting({"austen": result(0.2, 0.1, 0.3, n=32), "bible": result(0.05, -0.02, 0.12, n=32)})
    assert f"{math.exp(0.2):.2f} times" in text and "the unmasked model forgot less" in text
    assert "on bible" in text and "within noise" in text and f"{math.exp(-0.02):.2f} to" in text
    worse = findings.forgetting({"austen": result(-0.2, -0.3, -0.1)})
    assert "the unmasked model forgot more" in worse
