import pandas as pd
import pytest

from ftlab import models
from ftlab.training import efficient
from ftlab.course.checks import lesson08 as checks
from ftlab.course.checks.core import ExerciseCheckError


def lora_count(hidden, layers, rank, matrices, labels):
    return layers * matrices * 2 * rank * hidden + hidden * hidden + hidden + hidden * labels + labels


def test_lora_count_accepts_the_right_formula(capsys):
    checks.check_lora_count(lora_count)
    assert "✔" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, message", [
    (lambda h, n, r, m, c: n * m * 2 * r * h, "add the head"),
    (lambda h, n, r, m, c: n * m * 2 * r * h + h * c + c, "add the pooler"),
    (lambda h, n, r, m, c: n * m * r * h + h * h + h + h * c + c, "A \\(rank"),
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


def test_lora_targets_refuses_a_frozen_pooler():
    model = efficient.prepare(models.load_classifier("minilm", device="cpu"), "lora", lora_r=4)
    for parameter in model.base_model.model.bert.pooler.parameters():
        parameter.requires_grad_(False)
    with pytest.raises(ExerciseCheckError, match="weights train, expected"):
        checks.check_lora_targets(model, ("query", "value"), 4)


def _table(qv, qkv):
    return pd.DataFrame({"trainable": [100, 150], "validation macro-F1": [qv, qkv]},
                        index=["query, value", "query, key, value"])


def test_target_choice_accepts_the_better_one_on_validation(capsys):
    checks.check_target_choice(_table(0.50, 0.60), "query, key, value")
    checks.check_target_choice(_table(0.60, 0.50), "query, value")
    checks.check_target_choice(_table(0.55, 0.55), "query, value")
    assert capsys.readouterr().out.count("✔") == 3


@pytest.mark.parametrize("table, chosen, message", [
    (_table(0.50, 0.60), "query, value", "query, key, value is better on validation"),
    (_table(0.55, 0.55), "query, key, value", "tie"),
    (_table(0.50, 0.60), "keys", "one of the settings"),
    (_table(0.50, 0.60).assign(**{"test macro-F1": [0.7, 0.4]}), "query, key, value", "choose on validation first"),
    (_table(0.50, 0.60).drop(columns="trainable"), "query, value", "'trainable' column"),
])
def test_target_choice_names_the_mistake(table, chosen, message):
    with pytest.raises(ExerciseCheckError, match=message):
        checks.check_target_choice(table, chosen)
