"""Self-checks for lesson 07's exercises (a generative model): each says what is wrong and how to look for it."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ftlab.course.checks.core import call_safely, passed, require
from ftlab.labs.generative import IGNORE, chrf, encode_pair, format_prompt, translate


_PAIRS_07 = [("I would like a coffee.", "Je voudrais un café."), ("Where is the station?", "Où est la gare ?"),
             ("The hotels are old.", "Les hôtels sont vieux.")]


def check_masked_encoding(encode_masked: Callable, tokenizer: Any) -> None:
    """Exercise 07.1: `encode_masked(tokenizer, source, target)` gives input_ids and prompt-masked labels."""

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
