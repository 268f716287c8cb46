"""Lesson 06's skill comparison: a bootstrap over documents that tells a better encoder from a worse one."""

import numpy as np
import pytest

from ftlab.labs import pitfalls


def synthetic_ratings(n_docs=50, seed=0):
    rng = np.random.default_rng(seed)
    ratings = np.zeros((n_docs, n_docs))
    i, j = np.triu_indices(n_docs, k=1)
    ratings[i, j] = rng.random(len(i))
    return ratings


def test_skill_difference_tells_a_good_encoder_from_a_noisy_one():
    ratings = synthetic_ratings()
    human = pitfalls.lee_pairs(ratings)[2]
    rng = np.random.default_rng(1)
    good = human + 0.1 * rng.standard_normal(len(human))
    poor = human + 1.0 * rng.standard_normal(len(human))
    result = pitfalls.skill_difference(ratings, good, poor, n_resamples=500)
    expected = np.corrcoef(good, human)[0, 1] - np.corrcoef(poor, human)[0, 1]
    assert result["difference"] == pytest.approx(expected)
    assert 0 < result["low"] < result["difference"] < result["high"] and result["n_items"] == 50
    swapped = pitfalls.skill_difference(ratings, poor, good, n_resamples=500)
    assert swapped["high"] < 0


def test_skill_difference_of_two_close_encoders_is_within_noise():
    ratings = synthetic_ratings(seed=2)
    human = pitfalls.lee_pairs(ratings)[2]
    rng = np.random.default_rng(3)
    a = human + 0.5 * rng.standard_normal(len(human))
    b = a + 0.01 * rng.standard_normal(len(human))
    result = pitfalls.skill_difference(ratings, a, b, n_resamples=500)
    assert result["low"] < 0 < result["high"]


def test_weighted_pearson_with_equal_weights_is_pearson():
    rng = np.random.default_rng(4)
    x, y = rng.random(30), rng.random(30)
    assert pitfalls._weighted_pearson(np.ones((1, 30)), x, y)[0] == pytest.approx(np.corrcoef(x, y)[0, 1])


def test_skill_difference_refuses_cosines_of_the_wrong_length():
    ratings = synthetic_ratings()
    with pytest.raises(ValueError, match="one cosine per Lee pair"):
        pitfalls.skill_difference(ratings, np.zeros(10), np.zeros(10))
