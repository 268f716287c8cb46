import pandas as pd
import pytest

from ftlab.course.findings import lesson09 as findings


def result(difference, low, high, n=100):
    return {"difference": difference, "low": low, "high": high, "confidence": 0.95, "n_items": n}


@pytest.mark.parametrize("values, expected", [
    ((0.3, 0.2, 0.4), "scores +0.300 above"),
    ((-0.02, -0.03, -0.01), "0.020 *below*"),
    ((0.01, -0.01, 0.03), "within noise"),
])
def test_score_difference_says_which_way_the_interval_points(values, expected):
    text = findings.score_difference(result(*values), "SFT", "the base model", "requests")
    assert expected in text and "100 requests" in text and text[0].isupper()


def test_ends_turn():
    text = findings.ends_turn(pd.Series({"base": 0.0, "SFT": 0.95}))
    assert "**0%**" in text and "**95%**" in text


def test_packing_names_the_speed_ratio_and_the_padding():
    results = pd.DataFrame({"tokens per second": [2000.0, 500.0], "loss, last quarter of the steps": [4.0, 4.2]},
                           index=["padded", "packed"])
    shapes = pd.DataFrame({"padding share": [0.2, 0.0], "attention pairs": [30000.0, 360000.0]},
                          index=["padded", "packed"])
    text = findings.packing(results, shapes)
    assert "**0.25×**" in text and "**20%**" in text and "**12.0×**" in text
    results["tokens per second"] = [2000.0, 2010.0]
    assert "about the same speed" in findings.packing(results, shapes)


@pytest.mark.parametrize("moves, expected", [
    ((0.6, -0.2, 0.2, -0.1), "stayed closer"),
    ((0.2, -0.1, 0.6, -0.2), "moved further"),
    ((0.5, -0.2, 0.51, -0.2), "about as far"),
])
def test_dpo_beta_compares_how_far_each_run_moved(moves, expected):
    table = pd.DataFrame({"β = 0.1": [0.6, 0.1, moves[0], moves[1]], "β = 0.5": [0.7, 0.3, moves[2], moves[3]]},
                         index=["reward accuracy", "reward margin", "chosen moved (nats)", "rejected moved (nats)"])
    text = findings.dpo_beta(table)
    assert expected in text and "**60%**" in text


def test_gamed_reports_length_and_score():
    table = pd.DataFrame({"SFT": [0.35, 1.0, 12.0], "gamed": [0.30, 0.9, 23.0]},
                         index=["mean score", "refuses out-of-scope requests", "mean answer length (tokens)"])
    text = findings.gamed(table)
    assert "**12.0**" in text and "**23.0**" in text and "**0.300**" in text and "100% → 90%" in text


def test_test_choice():
    gains = {"SFT": result(0.28, 0.22, 0.34), "SFT+DPO": result(-0.01, -0.02, -0.002),
             "SFT+GRPO": result(0.0, -0.01, 0.01)}
    seen = {"SFT+DPO": result(0.02, 0.01, 0.03), "SFT+GRPO": result(0.0, -0.01, 0.01)}
    assert "Kept: **SFT+DPO**" in findings.test_choice("SFT+DPO", seen, gains)
    assert "a loss" in findings.test_choice("SFT+DPO", seen, gains)
    assert "no difference beyond noise" in findings.test_choice("SFT+GRPO", seen, gains)
    text = findings.test_choice("SFT", seen, gains)
    assert "no later stage beat it" in text and "on the test: " not in text


def test_forgetting_compares_with_the_base_and_with_sft():
    text = findings.forgetting(pd.Series({"base": 100.0, "SFT": 500.0, "SFT+DPO": 505.0}))
    assert "5.00× the base model's" in text and "less than a twentieth" in text
    text = findings.forgetting(pd.Series({"base": 100.0, "SFT": 101.0, "SFT+DPO": 150.0}))
    assert "about where it was" in text and "SFT+DPO 1.49× SFT's" in text


def test_at_scale_sentence():
    scaled = pd.DataFrame({"parameters": [5e9, 5e9], "hours on this machine": [8.0, 9.0],
                           "weights, gradients and AdamW (GB)": [80.0, 100.0]}, index=["SFT", "DPO"])
    text = findings.at_scale(scaled, 1000)
    assert "1,000×" in text and "**8 hours**" in text and "**80 GB**" in text and "DPO 100 GB" in text
