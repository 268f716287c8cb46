"""The lesson 01 exercise checks accept right answers and explain wrong ones (tiny inputs, no real model)."""

import numpy as np
import pytest
import torch

from ftlab.course.checks import lesson01 as checks
from ftlab.course.checks.core import ExerciseCheckError
from ftlab.config import ZERO_SHOT_PROMPTS


def unfinished(*args):
    raise NotImplementedError("Exercise 1 of 01_pretrained_model is not done yet")


# Exercise 1: cosine similarity


def cosine(a, b):
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_cosine_accepts_a_right_answer(capsys):
    checks.check_cosine_similarity(cosine)
    assert capsys.readouterr().out.startswith("\u2714")


def test_cosine_accepts_a_numpy_scalar_and_a_one_element_array(capsys):
    checks.check_cosine_similarity(lambda a, b: np.array([a @ b / np.sqrt((a @ a) * (b @ b))]))
    assert "\u2714" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, words", [
    (lambda a, b: float(np.dot(a, b)), "forget to divide by the lengths"),
    (lambda a, b: 1 - cosine(a, b), "cosine *distance*"),
    (lambda a, b: abs(cosine(a, b)), "do not take the absolute value"),
    (lambda a, b: float(np.dot(a, b) / (np.linalg.norm(a) + np.linalg.norm(b))), "do not add them"),
    (lambda a, b: float(np.dot(a, b) / np.linalg.norm(a)), "*both* lengths"),
    (lambda a, b: a * b / (np.linalg.norm(a) * np.linalg.norm(b)), "without adding up"),
    (lambda a, b: None, "returned None"),
    (unfinished, "not written yet"),
])
def test_cosine_rejects_a_wrong_answer(wrong, words):
    with pytest.raises(ExerciseCheckError, match="cosine_similarity") as caught:
        checks.check_cosine_similarity(wrong)
    assert words in str(caught.value)


def test_cosine_message_names_the_input_and_both_values():
    with pytest.raises(ExerciseCheckError) as caught:
        checks.check_cosine_similarity(lambda a, b: float(np.dot(a, b)))
    expected = "cosine_similarity([2.0, 0.0], [3.0, 0.0]) should be 1.0000 (same direction), got 6.0000"
    assert expected in str(caught.value)


# Exercise 2: mean pooling


def pool(hidden, mask):
    weights = mask.unsqueeze(-1).float()
    return (hidden * weights).sum(dim=1) / weights.sum(dim=1)


def test_mean_pool_accepts_a_right_answer(capsys):
    checks.check_mean_pool(pool)
    assert "\u2714" in capsys.readouterr().out


def test_mean_pool_accepts_a_numpy_answer(capsys):
    def numpy_pool(hidden, mask):
        h, m = hidden.numpy(), mask.numpy()[..., None]
        return (h * m).sum(axis=1) / m.sum(axis=1)

    checks.check_mean_pool(numpy_pool)
    assert "\u2714" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, words", [
    (lambda h, m: h.mean(dim=1), "padding went into the average"),
    (lambda h, m: (h * m.unsqueeze(-1)).sum(dim=1), "did not divide"),
    (lambda h, m: (h * m.unsqueeze(-1)).sum(dim=1) / h.shape[1], "divided by all 5 positions"),
    (lambda h, m: h * m.unsqueeze(-1), "nothing was averaged"),
    (lambda h, m: h.mean(dim=0), "averaged over the texts"),
    (lambda h, m: h.mean(dim=2), "numbers inside each vector"),
    (lambda h, m: pool(h, m) + 1e-2, "texts [0, 1, 2] are wrong"),
    (unfinished, "not written yet"),
])
def test_mean_pool_rejects_a_wrong_answer(wrong, words):
    with pytest.raises(ExerciseCheckError) as caught:
        checks.check_mean_pool(wrong)
    assert words in str(caught.value)


def test_mean_pool_reports_a_crash_in_learner_words():
    with pytest.raises(ExerciseCheckError, match="your mean-pooling function raised RuntimeError"):
        checks.check_mean_pool(lambda h, m: h @ m)


# Exercise 3: counting the trainable parameters of the transformer layers


def count_layers(model):
    return sum(p.numel() for p in model.encoder.layer.parameters() if p.requires_grad)


@pytest.fixture(scope="module")
def small_bert():
    """A stand-in for the real encoder: a small BERT, one of whose layers is frozen."""
    from transformers import BertConfig, BertModel

    model = BertModel(BertConfig(vocab_size=50, hidden_size=12, num_hidden_layers=2, num_attention_heads=3,
                                 intermediate_size=24, max_position_embeddings=16))
    for p in model.encoder.layer[1].parameters():
        p.requires_grad = False
    return model


def test_layer_count_accepts_a_right_answer(capsys, small_bert):
    checks.check_layer_parameter_count(count_layers, small_bert)
    out = capsys.readouterr().out
    assert "\u2714" in out and f"{count_layers(small_bert):,}" in out


def test_layer_count_accepts_a_tensor_result(capsys):
    checks.check_layer_parameter_count(lambda m: torch.tensor(count_layers(m)))
    assert "\u2714" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, words", [
    (lambda m: sum(p.numel() for p in m.parameters()), "that is the whole model"),
    (lambda m: sum(p.numel() for p in m.encoder.layer.parameters()), "includes the frozen layer"),
    (lambda m: sum(p.numel() for p in m.encoder.layer.parameters() if not p.requires_grad), "left out the trainable"),
    (lambda m: count_layers(m) + sum(p.numel() for p in m.pooler.parameters()), "pooler is not one of"),
    (lambda m: sum(1 for p in m.encoder.layer.parameters() if p.requires_grad), "counted tensors"),
    (lambda m: sum(p.numel() for p in m.encoder.layer[-1].parameters()), "that is one layer"),
    (lambda m: count_layers(m) + 1, "add up p.numel()"),
    (lambda m: float(count_layers(m)) + 0.5, "whole number"),
    (lambda m: [count_layers(m)], "whole number"),
    (unfinished, "not written yet"),
])
def test_layer_count_rejects_a_wrong_answer(wrong, words):
    with pytest.raises(ExerciseCheckError) as caught:
        checks.check_layer_parameter_count(wrong)
    assert words in str(caught.value)


def test_layer_count_checks_the_model_it_is_given(small_bert):
    def right_only_for_three_layers(m):
        return count_layers(m) if len(m.encoder.layer) == 3 else 7

    with pytest.raises(ExerciseCheckError, match="course's encoder"):
        checks.check_layer_parameter_count(right_only_for_three_layers, small_bert)


# Exercise 4: zero-shot prompts


MINE = {
    "negative": ("So annoyed with this.", "Worst day ever."),
    "neutral": ("Here is the schedule.",),
    "positive": ["Love it, thanks!"],
}


def test_prompts_accept_a_well_formed_dictionary(capsys):
    checks.check_zero_shot_prompts(MINE)
    assert "\u2714" in capsys.readouterr().out


def test_prompts_accept_a_function_that_returns_them(capsys):
    def my_prompts():
        return MINE

    checks.check_zero_shot_prompts(my_prompts, macro_f1=0.41)
    assert "0.410" in capsys.readouterr().out


@pytest.mark.parametrize("function, words", [
    (unfinished, "unfinished() is not written yet"),
    (lambda: None, "returned None"),
    (lambda: MINE | {"positive": "Love it!"}, "read letter by letter"),
])
def test_prompts_explain_a_function_that_does_not_work(function, words):
    with pytest.raises(ExerciseCheckError) as caught:
        checks.check_zero_shot_prompts(function)
    assert words in str(caught.value)


@pytest.mark.parametrize("wrong, words", [
    ([("negative", "bad")], "should be a dictionary"),
    ({"negative": ("a",), "positive": ("b",)}, "missing ['neutral']"),
    (MINE | {"angry": ("grr",)}, "not labels: ['angry']"),
    ({"positive": MINE["positive"], "neutral": MINE["neutral"], "negative": MINE["negative"]}, "in the order"),
    (MINE | {"neutral": ("Here is the schedule.")}, "read letter by letter"),
    (MINE | {"neutral": ()}, "non-empty tuple or list"),
    (MINE | {"neutral": ("Here is the schedule.", "  ")}, "every prompt should be a sentence"),
    (MINE | {"neutral": ("Worst day ever.",)}, "under both 'negative' and 'neutral'"),
    (dict(ZERO_SHOT_PROMPTS), "the course's own prompts"),
])
def test_prompts_reject_a_malformed_dictionary(wrong, words):
    with pytest.raises(ExerciseCheckError) as caught:
        checks.check_zero_shot_prompts(wrong)
    assert words in str(caught.value)


def test_prompts_compare_a_score_with_the_course(capsys):
    checks.check_zero_shot_prompts(MINE, macro_f1=0.47, course_macro_f1=0.45)
    assert "you beat them" in capsys.readouterr().out
    checks.check_zero_shot_prompts(MINE, macro_f1=0.40, course_macro_f1=0.45)
    assert "the course's prompts reach 0.450" in capsys.readouterr().out


@pytest.mark.parametrize("score, words", [
    (0.30, "no better than guessing"),
    (1.5, "between 0 and 1"),
    ("high", "should be a number"),
])
def test_prompts_reject_a_bad_score(score, words):
    with pytest.raises(ExerciseCheckError) as caught:
        checks.check_zero_shot_prompts(MINE, macro_f1=score)
    assert words in str(caught.value)


# Exercise 5: the decision between two prompt sets


def _predictions(n: int = 300, yours_right: float = 0.8, course_right: float = 0.5, seed: int = 0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n)
    wrong = (labels + 1) % 3
    yours = np.where(rng.random(n) < yours_right, labels, wrong)
    course = np.where(rng.random(n) < course_right, labels, wrong)
    return labels, yours, course


def test_prompt_decision_switches_only_beyond_noise(capsys):
    labels, yours, course = _predictions()
    checks.check_prompt_decision("yours", labels, yours, course)
    assert 'use = "yours" is the right call: your prompts beat' in capsys.readouterr().out
    with pytest.raises(ExerciseCheckError, match='Switch to them'):
        checks.check_prompt_decision("course", labels, yours, course)


def test_prompt_decision_keeps_the_course_prompts_within_noise(capsys):
    labels, yours, _ = _predictions(n=60)
    first_two = np.arange(60) < 2
    better = np.where(first_two, labels, yours)  # right on the first two tweets
    worse = np.where(first_two, (labels + 1) % 3, yours)  # wrong on them: a lead of two tweets is noise
    with pytest.raises(ExerciseCheckError, match="not beyond noise"):
        checks.check_prompt_decision("yours", labels, better, worse)
    checks.check_prompt_decision("course", labels, better, worse)
    assert "within noise" in capsys.readouterr().out
    with pytest.raises(ExerciseCheckError, match="do not score higher"):
        checks.check_prompt_decision("yours", labels, worse, better)


def test_prompt_decision_rejects_a_bad_answer():
    labels, yours, course = _predictions()
    with pytest.raises(ExerciseCheckError, match='"yours" or "course"'):
        checks.check_prompt_decision("mine", labels, yours, course)
    with pytest.raises(ExerciseCheckError, match="one per validation tweet"):
        checks.check_prompt_decision("yours", labels, yours[:-1], course)
