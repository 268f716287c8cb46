"""Self-checks for lesson 01's exercises (the pretrained model): each says what is wrong and how to look for it."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ftlab.config import LABELS, SEED, ZERO_SHOT_PROMPTS
from ftlab.course.checks.core import ExerciseCheckError, as_array, call_safely, passed, require
from ftlab.evaluate import describe_difference, paired_bootstrap
from ftlab.models import mean_pool as reference


def _close(x: float, y: float) -> bool:
    return bool(np.isclose(x, y, rtol=1e-5, atol=1e-6))


def check_cosine_similarity(cosine_similarity: Callable) -> None:
    """Exercise 01.1: `cosine_similarity(a, b)` of two 1-D vectors."""
    rng = np.random.default_rng(0)
    cases = [
        ([2.0, 0.0], [3.0, 0.0], "same direction"),
        ([1.0, 0.0], [0.0, 3.0], "at right angles"),
        ([1.0, 2.0], [-2.0, -4.0], "opposite directions"),
        ([3.0, 4.0], [4.0, 3.0], "almost the same direction"),
        (rng.normal(size=384), rng.normal(size=384), None),
    ]
    for index, (a, b, why) in enumerate(cases):
        a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
        call = (f"cosine_similarity({a.tolist()}, {b.tolist()})" if why else
                "cosine_similarity(a, b) for two random vectors of 384 numbers")
        result = call_safely(cosine_similarity, a.copy(), b.copy(), what=call if index else "cosine_similarity")
        require(result is not None, f"{call} returned None: end the function with `return` and the similarity")
        value = as_array(result, f"the result of {call}")
        require(value.size == 1, f"{call} should be one number, got an array of shape {value.shape}: did you "
                                 f"multiply element by element without adding up? np.dot(a, b) does both")
        got = float(value.reshape(-1)[0])
        require(bool(np.isfinite(got)), f"{call} gave {got}: check for a division by zero")
        dot, norm_a, norm_b = float(a @ b), float(np.linalg.norm(a)), float(np.linalg.norm(b))
        expected = dot / (norm_a * norm_b)
        if _close(got, expected):
            continue
        wanted = f"{call} should be {expected:.4f}" + (f" ({why})" if why else "") + f", got {got:.4f}"
        if _close(got, dot):
            hint = "did you forget to divide by the lengths, np.linalg.norm(a) * np.linalg.norm(b)?"
        elif _close(got, 1 - expected):
            hint = "that is the cosine *distance* 1 − cos; return the similarity itself"
        elif expected < 0 and _close(got, -expected):
            hint = "opposite directions give a negative similarity: do not take the absolute value"
        elif _close(got, dot / norm_a) or _close(got, dot / norm_b) or _close(got, dot / norm_a ** 2):
            hint = "divide by the product of *both* lengths, np.linalg.norm(a) * np.linalg.norm(b)"
        elif _close(got, dot / (norm_a + norm_b)):
            hint = "multiply the two lengths, do not add them"
        elif _close(got, dot / (norm_a * norm_b) ** 2):
            hint = "a vector's length is the square root of the sum of its squares (np.linalg.norm does it for you)"
        else:
            hint = "compute np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b))"
        raise ExerciseCheckError(f"{wanted}: {hint}")
    passed("cosine_similarity is right: 1 for the same direction, 0 at right angles, -1 for opposite directions")


def check_mean_pool(mean_pool: Callable) -> None:
    """Exercise 01.2: `mean_pool(hidden, mask)` averages the real tokens' vectors of each text."""
    import torch

    generator = torch.Generator().manual_seed(0)
    texts, tokens, width = 3, 5, 4
    hidden = torch.randn(texts, tokens, width, generator=generator)
    # Text 0 has no padding, text 1 has two padded positions, text 2 is a single real token.
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 0, 0, 0, 0]])
    hidden[mask == 0] = 100.0  # padding that leaks into an average shows up at once
    expected = reference(hidden, mask).numpy()
    call = "mean_pool(hidden, mask) for 3 texts of 5 token positions with vectors of 4 numbers"
    result = call_safely(mean_pool, hidden.clone(), mask.clone(), what="your mean-pooling function")
    require(result is not None, "mean_pool returned None: end the function with `return` and the pooled tensor")
    got = as_array(result, f"the result of {call}")
    if got.shape != expected.shape:
        shape = tuple(got.shape)
        if shape == (texts, tokens, width):
            hint = "nothing was averaged: add up over the tokens, dimension 1 (`.sum(dim=1)`)"
        elif shape == (tokens, width):
            hint = "you averaged over the texts (dimension 0); average over the tokens, dimension 1"
        elif shape == (texts, tokens):
            hint = "you averaged the numbers inside each vector (dimension 2); average over the tokens, dimension 1"
        else:
            hint = "there should be one vector per text"
        raise ExerciseCheckError(f"{call} should have shape {expected.shape} (texts, numbers per vector), "
                                 f"got {shape}: {hint}")
    if np.allclose(got, expected, atol=1e-5):
        passed("mean_pool averages the real tokens of each text and ignores the padding")
        return
    weights = mask.unsqueeze(-1).float()
    summed = (hidden * weights).sum(dim=1)
    if np.allclose(got, hidden.mean(dim=1).numpy(), atol=1e-5):
        hint = ("the padding went into the average (in this test padded positions hold 100): multiply the "
                "vectors by the mask before adding them up")
    elif np.allclose(got, summed.numpy(), atol=1e-5):
        hint = "you added up the real tokens' vectors but did not divide by how many there are, mask.sum(dim=1)"
    elif np.allclose(got, (summed / tokens).numpy(), atol=1e-5):
        hint = (f"you divided by all {tokens} positions; divide by the number of real tokens of each text, "
                f"mask.sum(dim=1) (5, 3 and 1 here)")
    else:
        bad = [i for i in range(texts) if not np.allclose(got[i], expected[i], atol=1e-5)]
        hint = (f"the vectors of texts {bad} are wrong (they have {[int(mask[i].sum()) for i in bad]} real "
                f"tokens); expected {np.round(expected[bad[0]], 4).tolist()}, got {np.round(got[bad[0]], 4).tolist()}")
    raise ExerciseCheckError(f"{call} gives the wrong numbers: {hint}")


def _tiny_bert(frozen_layer: int | None = None):
    from transformers import BertConfig, BertModel

    config = BertConfig(vocab_size=100, hidden_size=8, num_hidden_layers=3, num_attention_heads=2,
                        intermediate_size=16, max_position_embeddings=32)
    model = BertModel(config)
    if frozen_layer is not None:
        for p in model.encoder.layer[frozen_layer].parameters():
            p.requires_grad = False
    return model


def check_layer_parameter_count(count_layer_parameters: Callable, model: Any = None) -> None:
    """Exercise 01.3: `count_layer_parameters(model)` counts trainable parameters in model.encoder.layer."""
    def layer_count(m, trainable_only: bool = True) -> int:
        return sum(p.numel() for p in m.encoder.layer.parameters() if p.requires_grad or not trainable_only)

    cases = [(_tiny_bert(), "a tiny BERT with 3 layers"),
             (_tiny_bert(frozen_layer=0), "a tiny BERT with 3 layers whose first layer is frozen")]
    if model is not None:
        cases.append((model, "the course's encoder"))
    for index, (m, what) in enumerate(cases):
        expected = layer_count(m)
        result = call_safely(count_layer_parameters, m,
                             what=f"count_layer_parameters on {what}" if index else "count_layer_parameters")
        if hasattr(result, "item"):
            result = result.item()
        require(isinstance(result, (int, np.integer, float)) and not isinstance(result, bool)
                and float(result).is_integer(),
                f"count_layer_parameters should return a whole number, got {result!r}: add up p.numel() "
                f"of the parameters")
        got = int(result)
        if got == expected:
            continue
        layers = list(m.encoder.layer)
        one_layer = sum(p.numel() for p in layers[-1].parameters())
        pooler = sum(p.numel() for p in m.pooler.parameters()) if getattr(m, "pooler", None) is not None else 0
        if got == sum(p.numel() for p in m.parameters()) or got == sum(
                p.numel() for p in m.parameters() if p.requires_grad):
            hint = "that is the whole model; count only the transformer layers, model.encoder.layer"
        elif got == expected + pooler:
            hint = "the pooler is not one of the transformer layers: count only model.encoder.layer"
        elif got == layer_count(m, trainable_only=False):
            hint = "that includes the frozen layer: keep only parameters with p.requires_grad"
        elif got == layer_count(m, trainable_only=False) - expected:
            hint = "you counted the frozen parameters and left out the trainable ones: keep those with p.requires_grad"
        elif got == sum(1 for p in m.encoder.layer.parameters() if p.requires_grad):
            hint = "you counted tensors, not numbers: add up p.numel() for each tensor p"
        elif got == one_layer:
            hint = "that is one layer; add up all the layers in model.encoder.layer"
        else:
            hint = "add up p.numel() for p in model.encoder.layer.parameters() if p.requires_grad"
        raise ExerciseCheckError(f"for {what}, count_layer_parameters should give {expected:,}, got {got:,}: {hint}")
    shown = f" ({layer_count(model):,} in the course's encoder)" if model is not None else ""
    passed(f"count_layer_parameters counts the trainable parameters of the transformer layers{shown}")


def check_zero_shot_prompts(prompts: Any, macro_f1: float | None = None,
                            course_macro_f1: float | None = None) -> None:
    """Exercise 01.4: your zero-shot prompts (a dict, or a function returning one) are well formed and beat guessing."""

    if callable(prompts):
        name = getattr(prompts, "__name__", "your function")
        prompts = call_safely(prompts, what=f"{name}()")
        require(prompts is not None, f"{name}() returned None: end it with `return` and your dictionary")
    require(isinstance(prompts, dict),
            f"your prompts should be a dictionary {{label: sentences}}, got {type(prompts).__name__}")
    missing = [label for label in LABELS if label not in prompts]
    extra = [key for key in prompts if key not in LABELS]
    require(not missing and not extra,
            f"the keys should be exactly {list(LABELS)}; "
            + (f"missing {missing}" if missing else "") + ("; " if missing and extra else "")
            + (f"not labels: {extra}" if extra else ""))
    require(list(prompts) == list(LABELS),
            f"the keys should come in the order {list(LABELS)} (label ids follow this order), got {list(prompts)}")
    seen: dict[str, str] = {}
    for label in LABELS:
        value = prompts[label]
        require(not isinstance(value, str),
                f"prompts[{label!r}] is one string, not a tuple of strings, so it would be read letter by letter: "
                f"(\"a sentence\") is just a string in brackets; write (\"a sentence\",) with a comma, or a list")
        require(isinstance(value, (list, tuple)) and len(value) > 0,
                f"prompts[{label!r}] should be a non-empty tuple or list of sentences, got {value!r}")
        for sentence in value:
            require(isinstance(sentence, str) and sentence.strip() != "",
                    f"prompts[{label!r}] holds {sentence!r}: every prompt should be a sentence of text")
            other = seen.get(sentence.strip().lower())
            require(other is None or other == label,
                    f"the sentence {sentence!r} is under both {other!r} and {label!r}: a sentence can only "
                    f"describe one label")
            seen[sentence.strip().lower()] = label
    require({k: tuple(v) for k, v in prompts.items()} != {k: tuple(v) for k, v in ZERO_SHOT_PROMPTS.items()},
            "these are the course's own prompts (ftlab.config.ZERO_SHOT_PROMPTS): write sentences of your own")
    if macro_f1 is None:
        passed(f"your prompts have sentences for each of {', '.join(LABELS)}")
        return
    try:
        score = float(macro_f1)
    except (TypeError, ValueError):
        raise ExerciseCheckError(f"macro_f1 should be a number between 0 and 1, got {macro_f1!r}") from None
    require(0.0 <= score <= 1.0, f"macro_f1 should be between 0 and 1, got {score}: use "
                                 f"f1_score(labels, predicted, average='macro')")
    require(score > 0.34, f"your prompts reach a macro-F1 of {score:.3f}, no better than guessing at random "
                          f"(about a third with three labels): give each label sentences that clearly express "
                          f"that feeling, and keep the labels' sentences different from each other")
    if course_macro_f1 is None:
        passed(f"your prompts reach a macro-F1 of {score:.3f}, better than guessing")
    elif score > float(course_macro_f1):
        passed(f"your prompts reach a macro-F1 of {score:.3f} against {float(course_macro_f1):.3f} for the "
               f"course's prompts: you beat them")
    else:
        passed(f"your prompts reach a macro-F1 of {score:.3f}, better than guessing; the course's prompts "
               f"reach {float(course_macro_f1):.3f}: try sentences that sound more like the tweets")


def check_prompt_decision(use: Any, labels: Any, yours: Any, course: Any, seed: int = SEED) -> None:
    """Exercise 01.5: switch to your prompts (`use = "yours"`) only when validation shows them better beyond noise.

    `yours` and `course` are the two prompt sets' predictions on the same validation tweets, `labels` the truth.
    """
    require(use in ("yours", "course"), f'use should be "yours" or "course", got {use!r}')
    labels, yours, course = (as_array(v, name) for v, name in ((labels, "labels"), (yours, "your predictions"),
                                                               (course, "the course's predictions")))
    require(labels.shape == yours.shape == course.shape,
            f"labels and both predictions should be one per validation tweet, got shapes {labels.shape}, "
            f"{yours.shape} and {course.shape}")
    result = paired_bootstrap(labels, yours, course, seed=seed)
    sentence = describe_difference(result, "your prompts", "the course's prompts").replace(
        "test items", "validation tweets")
    right = "yours" if result["low"] > 0 else "course"
    if use == right:
        passed(f'use = "{use}" is the right call: {sentence}')
        return
    if use == "yours" and result["difference"] > 0:
        raise ExerciseCheckError(f"your prompts score higher on these tweets, but not beyond noise: {sentence} Another "
                                 f"sample of tweets could reverse it; keep the course's prompts (use = \"course\")")
    if use == "yours":
        raise ExerciseCheckError(f"your prompts do not score higher: {sentence} Keep the course's (use = \"course\")")
    raise ExerciseCheckError(f"your prompts are better beyond noise: {sentence} Switch to them (use = \"yours\")")
