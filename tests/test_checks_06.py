"""The lesson-06 exercise checks accept right answers and explain wrong ones; the experiment helpers work."""

import numpy as np
import pytest

from ftlab import training
from ftlab.labs import pitfalls
from ftlab.course.checks import lesson06 as checks
from ftlab.course.checks.core import ExerciseCheckError


def reference_early_stopping(values, patience, higher_is_better=True):
    return training.early_stopping_epochs(values, patience, higher_is_better)


def test_early_stopping_check_accepts_the_library_function():
    checks.check_early_stopping(reference_early_stopping)


def test_early_stopping_check_explains_an_off_by_one():
    def zero_based(values, patience, higher_is_better=True):
        best, stop = training.early_stopping_epochs(values, patience, higher_is_better)
        return best - 1, stop - 1

    with pytest.raises(ExerciseCheckError, match="off-by-one"):
        checks.check_early_stopping(zero_based)


def test_early_stopping_check_catches_ties_counted_as_improvements():
    def ties_improve(values, patience, higher_is_better=True):
        sign = 1 if higher_is_better else -1
        best, waited = 0, 0
        for i in range(1, len(values)):
            if sign * values[i] >= sign * values[best]:
                best, waited = i, 0
            else:
                waited += 1
                if waited >= patience:
                    return best + 1, i + 1
        return best + 1, len(values)

    with pytest.raises(ExerciseCheckError, match="equal value"):
        checks.check_early_stopping(ties_improve)


def test_early_stopping_check_reports_an_unfinished_stub():
    def stub(values, patience, higher_is_better=True):
        raise NotImplementedError

    with pytest.raises(ExerciseCheckError, match="not written yet"):
        checks.check_early_stopping(stub)


def uniform(labels, share, seed=0):
    return pitfalls.flip_labels(labels, share, seed=seed)


def test_flip_uniform_check_accepts_the_library_function():
    checks.check_flip_uniform(uniform)


@pytest.mark.parametrize("wrong, message", [
    (lambda labels, share, seed=0: np.where(np.random.default_rng(seed).random(len(labels)) < share,
                                            (np.asarray(labels) + 1) % 3, labels), "exactly 180"),
    (lambda labels, share, seed=0: pitfalls.flip_labels(labels, share, seed=np.random.randint(1 << 30)),
     "same seed"),
    (lambda labels, share, seed=0: np.concatenate([(np.asarray(labels[:int(share * len(labels))]) + 1) % 3,
                                                   labels[int(share * len(labels)):]]), "spread over the whole"),
])
def test_flip_uniform_check_explains_wrong_answers(wrong, message):
    with pytest.raises(ExerciseCheckError, match=message):
        checks.check_flip_uniform(wrong)


def test_flip_uniform_check_catches_changing_the_input():
    def in_place(labels, share, seed=0):
        noisy = pitfalls.flip_labels(labels, share, seed=seed)
        labels[:] = noisy
        return noisy

    with pytest.raises(ExerciseCheckError, match="changed the array"):
        checks.check_flip_uniform(in_place)


def interpolated_break_even(levels, without, with_):
    order = np.argsort(levels)
    x = np.asarray(levels, float)[order]
    gain = (np.asarray(with_, float) - np.asarray(without, float))[order]
    if gain[0] > 0:
        return float(x[0])
    for i in range(1, len(x)):
        if gain[i] > 0:
            return float(x[i - 1] + (x[i] - x[i - 1]) * -gain[i - 1] / (gain[i] - gain[i - 1]))
    return None


def test_break_even_check_accepts_a_right_answer():
    checks.check_break_even(interpolated_break_even)


def test_break_even_check_wants_interpolation_and_none():
    def first_level_that_pays(levels, without, with_):
        for level, a, b in sorted(zip(levels, without, with_)):
            if b > a:
                return level
        return None

    with pytest.raises(ExerciseCheckError, match="interpolate"):
        checks.check_break_even(first_level_that_pays)
    with pytest.raises(ExerciseCheckError, match="None"):
        checks.check_break_even(lambda levels, without, with_: 1.0 if interpolated_break_even(levels, without, with_)
                                is None else interpolated_break_even(levels, without, with_))


# The experiment helpers


def test_flip_labels_flips_exactly_the_share_to_other_classes():
    labels = np.array([0, 1, 2, 0, 1, 2, 0, 0, 1, 2] * 10)
    noisy = pitfalls.flip_labels(labels, 0.3, seed=3)
    assert (noisy != labels).sum() == 30
    assert np.array_equal(noisy, pitfalls.flip_labels(labels, 0.3, seed=3))
    assert np.array_equal(pitfalls.flip_labels(labels, 0.0), labels)


def test_flip_labels_with_weights_only_picks_weighted_examples():
    labels = np.zeros(100, dtype=int)
    weights = np.r_[np.zeros(50), np.ones(50)]
    noisy = pitfalls.flip_labels(labels, 0.2, weights=weights)
    assert (noisy[:50] == 0).all() and (noisy[50:] != 0).sum() == 20
    with pytest.raises(ValueError, match="fewer than"):
        pitfalls.flip_labels(labels, 0.6, weights=weights)
    with pytest.raises(ValueError, match="between 0 and 1"):
        pitfalls.flip_labels(labels, 1.5)
    with pytest.raises(ValueError, match="non-negative"):
        pitfalls.flip_labels(labels, 0.1, weights=-weights)


@pytest.mark.parametrize("values, patience, higher, expected", [
    ([0.5, 0.6, 0.55, 0.54, 0.7], 2, True, (2, 4)),
    ([1.0, 0.8, 0.9, 0.7], 2, False, (4, 4)),
])
def test_early_stopping_epochs(values, patience, higher, expected):
    assert training.early_stopping_epochs(values, patience, higher) == expected


def test_early_stopping_epochs_rejects_bad_input():
    with pytest.raises(ValueError, match="empty"):
        training.early_stopping_epochs([], 2)
    with pytest.raises(ValueError, match="at least 1"):
        training.early_stopping_epochs([0.5], 0)


def test_lee_corpus_loads_and_the_pretrained_encoder_has_the_skill():
    from ftlab.models import load_encoder, load_tokenizer

    docs, ratings = pitfalls.lee_corpus()
    i, j, human = pitfalls.lee_pairs(ratings)
    assert len(docs) == 50 and len(human) == 1225 and (human > 0).all() and (human <= 1).all()
    skill = pitfalls.similarity_skill(load_encoder(), load_tokenizer(), docs, ratings)
    assert 0.6 < skill < 0.7  # 0.656 for all-MiniLM-L6-v2 (mean pooling, 256 tokens)


def test_flip_uniform_check_catches_a_seed_that_is_ignored():
    with pytest.raises(ExerciseCheckError, match="another seed"):
        checks.check_flip_uniform(lambda labels, share, seed=0: pitfalls.flip_labels(labels, share, seed=0))
