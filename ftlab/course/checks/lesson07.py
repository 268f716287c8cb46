"""Self-checks for lesson 07's exercises (a generative model): each says what is wrong and how to look for it."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ftlab.course.checks.core import call_safely, passed, require
from ftlab.labs.generative import IGNORE, encode_pair, format_prompt


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


def _setting(key: Any) -> str:
    return "greedy decoding" if key == "greedy" else f"temperature {key:g}"


def check_temperature_choice(chosen: Any, curve: Any, greedy: float) -> None:
    """Exercise 07.3: `chosen` is the decoding with the highest validation chrF: "greedy" or a temperature of `curve`.

    `curve` maps temperatures to their validation chrF (a pandas Series or a dict), `greedy` is greedy decoding's.
    """
    scores = {float(t): float(v) for t, v in dict(curve).items()}
    unknown = (f"chosen should be 'greedy' or one of the curve's temperatures "
               f"({', '.join(f'{t:g}' for t in scores)}); got {chosen!r}")
    if isinstance(chosen, str):
        require(chosen == "greedy", unknown)
        key: Any = "greedy"
    else:
        require(isinstance(chosen, (int, float, np.floating, np.integer)) and float(chosen) in scores, unknown)
        key = float(chosen)
    options = {"greedy": float(greedy), **scores}
    best = max(options, key=options.get)
    require(options[key] >= options[best],
            f"on validation {_setting(best)} scores chrF {options[best]:.1f} and your choice, {_setting(key)}, "
            f"{options[key]:.1f}: choose the setting with the highest validation chrF (greedy included). The test "
            f"is scored once, after the choice, so it cannot be what decides")
    passed(f"{_setting(key)} has the highest validation chrF ({options[key]:.1f}); now score the test once")
