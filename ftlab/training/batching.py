"""Batches for speed on a CPU: pad each batch only to its own longest text, and put similar lengths together."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ftlab.config import SEED

MODEL_COLUMNS = ("input_ids", "attention_mask", "token_type_ids", "label")


def make_collator(tokenizer):
    """Pad each batch only to its own longest example (dynamic padding)."""
    from transformers import DataCollatorWithPadding

    return DataCollatorWithPadding(tokenizer)


def model_inputs(dataset):
    """Only the columns a classification model takes (drops text, topic, confidence, …)."""
    return dataset.select_columns([c for c in MODEL_COLUMNS if c in dataset.column_names])


def sort_by_length(dataset):
    """The dataset ordered by token count: evaluation batches then need almost no padding."""
    lengths = [len(ids) for ids in dataset["input_ids"]]
    return dataset.select(np.argsort(lengths, kind="stable"))


def length_grouped_batches(lengths: Sequence[int], batch_size: int, seed: int = SEED,
                           group: int = 50) -> list[list[int]]:
    """Shuffled batches of indices whose examples have similar lengths (less padding, same randomness).

    The indices are shuffled, cut into groups of `group` batches, sorted by length inside each group, cut
    into batches, and the batches are shuffled again, so each epoch still sees a random order of batches.
    The `Trainer` path uses transformers' own `LengthGroupedSampler` (`train_sampling_strategy="group_by_length"`);
    this is the same idea written out for lesson 03's plain loop, which shows it step by step, and it returns the
    batches themselves, so a lesson can count the padding they save.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    rng = np.random.default_rng(seed)
    lengths = np.asarray(lengths)
    order = rng.permutation(len(lengths))
    batches = []
    chunk = batch_size * group
    for start in range(0, len(order), chunk):
        part = order[start:start + chunk]
        part = part[np.argsort(-lengths[part], kind="stable")]
        batches += [part[i:i + batch_size].tolist() for i in range(0, len(part), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]
