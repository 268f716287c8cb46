import numpy as np
import pandas as pd
import pytest

from ftlab.labs import generative
from ftlab.course.checks import lesson07 as checks
from ftlab.course.checks.core import ExerciseCheckError
from ftlab.labs.phrasebook import phrasebook

TEMPLATE = "French: {source}\nEnglish:"


@pytest.fixture(scope="module")
def lm():
    return generative.load_causal_lm("tiny-gpt2", device="cpu")


@pytest.fixture(scope="module")
def book():
    return phrasebook()


def right_encoding(tokenizer, source, target):
    prompt = tokenizer(generative.format_prompt(source))["input_ids"]
    answer = tokenizer(" " + target)["input_ids"] + [tokenizer.eos_token_id]
    return {"input_ids": prompt + answer, "labels": [-100] * len(prompt) + answer}


def test_masked_encoding_accepts_the_right_answer(lm, capsys):
    checks.check_masked_encoding(right_encoding, lm[1])
    assert "✔" in capsys.readouterr().out


def without_space(tokenizer, source, target):
    prompt = tokenizer(generative.format_prompt(source))["input_ids"]
    answer = tokenizer(target)["input_ids"] + [tokenizer.eos_token_id]
    return {"input_ids": prompt + answer, "labels": [-100] * len(prompt) + answer}


@pytest.mark.parametrize("wrong, message", [
    (lambda t, s, g: {**right_encoding(t, s, g), "labels": right_encoding(t, s, g)["input_ids"]}, "-100"),
    (lambda t, s, g: {k: v[:-1] for k, v in right_encoding(t, s, g).items()}, "end-of-text"),
    (without_space, "with the space"),
    (lambda t, s, g: {"input_ids": right_encoding(t, s, g)["input_ids"]}, "'labels'"),
])
def test_masked_encoding_names_the_mistake(lm, wrong, message):
    with pytest.raises(ExerciseCheckError, match=message):
        checks.check_masked_encoding(wrong, lm[1])


def test_reversed_pairs(lm, book):
    tokenizer = lm[1]
    train = book["train"].select(range(30))
    right = generative.encode_pairs(train, tokenizer, source="french", target="english", template=TEMPLATE)
    checks.check_reversed_pairs(right, tokenizer, train)
    forward = generative.encode_pairs(train, tokenizer)
    with pytest.raises(ExerciseCheckError, match="source='french', target='english'"):
        checks.check_reversed_pairs(forward, tokenizer, train)
    with pytest.raises(ExerciseCheckError, match="every training pair"):
        checks.check_reversed_pairs(right.select(range(10)), tokenizer, train)


CURVE = {0.3: 55.0, 0.7: 52.0, 1.0: 44.0, 1.5: 30.0}


@pytest.mark.parametrize("chosen, greedy", [("greedy", 58.0), (0.3, 50.0), (np.float64(0.3), 50.0)])
def test_temperature_choice_accepts_the_best_on_validation(chosen, greedy, capsys):
    checks.check_temperature_choice(chosen, pd.Series(CURVE), greedy)
    assert "✔" in capsys.readouterr().out


@pytest.mark.parametrize("chosen, greedy, message", [
    (0.3, 58.0, "greedy decoding scores chrF 58.0 and your choice, temperature 0.3, 55.0"),
    ("greedy", 50.0, "temperature 0.3 scores chrF 55.0"),
    (1.5, 50.0, "highest validation chrF"),
    (0.5, 50.0, "one of the curve's temperatures"),
    ("sampled", 50.0, "'greedy' or one of"),
])
def test_temperature_choice_names_the_better_setting(chosen, greedy, message):
    with pytest.raises(ExerciseCheckError, match=message):
        checks.check_temperature_choice(chosen, CURVE, greedy)
