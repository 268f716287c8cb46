"""Self-checks for lesson 08's exercises (efficient fine-tuning): each says what is wrong and how to look for it."""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from ftlab.course.checks.core import call_safely, passed, require, tiny_classifier
from ftlab.models import count_parameters
from ftlab.training.efficient import memory_estimate, prepare


_LORA_CASES_08 = [(1, ("query", "value")), (4, ("query", "value")), (2, ("query", "key", "value")), (3, ("query",))]


def _tiny_lora(rank: int, targets: tuple[str, ...], layers: int = 2, hidden: int = 16, labels: int = 3):
    """A small BERT classifier with LoRA adapters, built by peft (the reference count)."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    config = BertConfig(vocab_size=60, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=2,
                        intermediate_size=32, num_labels=labels)
    return prepare(BertForSequenceClassification(config), "lora", lora_r=rank, lora_targets=targets)


def check_lora_count(lora_count: Callable) -> None:
    """Exercise 08.1: `lora_count(hidden, layers, rank, matrices, labels)` is LoRA's number of trainable weights."""

    for hidden, layers, labels in ((16, 2, 3), (24, 3, 5)):
        for rank, targets in _LORA_CASES_08:
            what = f"lora_count(hidden={hidden}, layers={layers}, rank={rank}, matrices={len(targets)}, labels={labels})"
            got = call_safely(lora_count, hidden, layers, rank, len(targets), labels, what=what)
            expected = count_parameters(_tiny_lora(rank, targets, layers, hidden, labels))["trainable"]
            require(isinstance(got, (int, np.integer)), f"{what} should return a whole number, got {got!r}")
            pooler, classifier = hidden * hidden + hidden, hidden * labels + labels
            require(got != expected - pooler - classifier,
                    f"{what} = {got}: the adapters are right; add the head, which trains too: the pooler "
                    f"({hidden} × {hidden} weights + {hidden} biases) and the classifier ({hidden} × {labels} weights "
                    f"+ {labels} biases)")
            require(got != expected - pooler, f"{what} = {got}: add the pooler ({hidden} × {hidden} weights + "
                                              f"{hidden} biases), which trains with LoRA as it does in head only")
            require(got == expected, f"{what} = {got}, but peft builds {expected:,} trainable weights "
                                     f"({', '.join(targets)} adapted). Each adapted {hidden}×{hidden} matrix gets "
                                     f"A (rank × {hidden}) and B ({hidden} × rank)")
    passed("lora_count matches what peft builds, for every size, rank and set of matrices tried")


def check_training_state_mb(training_state_mb: Callable) -> None:
    """Exercise 08.2: `training_state_mb(model)` = weights + gradients + AdamW state in MB (float32)."""

    for method in ("full", "head", "lora"):
        model = prepare(tiny_classifier(), method, lora_targets=("query", "value"))
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

    require(hasattr(model, "peft_config"), "the model has no LoRA adapters: build it with efficient.prepare(..., "
                                           "'lora', lora_r=..., lora_targets=...)")
    config = model.peft_config["default"]
    require(set(config.target_modules) == set(targets),
            f"the adapters sit on {sorted(config.target_modules)}, not on {sorted(targets)}")
    require(config.r == rank, f"the adapters have rank {config.r}, not {rank}")
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    strays = sorted(name for name in trainable if not any(part in name for part in ("lora_", "classifier", "pooler")))
    require(not strays, f"only the adapters and the head (pooler and classifier) should train; these train too: "
                        f"{strays[:3]}")
    hidden, layers = model.config.hidden_size, model.config.num_hidden_layers
    labels = model.config.num_labels
    expected = layers * len(targets) * 2 * rank * hidden + hidden * hidden + hidden + hidden * labels + labels
    got = count_parameters(model)["trainable"]
    require(got == expected, f"{got:,} weights train, expected {expected:,} for rank {rank} on {len(targets)} "
                             f"matrices per layer")
    passed(f"LoRA r={rank} on {', '.join(targets)}: {got:,} trainable weights, adapters and head only")


def check_target_choice(table: Any, chosen: str, score: str = "validation macro-F1") -> None:
    """Exercise 08.3: `chosen` is the setting with the best validation score in `table` (one row per setting, with a
    "trainable" column); on a tie, the one with fewer trainable weights. The table must hold no test scores yet."""

    columns = [str(column) for column in getattr(table, "columns", [])]
    require(score in columns and "trainable" in columns,
            f"the table needs a {score!r} and a 'trainable' column, one row per setting; it has {columns}")
    peeked = [column for column in columns if "test" in column.lower()]
    require(not peeked, f"the table already holds test scores ({peeked}): choose on validation first, and score only "
                        f"the chosen setting on test, once")
    names = [str(name) for name in table.index]
    require(chosen in names, f"chosen should be one of the settings {names}, got {chosen!r}")
    best = table[score].max()
    tied = table[table[score] == best]
    expected = str(tied["trainable"].idxmin())
    scores_text = ", ".join(f"{name} {value:.3f}" for name, value in table[score].items())
    if chosen != expected and chosen in [str(name) for name in tied.index]:
        require(False, f"{chosen} and {expected} tie on {score} ({best:.3f}): keep the one with fewer trainable "
                       f"weights, {expected}")
    require(chosen == expected, f"{score}: {scores_text}. {expected} is better on validation, so keep it, not "
                                f"{chosen}")
    passed(f"{chosen} is the better setting on validation ({scores_text}); score it, and only it, on test")
