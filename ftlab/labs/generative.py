"""Lesson 07's tools for a generative (causal) language model: prompts, label masking, generation, scores.

The model is the course's own tiny GPT-2 (`tiny-gpt2`, pretrained by scripts/pretrain_tiny_gpt.py and shipped
inside ftlab) or any causal LM on the Hugging Face hub, e.g. `gpt2` on Colab.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import numpy as np

from ftlab.assets import resolve_model
from ftlab.config import GENERATIVE_SCHEDULE, GENERATIVE_WARMUP, GENERATIVE_WEIGHT_DECAY, SEED
from ftlab.evaluate import bootstrap_counts, bootstrap_interval
from ftlab.models import pick_device

# How a pair is shown to the model: the prompt, then the answer the model learns to write after it.
PROMPT = "English: {source}\nFrench:"
IGNORE = -100  # the label value PyTorch's cross-entropy (and so every transformers model) leaves out of the loss


def load_causal_lm(name: str = "tiny-gpt2", device: str | None = None):
    """A causal language model and its tokenizer, from a course asset name or a hub name (e.g. 'gpt2').

    The tokenizer gets a padding token if it has none (GPT-2's has none: the end-of-text token stands in).
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = resolve_model(name)
    tokenizer = AutoTokenizer.from_pretrained(path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(path)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    if getattr(model, "loss_type", None) is None:
        # transformers picks the loss by the class's name, which GPT2LMHeadModel's does not match: it would warn
        # on the first loss and use the causal-LM loss anyway. Say so up front.
        model.loss_type = "ForCausalLM"
    return model.to(device or pick_device()).eval(), tokenizer


def format_prompt(source: str, template: str = PROMPT) -> str:
    """The prompt for one source sentence; `template` must contain '{source}'."""
    if "{source}" not in template:
        raise ValueError(f"the prompt template must contain '{{source}}' where the sentence goes; got {template!r}")
    return template.format(source=source)


def encode_pair(tokenizer, source: str, target: str, *, template: str = PROMPT, mask_prompt: bool = True,
                max_length: int = 64) -> dict[str, list[int]]:
    """Token ids of prompt + ' ' + target + end-of-text, and the labels the loss is computed on.

    With `mask_prompt` the prompt's labels are IGNORE (-100), so the model is trained only to write the answer;
    without it, it is also trained to write the prompt (the English sentence and the 'English:'/'French:' frame).
    """
    prompt_ids = tokenizer(format_prompt(source, template))["input_ids"]
    answer_ids = tokenizer(" " + target)["input_ids"] + [tokenizer.eos_token_id]
    input_ids = (prompt_ids + answer_ids)[:max_length]
    labels = ([IGNORE] * len(prompt_ids) if mask_prompt else list(prompt_ids)) + answer_ids
    return {"input_ids": input_ids, "attention_mask": [1] * len(input_ids), "labels": labels[:max_length]}


def encode_pairs(dataset, tokenizer, *, source: str = "english", target: str = "french", template: str = PROMPT,
                 mask_prompt: bool = True, max_length: int = 64):
    """`encode_pair` over a datasets.Dataset (with `datasets.map`), keeping only the model's columns."""
    for column in (source, target):
        if column not in dataset.column_names:
            raise ValueError(f"the dataset has no column {column!r}; its columns are {dataset.column_names}")
    return dataset.map(
        lambda row: encode_pair(tokenizer, row[source], row[target], template=template, mask_prompt=mask_prompt,
                                max_length=max_length),
        remove_columns=dataset.column_names, desc="tokenizing pairs")


def collator(tokenizer):
    """Pads input_ids and attention_mask with the padding token and labels with IGNORE, to each batch's longest."""
    from transformers import DataCollatorForSeq2Seq

    return DataCollatorForSeq2Seq(tokenizer, padding=True, label_pad_token_id=IGNORE)


def fine_tune(model_name: str, train_set, tokenizer, *, steps: int, batch_size: int, learning_rate: float,
              seed: int = SEED):
    """Lesson 07's recipe: a fresh copy of the pretrained model fine-tuned with the `Trainer` on encoded pairs.

    Cosine schedule with warm-up and weight decay (`ftlab.config.GENERATIVE_*`), nothing saved to disk. Returns the
    model (in eval mode) and its training log as a DataFrame (step, loss, ...).
    """
    import tempfile

    import pandas as pd
    from transformers import Trainer, TrainingArguments, set_seed

    if steps < 1 or batch_size < 1 or learning_rate <= 0:
        raise ValueError(f"steps and batch_size must be at least 1 and learning_rate above 0; got steps={steps}, "
                         f"batch_size={batch_size}, learning_rate={learning_rate}")
    set_seed(seed)
    model, _ = load_causal_lm(model_name)
    with tempfile.TemporaryDirectory() as scratch:
        args = TrainingArguments(
            output_dir=scratch, max_steps=steps, per_device_train_batch_size=batch_size, learning_rate=learning_rate,
            lr_scheduler_type=GENERATIVE_SCHEDULE, warmup_steps=GENERATIVE_WARMUP,
            weight_decay=GENERATIVE_WEIGHT_DECAY, logging_steps=max(steps // 20, 1),
            save_strategy="no", report_to="none", seed=seed, use_cpu=pick_device() == "cpu")
        trainer = Trainer(model=model, args=args, train_dataset=train_set, data_collator=collator(tokenizer))
        trainer.train()
    history = pd.DataFrame([row for row in trainer.state.log_history if "loss" in row])
    return model.eval(), history


def generate(model, tokenizer, prompts: Sequence[str], *, sample: bool = False, temperature: float = 1.0,
             top_p: float = 1.0, max_new_tokens: int = 32, batch_size: int = 64, seed: int = SEED,
             stop_at_newline: bool = True) -> list[str]:
    """The model's continuation of each prompt: greedy (the most likely token each time) or sampled.

    Prompts are padded on the left, so that every continuation starts right after its own prompt. The answer
    ends at the end-of-text token (and, with `stop_at_newline`, at the first newline).
    """
    import torch
    from transformers import set_seed

    if sample and temperature <= 0:
        raise ValueError(f"temperature must be above 0 when sampling (got {temperature}); use sample=False for greedy")
    set_seed(seed)
    side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    device = next(model.parameters()).device
    model.eval()
    answers: list[str] = []
    try:
        for start in range(0, len(prompts), batch_size):
            batch = tokenizer(list(prompts[start:start + batch_size]), return_tensors="pt", padding=True).to(device)
            options = dict(do_sample=True, temperature=temperature, top_p=top_p) if sample else dict(do_sample=False)
            with torch.inference_mode():
                out = model.generate(**batch, max_new_tokens=max_new_tokens, pad_token_id=tokenizer.pad_token_id,
                                     eos_token_id=tokenizer.eos_token_id, **options)
            for row in out[:, batch["input_ids"].shape[1]:]:
                text = tokenizer.decode(row, skip_special_tokens=True)
                answers.append((text.split("\n")[0] if stop_at_newline else text).strip())
    finally:
        tokenizer.padding_side = side
    return answers


def translate(model, tokenizer, sources: Sequence[str], *, template: str = PROMPT, **options) -> list[str]:
    """`generate` on the prompts of `sources`; options go to `generate` (sample, temperature, top_p...)."""
    return generate(model, tokenizer, [format_prompt(s, template) for s in sources], **options)


def chrf(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """Corpus chrF (sacrebleu; character n-gram F-score, 0–100) of hypotheses against one reference each."""
    import sacrebleu

    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references: they must pair up")
    return float(sacrebleu.corpus_chrf(list(hypotheses), [list(references)]).score)


def bleu(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """Corpus BLEU (sacrebleu, 0–100) of hypotheses against one reference each."""
    import sacrebleu

    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references: they must pair up")
    return float(sacrebleu.corpus_bleu(list(hypotheses), [list(references)]).score)


def sentence_chrf(hypothesis: str, reference: str) -> float:
    """chrF of one sentence (0–100)."""
    import sacrebleu

    return float(sacrebleu.sentence_chrf(hypothesis, [reference]).score)


def label_loss(model, encoded, tokenizer, batch_size: int = 64) -> float:
    """Mean cross-entropy per labelled token (labels != IGNORE) over an encoded dataset; exp() is the perplexity.

    Written out rather than through `ftlab.models.predict_logits`: a causal model's loss is a sum over tokens
    (each position predicts the next one), so the batches' token counts, not the texts, weight the mean.
    """
    import torch

    pad = collator(tokenizer)
    device = next(model.parameters()).device
    model.eval()
    total, count = 0.0, 0
    with torch.inference_mode():
        for start in range(0, len(encoded), batch_size):
            batch = pad([encoded[i] for i in range(start, min(start + batch_size, len(encoded)))])
            batch = {k: v.to(device) for k, v in batch.items()}
            logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
            labels = batch["labels"][:, 1:]
            losses = torch.nn.functional.cross_entropy(logits[:, :-1].flatten(0, 1).float(), labels.flatten(),
                                                       ignore_index=IGNORE, reduction="sum")
            total += losses.item()
            count += int((labels != IGNORE).sum())
    return total / count


def window_losses(model, tokenizer, text: str, block: int = 128, max_tokens: int | None = None,
                  batch_size: int = 32) -> np.ndarray:
    """Mean next-token loss of each non-overlapping window of `block` tokens of `text` (paragraphs joined by
    end-of-text tokens, the first `max_tokens` tokens); the windows are the items a comparison resamples."""
    import torch

    ids: list[int] = []
    for paragraph in text.split("\n\n"):
        ids += tokenizer(paragraph)["input_ids"] + [tokenizer.eos_token_id]
        if max_tokens is not None and len(ids) >= max_tokens:
            break
    ids = ids[:max_tokens] if max_tokens is not None else ids
    n = len(ids) // block
    if n == 0:
        raise ValueError(f"the text has {len(ids)} tokens, fewer than one window of {block}")
    windows = torch.tensor(np.array(ids[: n * block]).reshape(n, block))
    device = next(model.parameters()).device
    model.eval()
    losses = []
    with torch.inference_mode():
        for start in range(0, n, batch_size):
            chunk = windows[start:start + batch_size].to(device)
            logits = model(input_ids=chunk).logits[:, :-1].float()
            token_loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), chunk[:, 1:].flatten(),
                                                           reduction="none")
            losses.append(token_loss.view(len(chunk), -1).mean(dim=1).cpu().numpy())
    return np.concatenate(losses)


def text_perplexity(model, tokenizer, text: str, block: int = 128, max_tokens: int | None = None,
                    batch_size: int = 32) -> float:
    """Perplexity of `text` (its paragraphs joined by end-of-text tokens), in non-overlapping windows of `block`."""
    return math.exp(float(window_losses(model, tokenizer, text, block, max_tokens, batch_size).mean()))


def _runs(hypotheses) -> list[list[str]]:
    """One run of hypotheses (a list of strings) or several (a list of such lists, e.g. one per sampling seed)."""
    runs = [list(hypotheses)] if hypotheses and isinstance(hypotheses[0], str) else [list(h) for h in hypotheses]
    if not runs or not all(runs):
        raise ValueError("give at least one run of hypotheses (a list of strings, or a list of such lists)")
    return runs


def chrf_statistics(hypotheses, references: Sequence[str]) -> np.ndarray:
    """sacrebleu's chrF statistics of each item, (n_items, n_statistics), summed over the runs in `hypotheses`.

    Corpus chrF is computed from these sums, so resampling items and summing their rows gives the corpus chrF of a
    resample (the way `sacrebleu.significance` bootstraps).
    """
    from sacrebleu.metrics import CHRF

    metric = CHRF()
    total = None
    for run in _runs(hypotheses):
        if len(run) != len(references):
            raise ValueError(f"{len(run)} hypotheses but {len(references)} references: they must pair up")
        stats = np.asarray(metric._extract_corpus_statistics(run, [list(references)]), dtype=float)
        total = stats if total is None else total + stats
    return total


def _chrf_from_statistics(rows: np.ndarray) -> np.ndarray:
    """Corpus chrF of each row of summed statistics."""
    from sacrebleu.metrics import CHRF

    metric = CHRF()
    return np.array([metric._compute_score_from_stats(list(row)).score for row in rows])


def paired_bootstrap_chrf(hypotheses_a, hypotheses_b, references: Sequence[str], *, n_resamples: int = 1000,
                          confidence: float = 0.95, seed: int = 0) -> dict[str, float]:
    """Corpus chrF(A) − chrF(B) on the same items (0–100 points), with a paired bootstrap interval.

    Like `ftlab.evaluate.paired_bootstrap`, but for chrF: each resample draws the items with replacement and
    scores both systems on that draw. A system is one run of hypotheses or several (sampling seeds), pooled.
    Returns {"difference", "low", "high", "confidence", "n_items"}.
    """
    a, b = chrf_statistics(hypotheses_a, references), chrf_statistics(hypotheses_b, references)
    counts = bootstrap_counts(len(references), n_resamples, confidence=confidence, seed=seed)
    differences = _chrf_from_statistics(counts @ a) - _chrf_from_statistics(counts @ b)
    point = _chrf_from_statistics(a.sum(0, keepdims=True))[0] - _chrf_from_statistics(b.sum(0, keepdims=True))[0]
    return bootstrap_interval(differences, point, confidence, len(references))


def paired_bootstrap_mean(values_a, values_b, *, n_resamples: int = 2000, confidence: float = 0.95,
                          seed: int = 0) -> dict[str, float]:
    """mean(A) − mean(B) of per-item values on the same items (e.g. window losses), with a paired bootstrap
    interval; returns {"difference", "low", "high", "confidence", "n_items"}."""
    a, b = np.asarray(values_a, dtype=float), np.asarray(values_b, dtype=float)
    if a.shape != b.shape or a.ndim != 1 or len(a) == 0:
        raise ValueError(f"values_a and values_b must be 1-D, non-empty and the same length, got shapes {a.shape} "
                         f"and {b.shape}: score both on the same items")
    counts = bootstrap_counts(len(a), n_resamples, confidence=confidence, seed=seed)
    return bootstrap_interval(counts @ (a - b) / len(a), float((a - b).mean()), confidence, len(a))


def held_out_prose(source: str = "austen", name: str = "tiny-gpt2") -> str:
    """English prose the tiny GPT-2 never trained on: the held-out paragraphs of Austen's novels or of the Bible."""

    sources = ("austen", "bible")
    if source not in sources:
        raise ValueError(f"unknown source {source!r}; the held-out prose is one of {sources}")
    path = Path(resolve_model(name)) / f"held_out_{source}.txt"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: the model folder of {name!r} has no held-out prose")
    return path.read_text(encoding="utf-8")
