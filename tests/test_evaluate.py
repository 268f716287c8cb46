"""Calibration in ftlab.evaluate: reliability table, expected calibration error and its plot."""

import matplotlib.pyplot as plt
import numpy as np
import pytest

from ftlab import evaluate


def rows(top: float, n: int, n_right: int) -> tuple[np.ndarray, np.ndarray]:
    """n predictions of label 0 with probability `top`; the first n_right of them are right."""
    rest = (1 - top) / 2
    probs = np.tile([top, rest, rest], (n, 1))
    labels = np.array([0] * n_right + [2] * (n - n_right))
    return probs, labels


def test_ece_of_a_calibrated_model_is_zero():
    # 80 % sure and right 8 times in 10; 60 % sure and right 3 times in 5.
    p1, l1 = rows(0.8, 10, 8)
    p2, l2 = rows(0.6, 5, 3)
    probs, labels = np.vstack([p1, p2]), np.concatenate([l1, l2])
    assert evaluate.expected_calibration_error(probs, labels) == pytest.approx(0.0, abs=1e-12)


def test_ece_of_an_overconfident_model_is_the_weighted_gap():
    # 90 % sure but right 6 times in 10 (gap 0.3); 50 % sure and right 5 times in 10 (gap 0).
    p1, l1 = rows(0.9, 10, 6)
    p2, l2 = rows(0.5, 10, 5)
    probs, labels = np.vstack([p1, p2]), np.concatenate([l1, l2])
    assert evaluate.expected_calibration_error(probs, labels) == pytest.approx(0.5 * 0.3)
    table = evaluate.reliability_table(probs, labels)
    assert list(table["count"]) == [10, 10]
    assert table["gap"].tolist() == pytest.approx([0.0, -0.3])


def test_gaps_of_opposite_sign_do_not_cancel():
    p1, l1 = rows(0.95, 4, 2)  # overconfident by 0.45
    p2, l2 = rows(0.45, 6, 6)  # underconfident by 0.55
    probs, labels = np.vstack([p1, p2]), np.concatenate([l1, l2])
    assert evaluate.expected_calibration_error(probs, labels) == pytest.approx(0.4 * 0.45 + 0.6 * 0.55)


def test_bins_change_the_grouping_and_a_confidence_of_one_lands_in_the_last_bin():
    p1, l1 = rows(0.45, 5, 5)
    p2, l2 = rows(0.55, 5, 0)
    probs, labels = np.vstack([p1, p2]), np.concatenate([l1, l2])
    assert evaluate.expected_calibration_error(probs, labels, bins=10) == pytest.approx(0.55)
    assert evaluate.expected_calibration_error(probs, labels, bins=5) == pytest.approx(0.0, abs=1e-12)
    certain = np.tile([1.0, 0.0, 0.0], (5, 1))
    table = evaluate.reliability_table(certain, np.array([0, 0, 0, 0, 1]), bins=10)
    assert table[["bin_low", "bin_high", "count"]].values.tolist() == [[0.9, 1.0, 5]]
    assert evaluate.expected_calibration_error(certain, np.array([0, 0, 0, 0, 1])) == pytest.approx(0.2)


def test_reliability_table_matches_the_definition_on_random_predictions():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(500, 3)) * 2
    probs = evaluate.softmax(logits)
    labels = rng.integers(0, 3, size=500)
    table = evaluate.reliability_table(probs, labels, bins=10)
    assert table["count"].sum() == 500
    assert (table["bin_low"] >= 0.3).all()  # with three labels the top probability is at least 1/3
    confidence, correct = probs.max(axis=1), probs.argmax(axis=1) == labels
    by_hand = sum(
        np.mean(in_bin) * abs(correct[in_bin].mean() - confidence[in_bin].mean())
        for k in range(10)
        if (in_bin := np.minimum((confidence * 10).astype(int), 9) == k).any()
    )
    assert evaluate.expected_calibration_error(probs, labels) == pytest.approx(by_hand)


@pytest.mark.parametrize("probs, labels, bins, message", [
    (np.array([0.7, 0.2, 0.1]), np.array([0]), 10, r"probs\[None, :\]"),
    (np.zeros((0, 3)), np.array([], dtype=int), 10, "empty"),
    (np.full((2, 3), 1 / 3), np.array([0, 1, 2]), 10, "one label per row"),
    (np.array([[2.0, -1.0, 0.5]]), np.array([0]), 10, "pass softmax"),
    (np.full((2, 3), 1 / 3), np.array([0, 3]), 10, "class ids from 0 to 2"),
    (np.full((2, 3), 1 / 3), np.array([0.0, 1.0]), 10, "class ids"),
    (np.full((2, 3), 1 / 3), np.array([0, 1]), 0, "bins must be"),
    (np.full((2, 3), 1 / 3), np.array([0, 1]), 2.5, "bins must be"),
])
def test_bad_arguments_raise_clear_errors(probs, labels, bins, message):
    with pytest.raises(ValueError, match=message):
        evaluate.expected_calibration_error(probs, labels, bins=bins)


def test_plot_reliability_draws_one_bar_per_bin_and_rejects_other_tables():
    p1, l1 = rows(0.9, 10, 6)
    p2, l2 = rows(0.5, 10, 5)
    table = evaluate.reliability_table(np.vstack([p1, p2]), np.concatenate([l1, l2]))
    ax = evaluate.plot_reliability(table)
    assert len(ax.patches) == len(table)
    assert [bar.get_height() for bar in ax.patches] == pytest.approx(table["accuracy"].tolist())
    plt.close(ax.figure)
    with pytest.raises(ValueError, match="reliability_table"):
        evaluate.plot_reliability(table.drop(columns="accuracy"))


def test_fit_temperature_recovers_the_temperature_that_made_the_labels():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(20_000, 3)) * 3
    true_temperature = 2.5
    probs = evaluate.softmax(logits / true_temperature)
    labels = np.array([rng.choice(3, p=p) for p in probs])
    fitted = evaluate.fit_temperature(logits, labels)
    assert fitted == pytest.approx(true_temperature, rel=0.1)
    # the fitted temperature is at least as good as the raw logits and the true one, on the data it was fitted on
    nll = evaluate.negative_log_likelihood(evaluate.softmax(logits / fitted), labels)
    assert nll <= evaluate.negative_log_likelihood(evaluate.softmax(logits), labels)
    assert nll <= evaluate.negative_log_likelihood(probs, labels) + 1e-9


def test_temperature_never_changes_the_predicted_label():
    logits = np.random.default_rng(1).normal(size=(50, 3))
    for t in (0.01, 1.0, 30.0):
        assert (evaluate.softmax(logits / t).argmax(1) == logits.argmax(1)).all()


def test_negative_log_likelihood_and_fit_temperature_refuse_bad_input():
    assert evaluate.negative_log_likelihood(np.array([[1.0, 0.0], [0.5, 0.5]]), [0, 1]) == pytest.approx(
        np.log(2) / 2)
    with pytest.raises(ValueError, match="shapes"):
        evaluate.negative_log_likelihood(np.ones((3, 2)) / 2, [0, 1])
    with pytest.raises(ValueError, match="> 0"):
        evaluate.fit_temperature(np.zeros((2, 2)), [0, 1], grid=[0.0, 1.0])
    backwards = np.array([[3.0, 0.0], [0.0, 3.0]] * 10)  # always sure, always wrong
    with pytest.raises(ValueError, match="edge of the search"):
        evaluate.fit_temperature(backwards, [1, 0] * 10)


def test_fit_temperature_on_a_grid_picks_the_best_candidate():
    rng = np.random.default_rng(2)
    logits = rng.normal(size=(3000, 3)) * 4
    labels = np.array([rng.choice(3, p=p) for p in evaluate.softmax(logits / 2.0)])
    assert evaluate.fit_temperature(logits, labels, grid=[0.5, 1.0, 2.0, 8.0]) == 2.0


def test_paired_bootstrap_separates_a_real_gap_from_noise():
    from ftlab.evaluate import paired_bootstrap

    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 600)
    good = np.where(rng.random(600) < 0.85, y, (y + 1) % 3)
    poor = np.where(rng.random(600) < 0.60, y, (y + 1) % 3)
    gap = paired_bootstrap(y, good, poor, seed=0, n_resamples=500)
    assert gap["low"] > 0.1 and gap["low"] <= gap["difference"] <= gap["high"] and gap["n_items"] == 600
    twin = np.where(rng.random(600) < 0.85, y, (y + 1) % 3)  # as good as `good`, other mistakes
    same = paired_bootstrap(y, good, twin, seed=0, n_resamples=500)
    assert same["low"] < 0 < same["high"]
    assert paired_bootstrap(y, good, poor, seed=3, n_resamples=200) == paired_bootstrap(y, good, poor, seed=3,
                                                                                         n_resamples=200)
    identical = paired_bootstrap(y, good, good, n_resamples=200)
    assert identical["low"] == identical["difference"] == identical["high"] == 0
    with pytest.raises(ValueError, match="same test items"):
        paired_bootstrap(y, good, poor[:10])


@pytest.mark.parametrize("score", ["accuracy", "macro_f1"])
def test_the_resampled_scores_are_the_scores_of_each_resample(score):
    from ftlab.evaluate import _resampled_score, bootstrap_counts, scores

    rng = np.random.default_rng(5)
    y, pred = rng.integers(0, 3, 60), rng.integers(0, 3, 60)
    pred[:5] = 0  # one label predicted more often, so the classes differ
    counts = bootstrap_counts(60, 100, seed=1)
    expected = [scores(np.repeat(y, row.astype(int)), np.repeat(pred, row.astype(int)))[score] for row in counts]
    assert np.allclose(_resampled_score(counts, y, pred, score, [0, 1, 2]), expected)


def test_bootstrap_counts_draw_every_item_set_with_replacement():
    from ftlab.evaluate import bootstrap_counts, bootstrap_interval

    counts = bootstrap_counts(30, 400, seed=2)
    assert counts.shape == (400, 30) and (counts.sum(axis=1) == 30).all()
    assert (counts == 0).any(axis=1).mean() > 0.9  # almost every resample leaves some items out, repeats others
    assert counts.std(axis=0).min() > 0.5  # each item's count varies between resamples (variance 1 - 1/30)
    assert np.array_equal(counts, bootstrap_counts(30, 400, seed=2))
    for bad in ({"n_items": 0}, {"n_resamples": 10}, {"confidence": 1.0}):
        with pytest.raises(ValueError):
            bootstrap_counts(**{"n_items": 30, "n_resamples": 400, **bad})
    result = bootstrap_interval(np.arange(101) / 100, 0.5, 0.9, 30)
    assert result == pytest.approx({"difference": 0.5, "low": 0.05, "high": 0.95, "confidence": 0.9, "n_items": 30})


def test_a_difference_is_described_by_what_its_interval_shows():
    from ftlab.evaluate import describe_difference

    ahead = {"difference": 0.052, "low": 0.011, "high": 0.093, "confidence": 0.95, "n_items": 400}
    assert describe_difference(ahead, "fine-tuned", "TF-IDF").startswith("fine-tuned beats TF-IDF by 5.2 points")
    behind = {**ahead, "difference": -0.052, "low": -0.093, "high": -0.011}
    assert describe_difference(behind, "fine-tuned", "TF-IDF").startswith("TF-IDF beats fine-tuned by 5.2 points")
    assert "(95% interval +1.1 to +9.3, 400 test items)" in describe_difference(behind, "fine-tuned", "TF-IDF"), \
        "said the other way round, the interval is of the winner minus the loser too"
    assert "1,500 test items" in describe_difference({**ahead, "n_items": 1500}, "a", "b")
    tied = {**ahead, "low": -0.02}
    sentence = describe_difference(tied, "fine-tuned", "TF-IDF")
    assert "within noise" in sentence and "-2.0 to +9.3" in sentence and sentence.endswith("400 test items).")
    assert describe_difference(tied, "a", "b", items="validation tweets").endswith("400 validation tweets).")


def test_seed_spread():
    from ftlab.evaluate import seed_spread

    spread = seed_spread([0.70, 0.72, 0.74])
    assert spread["mean"] == pytest.approx(0.72) and spread["std"] == pytest.approx(0.02)
    assert (spread["min"], spread["max"], spread["n_seeds"]) == (0.70, 0.74, 3)
    with pytest.raises(ValueError, match="at least two seeds"):
        seed_spread([0.7])


def test_the_seed_comes_from_ftlab_seed():
    import os
    import subprocess
    import sys

    read = [sys.executable, "-c", "from ftlab.config import SEED; print(SEED)"]
    env = {k: v for k, v in os.environ.items() if k != "FTLAB_SEED"}
    assert subprocess.run(read, env=env, capture_output=True, text=True).stdout.strip() == "42"
    assert subprocess.run(read, env={**env, "FTLAB_SEED": "7"}, capture_output=True, text=True).stdout.strip() == "7"
    bad = subprocess.run(read, env={**env, "FTLAB_SEED": "seven"}, capture_output=True, text=True)
    assert bad.returncode != 0 and "FTLAB_SEED='seven' is not a whole number" in bad.stderr
