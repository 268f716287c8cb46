"""Self-checks for the exercise notebooks: they say what is wrong and how to look for it.

Every check raises :class:`ExerciseCheckError` (an AssertionError) with a message written for the
learner, or prints a line starting with a check mark when the answer is right.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np


class ExerciseCheckError(AssertionError):
    """An exercise answer is not right yet; the message says what is wrong."""


def require(condition: bool, message: str) -> None:
    """Raise ExerciseCheckError(message) unless `condition` holds."""
    if not condition:
        raise ExerciseCheckError(message)


def passed(message: str) -> None:
    """Tell the learner that a check passed."""
    print(f"\u2714 {message}")


def call_safely(function: Callable, *args: Any, what: str) -> Any:
    """Call the learner's function; turn an unfinished stub or a crash into a readable message."""
    try:
        return function(*args)
    except NotImplementedError:
        raise ExerciseCheckError(f"{what} is not written yet: replace the `raise NotImplementedError` line "
                                 f"with your code and run its cell again") from None
    except ExerciseCheckError:
        raise
    except Exception as err:
        raise ExerciseCheckError(f"{what} raised {type(err).__name__}: {err}") from err


def as_array(value: Any, what: str) -> np.ndarray:
    """Convert the learner's value to a numpy array, with a clear error if that is impossible."""
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    try:
        return np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ExerciseCheckError(f"{what} should be numbers (a list, numpy array or tensor), "
                                 f"got {type(value).__name__}") from None


# Lesson 02


def check_find_leaks(find_leaks: Callable) -> None:
    """Exercise 02.1: `find_leaks(train_texts, test_texts, key=None)` returns the set of leaked test texts."""
    import pandas as pd

    from ftlab.data import dedup_key

    cases = [
        (["the flight was late", "great crew"], ["great crew", "lost my bag"], None, {"great crew"},
         "one test text is also in train"),
        (["a", "b"], ["c", "d"], None, set(), "no test text is in train"),
        ([], ["a"], None, set(), "train is empty"),
        (["a"], [], None, set(), "test is empty"),
        (["a", "b"], ["b", "b", "c"], None, {"b"}, "a leaked text appears twice in test"),
        (["Hello"], ["hello"], None, set(), "texts differ only in case and no key is given"),
        (["Hello"], ["hello", "bye"], str.lower, {"hello"}, "the key is str.lower"),
        (["Thanks @user!"], ["thanks  @user", "thanks"], dedup_key, {"thanks  @user"}, "the key is data.dedup_key"),
        (pd.Series(["x", "y"]), pd.Series(["y", "z"]), None, {"y"}, "train and test are pandas Series"),
    ]
    for train, test, key, expected, what in cases:
        key_name = {None: "None", str.lower: "str.lower", dedup_key: "data.dedup_key"}[key]
        call = f"find_leaks({list(train)!r}, {list(test)!r}, key={key_name})"
        result = call_safely(find_leaks, train, test, key, what=call)
        require(result is not None,
                "find_leaks returned None: end the function with `return` and the set of leaked test texts")
        try:
            found = set(result)
        except TypeError:
            raise ExerciseCheckError(f"find_leaks should return a set of texts, got {type(result).__name__}") from None
        hint = ": return the test texts as they are, not their keys" if key and found else ""
        require(found == expected, f"when {what}, {call} should give {expected}, got {found}{hint}")
    passed("find_leaks finds exact and normalised copies, and nothing else")


def check_is_retweet(is_retweet: Callable) -> None:
    """Exercise 02.2: `is_retweet(text)` recognises a leading RT/MT marker."""
    first_word = "the first word is RT or MT"
    cases = [
        ("RT @united: thanks for the upgrade", True, first_word),
        ("rt @JetBlue great flight", True, f"{first_word}, in lower case"),
        ("   MT @news: driverless cars are here", True, f"{first_word}, after some spaces"),
        ("RT: look at this", True, f"{first_word}, followed by a colon"),
        ("RT", True, f"{first_word} and the only word"),
        ("RTX 4090 is out", False, "the first word is RTX, not RT"),
        ("MTV awards tonight", False, "the first word is MTV, not MT"),
        ("so true RT @x: hi", False, "RT is there, but it is not the first word"),
        ("ART is everything", False, "the first word is ART"),
        ("", False, "the text is empty"),
    ]
    for text, expected, why in cases:
        result = call_safely(is_retweet, text, what=f"is_retweet({text!r})")
        require(isinstance(result, (bool, np.bool_)),
                f"is_retweet({text!r}) returned {result!r} ({type(result).__name__}): return True or False "
                f"(with re.match, compare its result with None)")
        require(bool(result) == expected, f"is_retweet({text!r}) should be {expected}: {why}")
    passed("is_retweet recognises RT/MT markers and ignores look-alikes")


def check_load_moods(load_moods: Callable, path: Any) -> None:
    """Exercise 02.3: `load_moods(path)` loads the moods JSONL file with labels bad, ok, good."""
    import json
    from pathlib import Path

    rows = [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    expected_mood = {row["message"]: row["mood"] for row in rows}
    result = call_safely(load_moods, path, what="load_moods(moods_file)")
    require(result is not None, "load_moods returned None: return what data.load_text_file gives you")
    require(hasattr(result, "keys") and set(result.keys()) == {"train", "validation", "test"},
            f"load_moods should return the DatasetDict of data.load_text_file (train, validation, test), "
            f"got {type(result).__name__}")
    names = result["train"].features["label"].names
    require(names == ["bad", "ok", "good"],
            f"the label names are {names}, in that order: pass labels=['bad', 'ok', 'good'] so that 0 is bad, "
            f"1 is ok and 2 is good")
    total = sum(len(split) for split in result.values())
    require(total == len(rows), f"the splits hold {total} rows together, the file has {len(rows)}")
    for split in result.values():
        for text, label in zip(split["text"], split["label"]):
            require(text in expected_mood, f"the text {text!r} is not a message of the file: "
                                           f"pass text_column='message'")
            require(names[label] == expected_mood[text],
                    f"{text!r} has the label {names[label]!r}, the file says {expected_mood[text]!r}")
    passed(f"load_moods gives {total} messages in train/validation/test with labels bad, ok, good")


def check_label_share_by_topic(label_share_by_topic: Callable) -> None:
    """Exercise 02.4: `label_share_by_topic(frame)` gives the share of each label within each topic."""
    import pandas as pd

    from ftlab.config import LABELS

    frame = pd.DataFrame({  # no tweet is positive: the column must still be there, full of zeros
        "topic": ["air", "air", "air", "cars", "cars", "air"],
        "sentiment": ["negative", "negative", "neutral", "neutral", "neutral", "negative"],
        "text": ["a", "b", "c", "d", "e", "f"],
    })
    before = frame.copy()
    result = call_safely(label_share_by_topic, frame, what="label_share_by_topic(frame)")
    require(frame.equals(before), "label_share_by_topic changed the table it was given: work on a copy")
    require(isinstance(result, pd.DataFrame), f"label_share_by_topic should return a DataFrame, "
                                              f"got {type(result).__name__}")
    require(list(result.columns) == list(LABELS),
            f"the columns should be the labels in the order {list(LABELS)}, got {list(result.columns)} "
            f"(reindex the columns; a label that never occurs still needs its column)")
    require(sorted(result.index) == ["air", "cars"],
            f"there should be one row per topic (air, cars), got the index {list(result.index)}")
    require(not result.isna().any().any(), "the table has NaN: a label that a topic never has should be 0")
    values = as_array(result.loc[["air", "cars"]].to_numpy(), "the shares")
    sums = values.sum(axis=1)
    hint = ": divide by the number of tweets of the topic, not of the whole table" if (sums < 1).all() else ""
    require(np.allclose(sums, 1.0), f"each row should sum to 1 (shares within the topic), the sums are "
                                    f"{sums.round(3)}{hint}")
    expected = np.array([[0.75, 0.25, 0.0], [0.0, 1.0, 0.0]])
    require(np.allclose(values, expected),
            f"on a small table with air = 3 negative + 1 neutral and cars = 2 neutral, expected\n{expected}\n"
            f"got\n{values.round(3)}")
    passed("label_share_by_topic gives the share of each label within each topic")


# Lesson 01


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

    from ftlab.models import mean_pool as reference

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
    from ftlab.config import LABELS, ZERO_SHOT_PROMPTS

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


# ---------------------------------------------------------------------------------------------------
# Lesson 03


def _tiny_classifier(seed: int = 0):
    """A 1-layer BERT classifier small enough to train in milliseconds (for the lesson-03 checks)."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(seed)
    config = BertConfig(vocab_size=60, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, num_labels=3, hidden_dropout_prob=0.0,
                        attention_probs_dropout_prob=0.0)
    return BertForSequenceClassification(config)


def _tiny_batch(seed: int = 0) -> dict:
    import torch

    generator = torch.Generator().manual_seed(seed)
    return {"input_ids": torch.randint(1, 60, (8, 6), generator=generator),
            "attention_mask": torch.ones(8, 6, dtype=torch.long),
            "labels": torch.randint(0, 3, (8,), generator=generator)}


def check_training_step(training_step: Callable) -> None:
    """Check `training_step(model, batch, optimizer) -> float`: forward, backward, step, zero the gradients."""
    import torch

    model = _tiny_classifier()
    batch = _tiny_batch()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    before = model.classifier.weight.detach().clone()
    loss = call_safely(training_step, model, batch, optimizer, what="training_step(model, batch, optimizer)")
    require(isinstance(loss, float), f"training_step should return the loss as a Python float (use loss.item()), "
                                     f"got {type(loss).__name__}")
    twin = _tiny_classifier()  # same seed: the weights the learner's model had before the step
    with torch.no_grad():
        first_loss = twin(**batch).loss.item()
    require(abs(loss - first_loss) < 1e-4, f"the returned loss {loss:.4f} is not the loss of the batch before the "
                                          f"update ({first_loss:.4f}): return the loss of the forward pass")
    require(not torch.equal(before, model.classifier.weight), "the weights did not change: call optimizer.step() "
                                                              "after loss.backward()")
    grads = [p.grad for p in model.parameters() if p.grad is not None and p.grad.abs().sum() > 0]
    require(not grads, "the gradients are still there after the step: call optimizer.zero_grad(), or the next "
                       "step adds its gradients to these")
    losses = [call_safely(training_step, model, batch, optimizer, what="training_step") for _ in range(20)]
    require(losses[-1] < first_loss, f"20 more steps on the same batch should lower the loss, but it went from "
                                     f"{first_loss:.3f} to {losses[-1]:.3f}")
    passed(f"your training step works: the loss on one batch fell from {first_loss:.3f} to {losses[-1]:.3f}")


def check_linear_warmup(lr_at: Callable) -> None:
    """Check `lr_at(step, total_steps, warmup_steps, peak_lr)` against transformers' linear schedule."""
    import torch
    from transformers import get_linear_schedule_with_warmup

    total, warmup, peak = 50, 5, 1e-3
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=peak)
    schedule = get_linear_schedule_with_warmup(optimizer, warmup, total)
    for step in range(total + 1):
        expected = optimizer.param_groups[0]["lr"]
        got = call_safely(lr_at, step, total, warmup, peak, what=f"lr_at({step}, {total}, {warmup}, {peak})")
        require(isinstance(got, (int, float)), f"lr_at should return a number, got {type(got).__name__}")
        if abs(got - expected) > 1e-9:
            phase = "warm-up (it should grow linearly from 0)" if step < warmup else \
                "decay (it should fall linearly to 0 at the last step)"
            raise ExerciseCheckError(f"lr_at({step}, total_steps={total}, warmup_steps={warmup}, peak_lr={peak}) "
                                     f"should be {expected:.6g}, got {got:.6g}: look at the {phase}")
        optimizer.step()
        schedule.step()
    passed("your schedule matches transformers' get_linear_schedule_with_warmup at every step")


def check_padding_share(padding_share: Callable) -> None:
    """Check `padding_share(lengths, batches)`: the share of computed tokens that are padding."""
    cases = [
        ([3, 3, 3, 3], [[0, 1], [2, 3]], 0.0),
        ([1, 3], [[0, 1]], 2 / 6),
        ([1, 3, 2, 2], [[0, 1], [2, 3]], 2 / 10),
        ([5], [[0]], 0.0),
    ]
    for lengths, batches, expected in cases:
        got = call_safely(padding_share, lengths, batches, what=f"padding_share({lengths}, {batches})")
        require(isinstance(got, (int, float)), f"padding_share should return a number, got {type(got).__name__}")
        if abs(got - expected) > 1e-9:
            hint = ("each batch is padded to its *own* longest example, not to the longest overall"
                    if lengths == [1, 3, 2, 2] else "padding = computed tokens − real tokens; computed tokens of a "
                    "batch = its size × its longest length")
            raise ExerciseCheckError(f"padding_share({lengths}, {batches}) should be {expected:.3f}, got {got:.3f}: "
                                     f"{hint}")
    passed("your padding share is right on every case")


def check_freeze_body(freeze_body: Callable) -> None:
    """Check `freeze_body(model) -> int`: only the classification head stays trainable; return that count."""
    model = _tiny_classifier()
    count = call_safely(freeze_body, model, what="freeze_body(model)")
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    head = {name for name, _ in model.named_parameters() if name.startswith("classifier.")}
    require(trainable, "nothing is trainable any more: keep requires_grad=True on the classifier's parameters")
    require(trainable <= head, f"these body parameters are still trainable: {sorted(trainable - head)[:3]} …: set "
                               f"requires_grad=False on every parameter outside the classifier")
    require(trainable == head, f"the head must stay trainable, but {sorted(head - trainable)} is frozen")
    expected = sum(p.numel() for p in model.parameters() if p.requires_grad)
    require(count == expected, f"freeze_body should return the number of trainable parameters ({expected}), "
                               f"got {count!r}")
    passed(f"only the head is trainable: {expected} parameters of this small model")


# Lesson 04


def _macro_f1_reference(matrix: np.ndarray) -> float:
    """Macro-F1 from a confusion matrix (rows true, columns predicted); a label with 2TP + FP + FN = 0 scores 0."""
    tp = np.diag(matrix).astype(float)
    fp, fn = matrix.sum(axis=0) - tp, matrix.sum(axis=1) - tp
    denominator = 2 * tp + fp + fn
    return float(np.mean(np.divide(2 * tp, denominator, out=np.zeros_like(tp), where=denominator > 0)))


def check_macro_f1_from_confusion(macro_f1_from_confusion: Callable) -> None:
    """Exercise 04.1: `macro_f1_from_confusion(matrix)` computes macro-F1 from a confusion matrix."""
    rng = np.random.default_rng(4)
    cases = [
        (np.array([[5, 0, 0], [0, 3, 0], [0, 0, 2]]), "every answer is right"),
        (np.array([[50, 10, 5], [8, 30, 12], [2, 6, 20]]), "the model makes some mistakes"),
        (np.array([[8, 0, 0], [1, 0, 0], [1, 0, 0]]), "the model always answers the first label"),
        (np.array([[40, 10], [5, 5]]), "there are only two labels"),
        (rng.integers(1, 30, size=(4, 4)), "the matrix is random, with four labels"),
    ]
    for index, (matrix, why) in enumerate(cases):
        call = f"macro_f1_from_confusion({matrix.tolist()})"
        result = call_safely(macro_f1_from_confusion, matrix.copy(),
                             what=call if index else "macro_f1_from_confusion")
        require(result is not None, f"{call} returned None: end the function with `return` and the macro-F1")
        value = as_array(result, f"the result of {call}")
        require(value.size == 1, f"{call} should be one number, got an array of shape {value.shape}: average the "
                                 f"per-label F1 scores with np.mean")
        got = float(value.reshape(-1)[0])
        expected = _macro_f1_reference(matrix)
        if np.isclose(got, expected, atol=1e-6):
            continue
        tp = np.diag(matrix).astype(float)
        with np.errstate(divide="ignore", invalid="ignore"):
            precision, recall = tp / matrix.sum(axis=0), tp / matrix.sum(axis=1)
        support = matrix.sum(axis=1) / matrix.sum()
        f1 = np.nan_to_num(2 * tp / (2 * tp + (matrix.sum(axis=0) - tp) + (matrix.sum(axis=1) - tp)))
        if not np.isfinite(got):
            hint = ("a label that is never predicted has precision 0/0: count its precision (and F1) as 0, or use "
                    "F1 = 2·TP / (2·TP + FP + FN), which never divides by zero here")
        elif np.isclose(got, tp.sum() / matrix.sum()):
            hint = "that is the accuracy (the diagonal over the total); macro-F1 averages one F1 score per label"
        elif np.isclose(got, float((f1 * support).sum())):
            hint = "you weighted the labels by their number of tweets; macro-F1 gives every label the same weight"
        elif np.isclose(got, np.nanmean(precision)) or np.isclose(got, np.nanmean(recall)):
            hint = "that is the mean precision or the mean recall alone; F1 combines both, 2·P·R / (P + R)"
        elif np.isclose(got, np.nanmean(np.nan_to_num((precision + recall) / 2))):
            hint = "F1 is the harmonic mean of precision and recall, 2·P·R / (P + R), not their plain average"
        else:
            hint = ("for each label, precision = TP / column sum and recall = TP / row sum (rows are true labels), "
                    "F1 = 2·P·R / (P + R); then average the labels")
        raise ExerciseCheckError(f"when {why}, {call} should be {expected:.4f}, got {got:.4f}: {hint}")
    passed("macro_f1_from_confusion gives every label's F1 the same weight, also when a label is never predicted")


def _ece_cases() -> list[tuple[np.ndarray, np.ndarray, int, float, str]]:
    """(probs, labels, bins, expected ECE, what the case is) for the ECE exercise."""
    from ftlab.evaluate import expected_calibration_error

    def rows(top: float, n: int, n_right: int) -> tuple[np.ndarray, np.ndarray]:
        rest = (1 - top) / 2
        probs = np.tile([top, rest + 0.01, rest - 0.01] if rest > 0 else [1.0, 0.0, 0.0], (n, 1))
        return probs, np.array([0] * n_right + [1] * (n - n_right))

    cases = []
    probs, labels = rows(0.8, 10, 8)
    cases.append((probs, labels, 10, 0.0, "10 tweets at confidence 0.8 of which 8 are right"))
    probs, labels = rows(0.9, 10, 6)
    cases.append((probs, labels, 10, 0.3, "10 tweets at confidence 0.9 of which only 6 are right"))
    p1, l1 = rows(0.95, 4, 2)
    p2, l2 = rows(0.45, 6, 6)
    cases.append((np.vstack([p1, p2]), np.concatenate([l1, l2]), 10, 0.4 * 0.45 + 0.6 * 0.55,
                  "4 tweets at 0.95 (2 right) and 6 at 0.45 (all right)"))
    probs, labels = rows(1.0, 5, 4)
    cases.append((probs, labels, 10, 0.2, "5 tweets at confidence exactly 1.0 of which 4 are right"))
    p1, l1 = rows(0.45, 5, 5)
    p2, l2 = rows(0.55, 5, 0)
    cases.append((np.vstack([p1, p2]), np.concatenate([l1, l2]), 5, 0.0,
                  "5 tweets at 0.45 (all right) and 5 at 0.55 (all wrong), which share a bin when bins=5"))
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(300, 3)) * 2
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    labels = np.array([rng.choice(3, p=row) for row in probs])  # drawn from the probabilities: nearly calibrated
    cases.append((probs, labels, 10, expected_calibration_error(probs, labels, bins=10),
                  "300 random predictions"))
    return cases


def check_expected_calibration_error(expected_calibration_error: Callable) -> None:
    """Exercise 04.2: `expected_calibration_error(probs, labels, bins=10)` written by hand."""
    from ftlab.evaluate import expected_calibration_error as reference_ece
    from ftlab.evaluate import reliability_table

    for index, (probs, labels, bins, expected, why) in enumerate(_ece_cases()):
        call = f"expected_calibration_error(probs, labels, bins={bins}) for {why}"
        result = call_safely(expected_calibration_error, probs.copy(), labels.copy(), bins,
                             what=call if index else "expected_calibration_error")
        require(result is not None, f"{call} returned None: end the function with `return` and the ECE")
        value = as_array(result, f"the result of {call}")
        require(value.size == 1, f"{call} should be one number, got an array of shape {value.shape}")
        got = float(value.reshape(-1)[0])
        if np.isclose(got, expected, atol=1e-6):
            continue
        table = reliability_table(probs, labels, bins)
        weights = table["count"] / table["count"].sum()
        if not np.isfinite(got):
            hint = "skip the empty bins: the mean of an empty bin is nan"
        elif np.isclose(got, table["gap"].abs().mean()):
            hint = "you averaged the bins equally; weight each bin's gap by its share of the tweets, n_b / n"
        elif np.isclose(got, abs(float((weights * table["gap"]).sum()))):
            hint = "take the absolute value of each bin's gap before adding: gaps of opposite sign must not cancel"
        elif np.isclose(probs.max(), 1.0) and np.isclose(got, 0.0):
            hint = ("a confidence of exactly 1.0 gives int(1.0 * bins) = bins, one past the last bin: put it in the "
                    "last bin, min(int(confidence * bins), bins - 1)")
        elif bins != 10 and np.isclose(got, reference_ece(probs, labels, bins=10), atol=1e-6):
            hint = f"use the `bins` argument (here {bins}) instead of always 10 bins"
        else:
            hint = ("confidence = probs.max(axis=1), correct = probs.argmax(axis=1) == labels, bin = "
                    "min(int(confidence * bins), bins - 1); then add up n_b / n · |accuracy_b − confidence_b|")
        raise ExerciseCheckError(f"{call} should be {expected:.4f}, got {got:.4f}: {hint}")
    passed("expected_calibration_error is right: 0 when calibrated, the weighted gap when not, any number of bins")


def _tfidf_check_data() -> tuple[list[str], list[int], list[str], list[int]]:
    """A small three-label text set: train and validation texts and labels (validation imbalanced)."""
    rng = np.random.default_rng(7)
    words = [["awful", "late", "rude", "lost", "worst"], ["today", "flight", "gate", "seat", "news"],
             ["great", "thanks", "love", "kind", "best"]]
    filler = ["the", "a", "my", "was", "it", "so", "and", "we"]

    def texts(counts: list[int]) -> tuple[list[str], list[int]]:
        out, labels = [], []
        for label, n in enumerate(counts):
            for _ in range(n):
                # Half of each text's words come from another label, so the task is not trivial.
                own = list(rng.choice(words[label], size=2))
                other = list(rng.choice(words[(label + rng.integers(1, 3)) % 3], size=2))
                out.append(" ".join(own + other + list(rng.choice(filler, size=3))))
                labels.append(label)
        return out, labels

    train_texts, train_labels = texts([20, 20, 20])
    val_texts, val_labels = texts([15, 10, 5])
    return train_texts, train_labels, val_texts, val_labels


def check_validation_scores(validation_scores: Callable) -> None:
    """Exercise 04.3: `validation_scores(settings, train_texts, train_labels, val_texts, val_labels)`."""
    from sklearn.base import clone
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.pipeline import make_pipeline

    train_texts, train_labels, val_texts, val_labels = _tfidf_check_data()
    settings = {
        "words, C=0.1": make_pipeline(TfidfVectorizer(), LogisticRegression(C=0.1, max_iter=1000)),
        "words, C=10": make_pipeline(TfidfVectorizer(), LogisticRegression(C=10, max_iter=1000)),
        "chars 2-4, C=1": make_pipeline(TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4)),
                                        LogisticRegression(C=1, max_iter=1000)),
    }
    expected, on_train, accuracy = {}, {}, {}
    for name, pipeline in settings.items():
        fitted = clone(pipeline).fit(train_texts, train_labels)
        predicted = fitted.predict(val_texts)
        expected[name] = f1_score(val_labels, predicted, average="macro")
        accuracy[name] = accuracy_score(val_labels, predicted)
        on_train[name] = f1_score(train_labels, fitted.predict(train_texts), average="macro")
    call = "validation_scores(settings, train_texts, train_labels, val_texts, val_labels)"
    result = call_safely(validation_scores, {k: clone(v) for k, v in settings.items()}, list(train_texts),
                         list(train_labels), list(val_texts), list(val_labels), what=call)
    require(result is not None, f"{call} returned None: return a dictionary {{setting name: validation macro-F1}}")
    require(hasattr(result, "keys"), f"{call} should return a dictionary {{setting name: macro-F1}}, "
                                     f"got {type(result).__name__}")
    require(set(result.keys()) == set(settings),
            f"the dictionary should have one entry per setting, {sorted(settings)}; got {sorted(result.keys())}")
    for name in settings:
        got = float(as_array(result[name], f"the score of {name!r}").reshape(-1)[0])
        if np.isclose(got, expected[name], atol=1e-6):
            continue
        if np.isclose(got, on_train[name], atol=1e-6):
            hint = "that is the score on the training texts; fit on the training texts, score on the validation texts"
        elif np.isclose(got, accuracy[name], atol=1e-6):
            hint = "that is the accuracy; use f1_score(val_labels, predicted, average='macro')"
        else:
            hint = "fit each pipeline on the training texts, predict the validation texts, score with macro-F1"
        raise ExerciseCheckError(f"on a small test set, the setting {name!r} should score {expected[name]:.4f}, "
                                 f"got {got:.4f}: {hint}")
    passed("validation_scores fits on the training texts and scores macro-F1 on the validation texts only")


def check_macro_f1_by_topic(macro_f1_by_topic: Callable) -> None:
    """Exercise 04.4: `macro_f1_by_topic(frame)` gives one macro-F1 per topic."""
    import pandas as pd
    from sklearn.metrics import accuracy_score, f1_score

    frame = pd.DataFrame({
        "topic": ["air"] * 8 + ["cars"] * 6 + ["phones"] * 6,
        "label": [0, 0, 0, 0, 1, 1, 2, 2] + [1, 1, 1, 1, 0, 0] + [2, 2, 2, 0, 0, 1],
        "predicted": [0, 0, 0, 1, 1, 0, 2, 0] + [1, 1, 1, 0, 0, 1] + [2, 2, 0, 0, 1, 1],
        "text": [f"tweet {i}" for i in range(20)],
    })
    before = frame.copy()
    groups = {topic: part for topic, part in frame.groupby("topic")}
    expected = {t: f1_score(p["label"], p["predicted"], average="macro", zero_division=0) for t, p in groups.items()}
    all_labels = {t: f1_score(p["label"], p["predicted"], average="macro", labels=[0, 1, 2], zero_division=0)
                  for t, p in groups.items()}
    accuracy = {t: accuracy_score(p["label"], p["predicted"]) for t, p in groups.items()}
    overall = f1_score(frame["label"], frame["predicted"], average="macro")
    result = call_safely(macro_f1_by_topic, frame, what="macro_f1_by_topic(frame)")
    require(frame.equals(before), "macro_f1_by_topic changed the table it was given: work on a copy")
    require(result is not None, "macro_f1_by_topic returned None: return a pandas Series, one value per topic")
    if isinstance(result, dict):
        result = pd.Series(result)
    require(isinstance(result, pd.Series), f"macro_f1_by_topic should return a pandas Series (topic -> macro-F1), "
                                           f"got {type(result).__name__}")
    require(sorted(result.index) == sorted(groups),
            f"the Series should have one entry per topic, {sorted(groups)}; got {list(result.index)}")
    for topic, want in expected.items():
        got = float(result[topic])
        if np.isclose(got, want, atol=1e-6):
            continue
        if np.isclose(got, all_labels[topic], atol=1e-6):
            hint = ("the topic has no tweets of one label, and you counted that label's F1 as 0; average only the "
                    "labels that occur in the topic, as f1_score does when you do not pass labels=")
        elif np.isclose(got, accuracy[topic], atol=1e-6):
            hint = "that is the accuracy; use f1_score(..., average='macro')"
        elif np.isclose(got, overall, atol=1e-6):
            hint = "that is the macro-F1 of all rows together; compute it separately within each topic (groupby)"
        else:
            hint = "group the rows by topic and compute f1_score(label, predicted, average='macro') in each group"
        raise ExerciseCheckError(f"on a small table, the topic {topic!r} should have macro-F1 {want:.4f}, "
                                 f"got {got:.4f}: {hint}")
    passed("macro_f1_by_topic scores each topic on its own tweets and labels")


# ---------------------------------------------------------------------------------------------------
# Lesson 05


def check_predict_all(predict_all: Callable, url: str, max_batch: int) -> None:
    """Exercise 05.1: `predict_all(url, texts, max_batch)` sends requests of at most max_batch texts."""
    import httpx

    texts = [f"test tweet number {i}, {'great' if i % 3 == 0 else 'awful' if i % 3 == 1 else 'ok'} flight"
             for i in range(2 * max_batch + 3)]
    expected = [httpx.post(f"{url}/predict", json={"text": t}, timeout=60).json()["label"] for t in texts]
    call = f"predict_all(url, {len(texts)} texts, max_batch={max_batch})"
    result = call_safely(predict_all, url, list(texts), max_batch, what=call)
    require(result is not None, f"{call} returned None: return the list of labels, one per text")
    result = list(result)
    require(len(result) == len(texts), f"{call} should return {len(texts)} labels, one per text, got {len(result)}: "
                                       f"did the last, shorter request get lost?")
    require(all(isinstance(label, str) for label in result),
            f"return the label names (strings such as 'negative'), not {type(result[0]).__name__}")
    wrong = [i for i, (a, b) in enumerate(zip(result, expected)) if a != b]
    require(not wrong, f"the labels of texts {wrong[:5]} differ from the service's answer for each text alone: "
                       f"keep the texts in their order when you split and join the batches")
    empty = call_safely(predict_all, url, [], max_batch, what="predict_all(url, [], max_batch)")
    require(list(empty) == [], "with no texts, return an empty list without calling the service "
                               "(it refuses an empty batch)")
    passed(f"predict_all split {len(texts)} texts into requests of at most {max_batch} and kept their order")


def _check_model_folder(folder) -> None:
    import json

    import torch
    from transformers import BertConfig, BertForSequenceClassification

    from ftlab.config import LABELS
    from ftlab.models import load_tokenizer
    from ftlab.train import save_atomically

    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=30522, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                     intermediate_size=32, num_labels=3, id2label=dict(enumerate(LABELS)),
                     label2id={label: i for i, label in enumerate(LABELS)})
    save_atomically(BertForSequenceClassification(cfg).eval(), load_tokenizer("minilm"), folder,
                    extra_files={"ftlab_run.json": json.dumps({"base_model": "minilm"})})


def check_clean_endpoint(add_clean_endpoint: Callable) -> None:
    """Exercise 05.2: `add_clean_endpoint(app)` adds POST /predict_clean, which cleans texts before predicting."""
    import tempfile
    from pathlib import Path

    from fastapi.testclient import TestClient

    from ftlab.data import clean_text
    from ftlab.serve import create_app

    raw = ["RT @united: my bag is lost AGAIN http://t.co/abc123", "@apple the new update &amp; battery... ugh"]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "model"
        _check_model_folder(folder)
        app = create_app(folder)
        call_safely(add_clean_endpoint, app, what="add_clean_endpoint(app)")
        with TestClient(app) as client:
            routes = {getattr(r, "path", None) for r in app.routes}
            require("/predict_clean" in routes, "the app has no route /predict_clean: register it with "
                                                "@app.post(\"/predict_clean\") inside add_clean_endpoint")
            for text in raw:
                answer = client.post("/predict_clean", json={"text": text})
                require(answer.status_code == 200, f"POST /predict_clean with {{'text': {text!r}}} answered "
                                                   f"{answer.status_code}: {answer.text[:200]}")
                got = answer.json()
                want = client.post("/predict", json={"text": clean_text(text)}).json()
                unclean = client.post("/predict", json={"text": text}).json()
                require(isinstance(got, dict) and "probabilities" in got,
                        f"answer like /predict does (label, score, probabilities), got {str(got)[:120]}")
                if got["probabilities"] != want["probabilities"]:
                    hint = (" — that is the prediction for the raw text: apply ftlab.data.clean_text first"
                            if got["probabilities"] == unclean["probabilities"] else "")
                    raise ExerciseCheckError(f"for {text!r} the answer should be /predict's answer for the cleaned "
                                             f"text {clean_text(text)!r}{hint}")
            bad = client.post("/predict_clean", json={"text": ""})
            require(400 <= bad.status_code < 500,
                    f"an empty text should get a 4xx answer with a message, got {bad.status_code}: check the body "
                    f"with serve.parse_request, as /predict does")
            batch = client.post("/predict_clean", json={"texts": raw})
            require(batch.status_code == 200 and len(batch.json().get("predictions", [])) == len(raw),
                    "a batch {'texts': [...]} should get {'predictions': [one answer per text]}, like /predict")
    passed("/predict_clean cleans each text like the training data was cleaned, and refuses bad input")


def check_percentile(percentile: Callable) -> None:
    """Exercise 05.3: `percentile(values, q)` by the nearest-rank method."""
    cases = [([5.0], 50, 5.0), ([1.0, 2.0, 3.0, 4.0], 50, 2.0), ([1.0, 2.0, 3.0, 4.0], 95, 4.0),
             ([10.0, 1.0, 7.0, 3.0, 5.0], 50, 5.0), (list(range(1, 101)), 95, 95.0), (list(range(1, 101)), 100, 100.0),
             ([3.0, 1.0, 2.0], 1, 1.0)]
    for values, q, want in cases:
        got = call_safely(percentile, list(values), q, what=f"percentile({values if len(values) < 8 else '1..100'}, {q})")
        require(got is not None, "percentile returned None: return a number")
        got = float(as_array(got, "the percentile").reshape(-1)[0])
        if not np.isclose(got, want):
            hint = ""
            if np.isclose(got, np.percentile(values, q)):
                hint = " (that is numpy's interpolated percentile: take the value at rank ceil(q/100 × n) instead)"
            elif values != sorted(values):
                hint = " (sort the values first)"
            raise ExerciseCheckError(f"the {q}th percentile of {values if len(values) < 8 else '1..100'} by "
                                     f"nearest rank is {want}, got {got}{hint}")
    random = np.random.default_rng(0).exponential(20, 999)
    require(np.isclose(float(percentile(list(random), 95)), np.percentile(random, 95, method="inverted_cdf")),
            "on 999 random latencies the answer differs from numpy's percentile(..., method='inverted_cdf')")
    passed("percentile picks the value at rank ceil(q/100 × n) of the sorted values, as the nearest-rank method does")


# ---------------------------------------------------------------------------------------------------
# Lesson 06


def _early_stopping_cases() -> list[tuple[list[float], int, bool, tuple[int, int], str]]:
    return [
        ([0.50, 0.55, 0.60, 0.58, 0.57, 0.61], 2, True, (3, 5), "the score peaks at epoch 3 and then falls twice"),
        ([0.50, 0.55, 0.60, 0.58, 0.61, 0.59], 2, True, (5, 6), "an improvement after one bad epoch resets the wait"),
        ([0.50, 0.50, 0.50, 0.50], 2, True, (1, 3), "an equal value is not an improvement"),
        ([0.40, 0.45, 0.50], 1, True, (3, 3), "the score improves every epoch: train to the end"),
        ([1.00, 0.90, 0.95, 0.97, 0.80], 2, False, (2, 4), "for a loss, lower is better"),
        ([0.70], 3, True, (1, 1), "a single epoch"),
    ]


def check_early_stopping(early_stopping: Callable) -> None:
    """Exercise 06.1: `early_stopping(values, patience, higher_is_better)` gives (best epoch, stop epoch)."""
    for values, patience, higher, want, why in _early_stopping_cases():
        got = call_safely(early_stopping, list(values), patience, higher,
                          what=f"early_stopping({values}, patience={patience}, higher_is_better={higher})")
        require(isinstance(got, tuple) and len(got) == 2,
                f"early_stopping should return a pair (best_epoch, stop_epoch), got {got!r}")
        best, stop = (int(x) for x in got)
        if (best, stop) == want:
            continue
        hint = why
        if (best - 1, stop - 1) == want or (best + 1, stop + 1) == want:
            hint = "epochs are counted from 1 (the first value is epoch 1): check for an off-by-one"
        raise ExerciseCheckError(
            f"for validation values {values} with patience {patience} "
            f"({'higher' if higher else 'lower'} is better) the answer is best epoch {want[0]}, stop after epoch "
            f"{want[1]}; got ({best}, {stop}). Hint: {hint}")
    passed("early_stopping finds the best epoch and stops after `patience` epochs without improvement")


def check_flip_uniform(flip_uniform: Callable) -> None:
    """Exercise 06.2: `flip_uniform(labels, share, seed)` flips exactly that share, each to another class."""
    labels = np.array([0, 1, 2] * 200)
    before = labels.copy()
    noisy = as_array(call_safely(flip_uniform, labels, 0.3, 0, what="flip_uniform(labels, 0.3, seed=0)"),
                     "flip_uniform's result")
    require(np.array_equal(labels, before), "flip_uniform changed the array it was given: change a copy")
    require(noisy.shape == labels.shape, f"the result should have one label per input label, shape {labels.shape}; "
                                         f"got shape {noisy.shape}")
    require(set(np.unique(noisy)) <= {0, 1, 2}, "every new label must be one of the classes 0, 1, 2")
    changed = noisy != labels
    require(changed.sum() == 180, f"30% of 600 labels is exactly 180 changed labels; got {changed.sum()}. Pick "
                                  f"the examples to flip without replacement and give each a different class")
    moved_to = noisy[changed]
    counts = np.bincount(moved_to.astype(int), minlength=3)
    require(counts.min() > 30, f"the wrong labels should be spread over the other classes at random; new labels "
                               f"per class {counts.tolist()}")
    chosen = np.flatnonzero(changed)
    require(chosen.min() < 100 and chosen.max() > 500, "the flipped examples should be spread over the whole array, "
                                                       "not taken from its start or end")
    again = as_array(call_safely(flip_uniform, labels, 0.3, 0, what="flip_uniform(labels, 0.3, seed=0)"), "")
    require(np.array_equal(again, noisy), "the same seed must give the same noisy labels: use "
                                          "np.random.default_rng(seed) inside the function")
    other = as_array(call_safely(flip_uniform, labels, 0.3, 1, what="flip_uniform(labels, 0.3, seed=1)"), "")
    require(not np.array_equal(other, noisy), "another seed should flip other examples")
    none = as_array(call_safely(flip_uniform, labels, 0.0, 0, what="flip_uniform(labels, 0.0, seed=0)"), "")
    require(np.array_equal(none, labels), "a share of 0 must leave every label as it was")
    passed("flip_uniform flips exactly the share asked for, each to another class, reproducibly")


def check_break_even(break_even: Callable) -> None:
    """Exercise 06.3: `break_even(levels, without, with_)` is where filtering starts to pay (interpolated)."""
    cases = [
        ([0.0, 0.1, 0.3], [0.60, 0.55, 0.40], [0.55, 0.54, 0.50], 0.1 + 0.2 * 0.01 / 0.11,
         "the difference (with − without) goes from −0.01 at 10% to +0.10 at 30%: interpolate linearly between them"),
        ([0.0, 0.2], [0.50, 0.40], [0.55, 0.45], 0.0, "filtering already pays at the first level"),
        ([0.0, 0.2, 0.4], [0.60, 0.50, 0.40], [0.50, 0.45, 0.39], None, "filtering never pays: return None"),
        ([0.3, 0.0, 0.1], [0.40, 0.60, 0.55], [0.50, 0.55, 0.54], 0.1 + 0.2 * 0.01 / 0.11,
         "the levels can come in any order: sort them first"),
    ]
    for levels, without, with_, want, why in cases:
        got = call_safely(break_even, list(levels), list(without), list(with_),
                          what=f"break_even({levels}, {without}, {with_})")
        if want is None:
            require(got is None, f"break_even({levels}, {without}, {with_}) should be None ({why}); got {got!r}")
            continue
        require(got is not None and np.isclose(float(got), want, atol=1e-6),
                f"break_even({levels}, {without}, {with_}) should be {want:.4f}; got {got!r}. Hint: {why}")
    passed("break_even finds where filtering starts to pay")


# ---------------------------------------------------------------------------------------------------
# Lesson 07

_PAIRS_07 = [("I would like a coffee.", "Je voudrais un café."), ("Where is the station?", "Où est la gare ?"),
             ("The hotels are old.", "Les hôtels sont vieux.")]


def check_masked_encoding(encode_masked: Callable, tokenizer: Any) -> None:
    """Exercise 07.1: `encode_masked(tokenizer, source, target)` gives input_ids and prompt-masked labels."""
    from ftlab.generative import IGNORE, encode_pair, format_prompt

    for source, target in _PAIRS_07:
        what = f"encode_masked(tokenizer, {source!r}, {target!r})"
        result = call_safely(encode_masked, tokenizer, source, target, what=what)
        require(isinstance(result, dict) and {"input_ids", "labels"} <= set(result),
                f"{what} should return a dict with 'input_ids' and 'labels'; got {type(result).__name__}")
        ids, labels = [int(i) for i in result["input_ids"]], [int(i) for i in result["labels"]]
        expected = encode_pair(tokenizer, source, target)
        n_prompt = len(tokenizer(format_prompt(source))["input_ids"])
        require(len(ids) == len(labels), f"{what}: input_ids has {len(ids)} tokens but labels has {len(labels)}; "
                                         f"there is one label per token")
        require(ids[:n_prompt] == expected["input_ids"][:n_prompt],
                f"{what}: the tokens should start with the prompt {format_prompt(source)!r} "
                f"(generative.format_prompt(source))")
        require(not ids or ids[-1] == tokenizer.eos_token_id,
                f"{what}: the last token should be the end-of-text token ({tokenizer.eos_token_id}), so that the "
                f"model learns to stop")
        require(ids == expected["input_ids"],
                f"{what}: the answer tokens are not right. Tokenize ' ' + target (with the space: the answer follows "
                f"'French:') and append tokenizer.eos_token_id")
        require(all(label == IGNORE for label in labels[:n_prompt]),
                f"{what}: every prompt token needs the label {IGNORE}; got {labels[:n_prompt]}")
        require(labels == expected["labels"],
                f"{what}: the answer's labels should be the answer's token ids (end-of-text included)")
    passed("encode_masked tokenizes prompt + answer + end-of-text and masks exactly the prompt")


def check_reversed_pairs(encoded: Any, tokenizer: Any, book: Any) -> None:
    """Exercise 07.2: `encoded` trains French→English: French in the prompt, English (and only that) labelled."""
    from ftlab.generative import IGNORE

    require(len(encoded) == len(book), f"encode every training pair: got {len(encoded)} of {len(book)}")
    english, french = set(book["english"]), set(book["french"])
    for i in range(min(len(encoded), 20)):
        ids, labels = encoded[i]["input_ids"], encoded[i]["labels"]
        answer = tokenizer.decode([t for t, label in zip(ids, labels) if label != IGNORE], skip_special_tokens=True)
        prompt = tokenizer.decode([t for t, label in zip(ids, labels) if label == IGNORE])
        require(answer.strip() in english,
                f"example {i}: the labelled tokens read {answer.strip()!r}, which is not an English sentence of the "
                f"phrasebook: pass source='french', target='english' to generative.encode_pairs (and keep "
                f"mask_prompt=True)")
        require(any(sentence in prompt for sentence in french),
                f"example {i}: the prompt {prompt!r} should contain the French sentence: your template needs "
                f"'{{source}}'")
        require(ids[-1] == tokenizer.eos_token_id, f"example {i} should end with the end-of-text token")
    passed("the pairs are encoded French → English, with only the English answer labelled")


def check_chrf_at_temperature(chrf_at_temperature: Callable, model: Any, tokenizer: Any, pairs: Any,
                              template: str) -> None:
    """Exercise 07.3: `chrf_at_temperature(t, seeds)` is the mean chrF of sampled translations over the seeds."""
    from ftlab.generative import chrf, translate

    small = pairs.select(range(min(8, len(pairs))))
    expected = float(np.mean([chrf(translate(model, tokenizer, small["french"], template=template, sample=True,
                                             temperature=0.7, seed=seed), small["english"]) for seed in (0, 1)]))
    what = "chrf_at_temperature(0.7, seeds=(0, 1)) on 8 pairs"
    got = call_safely(chrf_at_temperature, 0.7, (0, 1), small, what=what)
    require(isinstance(got, (int, float, np.floating)), f"{what} should return one number, got {type(got).__name__}")
    require(abs(float(got) - expected) < 1e-6,
            f"{what} returned {float(got):.3f}, expected {expected:.3f}: translate the French with sample=True, "
            f"temperature=t and seed=seed for each seed, score each run with generative.chrf against the English, "
            f"and return the mean")
    passed("chrf_at_temperature samples once per seed and averages the chrF")


# ---------------------------------------------------------------------------------------------------
# Lesson 08

_LORA_CASES_08 = [(1, ("query", "value")), (4, ("query", "value")), (2, ("query", "key", "value")), (3, ("query",))]


def _tiny_lora(rank: int, targets: tuple[str, ...], layers: int = 2, hidden: int = 16, labels: int = 3):
    """A small BERT classifier with LoRA adapters, built by peft (the reference count)."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    from ftlab.efficient import prepare

    torch.manual_seed(0)
    config = BertConfig(vocab_size=60, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=2,
                        intermediate_size=32, num_labels=labels)
    return prepare(BertForSequenceClassification(config), "lora", lora_r=rank, lora_targets=targets)


def check_lora_count(lora_count: Callable) -> None:
    """Exercise 08.1: `lora_count(hidden, layers, rank, matrices, labels)` is LoRA's number of trainable weights."""
    from ftlab.models import count_parameters

    for hidden, layers, labels in ((16, 2, 3), (24, 3, 5)):
        for rank, targets in _LORA_CASES_08:
            what = f"lora_count(hidden={hidden}, layers={layers}, rank={rank}, matrices={len(targets)}, labels={labels})"
            got = call_safely(lora_count, hidden, layers, rank, len(targets), labels, what=what)
            expected = count_parameters(_tiny_lora(rank, targets, layers, hidden, labels))["trainable"]
            require(isinstance(got, (int, np.integer)), f"{what} should return a whole number, got {got!r}")
            head = hidden * labels + labels
            require(got != expected - head, f"{what} = {got}: the adapters are right; add the classifier "
                                            f"({hidden} × {labels} weights + {labels} biases), which trains too")
            require(got == expected, f"{what} = {got}, but peft builds {expected:,} trainable weights "
                                     f"({', '.join(targets)} adapted). Each adapted {hidden}×{hidden} matrix gets "
                                     f"A (rank × {hidden}) and B ({hidden} × rank)")
    passed("lora_count matches what peft builds, for every size, rank and set of matrices tried")


def check_training_state_mb(training_state_mb: Callable) -> None:
    """Exercise 08.2: `training_state_mb(model)` = weights + gradients + AdamW state in MB (float32)."""
    from ftlab.efficient import memory_estimate, prepare

    for method in ("full", "head", "lora"):
        model = prepare(_tiny_classifier(), method, lora_targets=("query", "value"))
        what = f"training_state_mb(a tiny classifier prepared for {method!r})"
        got = call_safely(training_state_mb, model, what=what)
        expected = memory_estimate(model)["total"]
        require(isinstance(got, (int, float, np.floating)), f"{what} should return one number, got {got!r}")
        frozen_too = sum(p.numel() for p in model.parameters()) * 16 / 2 ** 20
        require(not (method != "full" and abs(got - frozen_too) < 1e-9),
                f"{what}: frozen weights need no gradient and no optimizer state: count 4 bytes for every "
                f"weight and 12 more only for those with requires_grad")
        require(abs(float(got) - expected) < 1e-6,
                f"{what} = {float(got):.6f} MB, expected {expected:.6f}: 4 bytes per weight, plus 4 (gradient) "
                f"+ 8 (AdamW's two averages) per trainable weight, divided by 2**20")
    passed("training_state_mb counts weights, gradients and AdamW's state, trainable weights only")


def check_lora_targets(model: Any, targets: Sequence[str], rank: int) -> None:
    """Exercise 08.3: `model` is the course classifier with LoRA of `rank` on every matrix in `targets`."""
    from ftlab.models import count_parameters

    require(hasattr(model, "peft_config"), "the model has no LoRA adapters: build it with efficient.prepare(..., "
                                           "'lora', lora_r=..., lora_targets=...)")
    config = model.peft_config["default"]
    require(set(config.target_modules) == set(targets),
            f"the adapters sit on {sorted(config.target_modules)}, not on {sorted(targets)}")
    require(config.r == rank, f"the adapters have rank {config.r}, not {rank}")
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    strays = sorted(name for name in trainable if "lora_" not in name and "classifier" not in name)
    require(not strays, f"only the adapters and the classifier should train; these train too: {strays[:3]}")
    hidden, layers = model.config.hidden_size, model.config.num_hidden_layers
    labels = model.config.num_labels
    expected = layers * len(targets) * 2 * rank * hidden + hidden * labels + labels
    got = count_parameters(model)["trainable"]
    require(got == expected, f"{got:,} weights train, expected {expected:,} for rank {rank} on {len(targets)} "
                             f"matrices per layer")
    passed(f"LoRA r={rank} on {', '.join(targets)}: {got:,} trainable weights, adapters and classifier only")
