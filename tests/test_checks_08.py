import pytest

from ftlab import models
from ftlab.training import efficient
from ftlab.course.checks import lesson08 as checks
from ftlab.course.checks.core import ExerciseCheckError


def lora_count(hidden, layers, rank, matrices, labels):
    return layers * matrices * 2 * rank * hidden + hidden * labels + labels


def test_lora_count_accepts_the_right_formula(capsys):
    checks.check_lora_count(lora_count)
    assert "✔" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, message", [
    (lambda h, n, r, m, c: n * m * 2 * r * h, "add the classifier"),
    (lambda h, n, r, m, c: n * m * r * h + h * c + c, "A \\(rank"),
    (lambda h, n, r, m, c: float(lora_count(h, n, r, m, c)), "whole number"),
])
def test_lora_count_names_the_mistake(wrong, message):
    with pytest.raises(ExerciseCheckError, match=message):
        checks.check_lora_count(wrong)


def training_state_mb(model):
    weights = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return (4 * weights + 12 * trainable) / 2 ** 20


def test_training_state_accepts_the_right_answer(capsys):
    checks.check_training_state_mb(training_state_mb)
    assert "✔" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, message", [
    (lambda model: 16 * sum(p.numel() for p in model.parameters()) / 2 ** 20, "frozen weights"),
    (lambda model: training_state_mb(model) * 2 ** 20 / 1e6, "divided by 2\\*\\*20"),
    (lambda model: None, "one number"),
])
def test_training_state_names_the_mistake(wrong, message):
    with pytest.raises(ExerciseCheckError, match=message):
        checks.check_training_state_mb(wrong)


def test_unfinished_exercise_is_reported_as_such():
    def stub(*args):
        raise NotImplementedError
    with pytest.raises(ExerciseCheckError, match="not written yet"):
        checks.check_lora_count(stub)


def test_lora_targets_accepts_the_right_model(capsys):
    model = efficient.prepare(models.load_classifier("minilm", device="cpu"), "lora", lora_r=4,
                              lora_targets=("query", "key", "value"))
    checks.check_lora_targets(model, ("query", "key", "value"), 4)
    assert "✔" in capsys.readouterr().out


def test_lora_targets_refuses_other_targets_ranks_and_plain_models():
    model = efficient.prepare(models.load_classifier("minilm", device="cpu"), "lora", lora_r=4)
    with pytest.raises(ExerciseCheckError, match="sit on"):
        checks.check_lora_targets(model, ("query", "key", "value"), 4)
    with pytest.raises(ExerciseCheckError, match="rank 4, not 8"):
        checks.check_lora_targets(model, ("query", "value"), 8)
    with pytest.raises(ExerciseCheckError, match="no LoRA adapters"):
        checks.check_lora_targets(models.load_classifier("minilm", device="cpu"), ("query",), 4)
