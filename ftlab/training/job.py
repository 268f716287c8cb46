"""`ftlab train`: the fine-tuning of lessons 03 and 08 as a script, driven by a YAML config.

It writes a checkpoint every `checkpoint_every` optimizer steps, atomically (a half-written checkpoint never
replaces a good one), resumes an interrupted run from its last checkpoint, and runs unchanged on several
processes with `accelerate launch` or `torchrun` (gloo on CPUs, NCCL on GPUs): the global batch is split
between the processes, so 1 and N processes see the same batches in the same order. Its losses, learning rate and
scores go to TensorBoard's files in output_dir/logs (accelerate's tracker; `tracker: none` turns that off), and a
resumed run goes on writing into the run it resumes.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ftlab import data
from ftlab.audit import token_lengths
from ftlab.config import LABELS, MAX_GRAD_NORM, PROFILES, RUN_INFO, SEED, WARMUP, WEIGHT_DECAY
from ftlab.evaluate import scores_from_logits
from ftlab.models import load_classifier, load_tokenizer
from ftlab.training.batching import make_collator, model_inputs
from ftlab.training.efficient import METHODS, prepare
from ftlab.training.loop import make_optimizer
from ftlab.training.precision import SETTINGS, PrecisionChoice, choose_precision
from ftlab.training.runs import save_atomically, write_text_atomically
from ftlab.training.tracking import LOGS, TRACKERS, stamp

# The job's defaults are the `quick` profile's sizes and recipe: a first run finishes in about a minute on a CPU.
_QUICK = PROFILES["quick"]

CHECKPOINTS = "checkpoints"
PROGRESS = "progress.json"


@dataclass
class JobConfig:
    """Every setting of a training job; a YAML config file sets some of them, `--set key=value` others."""

    model: str = _QUICK.model  # a course asset name, a hub name or a model folder
    data: str = "tweets"  # the course's tweets, or a CSV/JSONL file with a text and a label column
    text_column: str = "text"
    label_column: str = "label"
    n_train: int | None = _QUICK.n_train  # training examples sampled (None: all)
    n_eval: int | None = _QUICK.n_eval  # validation and test examples sampled (None: all)
    max_length: int = _QUICK.max_length
    method: str = "full"  # full | head | lower_frozen | lora
    lora_r: int = 8
    lora_alpha: int = 16
    lora_targets: list[str] = field(default_factory=lambda: ["query", "value"])
    epochs: int = _QUICK.epochs
    batch_size: int = _QUICK.batch_size  # the global batch: split between the processes
    gradient_accumulation: int = 1
    learning_rate: float = _QUICK.learning_rate
    weight_decay: float = WEIGHT_DECAY
    warmup: float = WARMUP
    seed: int = SEED
    precision: str = "auto"  # auto (bfloat16 where this machine measured it faster and close enough) | fp32 | bf16
    tracker: str = "tensorboard"  # tensorboard (files in output_dir/logs) | none
    checkpoint_every: int = 10  # optimizer steps
    keep_checkpoints: int = 2
    output_dir: str = "runs/train"

    def check(self) -> None:
        """Raise ValueError naming every setting that cannot work."""
        problems = []
        for name in ("epochs", "batch_size", "gradient_accumulation", "checkpoint_every", "keep_checkpoints",
                     "max_length", "lora_r"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                problems.append(f"{name} must be a whole number ≥ 1 (got {getattr(self, name)!r})")
        for name in ("n_train", "n_eval"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                problems.append(f"{name} must be a whole number ≥ 1 or null for all (got {value!r})")
        if not isinstance(self.learning_rate, (int, float)) or self.learning_rate <= 0:
            problems.append(f"learning_rate must be a number above 0 (got {self.learning_rate!r})")
        if not 0 <= self.warmup < 1:
            problems.append(f"warmup is a share of the steps, between 0 and 1 (got {self.warmup!r})")
        if self.precision not in SETTINGS:
            problems.append(f"precision must be one of {', '.join(SETTINGS)} (got {self.precision!r})")
        if self.tracker not in TRACKERS:
            problems.append(f"tracker must be one of {', '.join(TRACKERS)} (got {self.tracker!r})")
        if self.method not in METHODS:
            problems.append(f"method must be one of {', '.join(METHODS)} (got {self.method!r})")
        if problems:
            raise ValueError("the training config has problems:\n  - " + "\n  - ".join(problems))


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> JobConfig:
    """A JobConfig from a YAML file (optional) and `key=value` overrides (values are read as YAML)."""
    import yaml

    known = {f.name for f in dataclasses.fields(JobConfig)}
    settings: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no config file at {path}: the course's configs are in configs/")
        loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(loaded, dict):
            raise ValueError(f"{path} should hold settings as `name: value` lines, not a {type(loaded).__name__}")
        settings.update(loaded)
    for item in overrides or []:
        if "=" not in item:
            raise ValueError(f"an override is written name=value (e.g. epochs=3), got {item!r}")
        name, value = item.split("=", 1)
        settings[name.strip()] = yaml.safe_load(value)
    unknown = sorted(set(settings) - known)
    if unknown:
        raise ValueError(f"unknown setting(s) {unknown}; the settings are {sorted(known)}")
    config = JobConfig(**settings)
    if isinstance(config.learning_rate, str):  # YAML reads 2e-4 (no dot) as a string
        try:
            config.learning_rate = float(config.learning_rate)
        except ValueError:
            pass
    config.check()
    return config


def load_data(config: JobConfig, tokenizer):
    """Tokenized train/validation/test splits of the configured data, sampled as the config says.

    A file of your own is sampled like the tweets: at most `n_train` and `n_eval` rows, stratified by label, so a
    sample keeps each label's share. Returns (encoded splits, a summary: label names, rows per split, and how
    many texts per split `max_length` cuts short).
    """
    if config.data == "tweets":
        profile = dataclasses.replace(_QUICK, n_train=config.n_train, n_eval=config.n_eval,
                                      max_length=config.max_length)
        splits = data.load_tweets(profile, seed=config.seed)
    else:
        splits = data.load_text_file(config.data, config.text_column, config.label_column, seed=config.seed)
        sizes = {"train": config.n_train, "validation": config.n_eval, "test": config.n_eval}
        splits = type(splits)({name: _sample_by_label(part, sizes[name], config.seed)
                               for name, part in splits.items()})
    summary = {"labels": list(splits["train"].features["label"].names),
               "rows": {name: len(part) for name, part in splits.items()},
               "truncated": {name: truncated(part["text"], tokenizer, config.max_length)
                             for name, part in splits.items()}}
    return data.tokenize(splits, tokenizer, config.max_length), summary


def _sample_by_label(part, n: int | None, seed: int):
    """At most `n` rows of a split, each label keeping its share (`data.sample_stratified`)."""
    if n is None or n >= len(part):
        return part
    frame = part.select_columns(["label"]).to_pandas()
    return part.select(data.sample_stratified(frame, n, seed=seed).index.tolist())


def truncated(texts, tokenizer, max_length: int) -> int:
    """How many of `texts` have more than `max_length` tokens (special tokens included): those training cuts."""
    return int((token_lengths(texts, tokenizer) > max_length).sum())


def describe_data(summary: dict, max_length: int) -> str:
    """One line about the data a job trains on: labels, rows per split, texts cut by max_length."""
    rows = " / ".join(f"{name} {count:,}" for name, count in summary["rows"].items())
    cut = sum(summary["truncated"].values())
    total = sum(summary["rows"].values())
    return (f"data: {len(summary['labels'])} labels ({', '.join(summary['labels'])}); {rows} texts; "
            f"max_length {max_length} cuts {cut:,} of {total:,} texts ({cut / total:.1%})")


def build_model(config: JobConfig, labels: tuple[str, ...] = LABELS):
    """The classifier with the configured method: all weights, the head only, the upper layers, or LoRA."""
    model = load_classifier(config.model, labels=labels, device="cpu")
    return prepare(model, config.method, lora_r=config.lora_r, lora_alpha=config.lora_alpha,
                   lora_targets=config.lora_targets)


def latest_checkpoint(output_dir: str | Path) -> Path | None:
    """The newest complete checkpoint in `output_dir` (one with its progress file), or None."""
    folder = Path(output_dir) / CHECKPOINTS
    if not folder.is_dir():
        return None
    done = [p for p in folder.glob("step-*") if (p / PROGRESS).is_file()]
    return max(done, key=lambda p: int(p.name.split("-")[1]), default=None)


def _save_checkpoint(accelerator, output_dir: Path, progress: dict, keep: int) -> Path:
    """Write the training state to a temporary folder, then rename it into place (atomic on one file system).

    accelerate can name and rotate checkpoints itself (`ProjectConfiguration(automatic_checkpoint_naming=True,
    total_limit=...)`), but it writes straight into the final folder: a run killed while saving would leave a
    half-written checkpoint that looks like the newest one. Here a checkpoint only gets its final name, and old
    ones are only removed, once the new one is complete.
    """
    folder = output_dir / CHECKPOINTS
    final = folder / f"step-{progress['step']:07d}"
    temporary = folder / f".incomplete-step-{progress['step']:07d}"
    if accelerator.is_main_process:
        shutil.rmtree(temporary, ignore_errors=True)
        temporary.mkdir(parents=True)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(temporary), safe_serialization=True)
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        (temporary / PROGRESS).write_text(json.dumps(progress, indent=1), encoding="utf-8")
        if final.exists():
            shutil.rmtree(final)
        os.replace(temporary, final)
        for old in sorted(folder.glob("step-*"), key=lambda p: p.name)[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    accelerator.wait_for_everyone()
    return final


def _evaluate(accelerator, model, loader) -> dict[str, float]:
    """Loss, accuracy and macro-F1 over a prepared loader, gathered from every process.

    Each process predicts its share of the batches and `gather_for_metrics` joins them (without the padding
    rows a split adds), so this cannot be the one-process `ftlab.models.predict_logits`; the scores come from
    the same scorer, `ftlab.evaluate.scores_from_logits`.
    """
    import numpy as np
    import torch

    model.eval()
    logits, labels = [], []
    with torch.inference_mode():
        for batch in loader:
            out = model(**batch)
            batch_logits, gold = accelerator.gather_for_metrics((out.logits, batch["labels"]))
            logits.append(batch_logits.float().cpu().numpy())
            labels.append(gold.cpu().numpy())
    model.train()
    return scores_from_logits(np.concatenate(logits), np.concatenate(labels))


def job_precision(config: JobConfig) -> PrecisionChoice:
    """The job's precision: as set, or (auto) the machine's measured choice. Several processes never probe at
    once (their timings would disturb each other): they use the cached choice, or float32."""
    if config.precision != "auto":
        return PrecisionChoice(None if config.precision == "fp32" else "bf16", f"set by precision={config.precision}",
                               "setting")
    return choose_precision(measure=int(os.environ.get("WORLD_SIZE", "1")) == 1)


def run(config: JobConfig, resume: bool = True, stop_after_steps: int | None = None, progress: bool = True) -> dict:
    """Train as `config` says; resume from the last checkpoint in output_dir if there is one (and `resume`).

    Returns the final record (settings, steps, seconds, validation and test scores), also written to
    output_dir/metrics.json; the model is saved to output_dir/model. `stop_after_steps` ends the run early
    (after that many optimizer steps, with a checkpoint), as an interruption would.
    """
    import torch
    from accelerate import Accelerator
    from accelerate.utils import DataLoaderConfiguration
    from tqdm.auto import tqdm
    from transformers import get_linear_schedule_with_warmup, set_seed

    config.check()
    precision = job_precision(config)
    output_dir = Path(config.output_dir)
    accelerator = Accelerator(cpu=not torch.cuda.is_available(),
                              log_with="tensorboard" if config.tracker == "tensorboard" else None,
                              project_dir=str(output_dir / LOGS),
                              mixed_precision="bf16" if precision.autocast == "bf16" else "no",
                              gradient_accumulation_steps=config.gradient_accumulation,
                              dataloader_config=DataLoaderConfiguration(split_batches=True,
                                                                        use_seedable_sampler=True,
                                                                        data_seed=config.seed))
    if config.batch_size % accelerator.num_processes:
        raise ValueError(f"batch_size {config.batch_size} is the global batch and must divide evenly between "
                         f"{accelerator.num_processes} processes")
    set_seed(config.seed)
    tokenizer = load_tokenizer(config.model)
    encoded, summary = load_data(config, tokenizer)
    if progress:
        accelerator.print(describe_data(summary, config.max_length))
        accelerator.print(f"precision: {precision.describe()}")
    model = build_model(config, labels=tuple(summary["labels"]))
    collate = make_collator(tokenizer)
    # Each loader draws from its own generator, never from the global one that dropout uses: a resumed run then
    # sees the same dropout masks as an uninterrupted one.
    loaders = {name: torch.utils.data.DataLoader(model_inputs(encoded[name]), batch_size=config.batch_size,
                                                 shuffle=(name == "train"), collate_fn=collate,
                                                 generator=torch.Generator().manual_seed(config.seed))
               for name in ("train", "validation", "test")}
    optimizer = make_optimizer(model, config.learning_rate, config.weight_decay)
    batches_per_epoch = len(loaders["train"])
    steps_per_epoch = math.ceil(batches_per_epoch / config.gradient_accumulation)
    total_steps = steps_per_epoch * config.epochs
    scheduler = get_linear_schedule_with_warmup(optimizer, math.ceil(config.warmup * total_steps), total_steps)
    model, optimizer, train_loader, validation_loader, test_loader, scheduler = accelerator.prepare(
        model, optimizer, loaders["train"], loaders["validation"], loaders["test"], scheduler)

    state = {"step": 0, "epoch": 0, "batches_done": 0, "seconds": 0.0, "losses": []}
    checkpoint = latest_checkpoint(output_dir) if resume else None
    if checkpoint is not None:
        accelerator.load_state(str(checkpoint))
        state = json.loads((checkpoint / PROGRESS).read_text(encoding="utf-8"))
        accelerator.print(f"resuming from {checkpoint} (step {state['step']} of {total_steps})")
    elif accelerator.is_main_process and (output_dir / CHECKPOINTS).exists():
        shutil.rmtree(output_dir / CHECKPOINTS)
    accelerator.wait_for_everyone()
    if config.tracker == "tensorboard":
        state.setdefault("log_run", stamp())  # output_dir/logs/<date and time>; a resumed run keeps its own
        accelerator.init_trackers(state["log_run"])

    start = time.perf_counter() - state["seconds"]
    bar = tqdm(total=total_steps, initial=state["step"], desc="training", disable=not (progress and
                                                                                     accelerator.is_main_process))
    model.train()
    trainable = [p for p in model.parameters() if p.requires_grad]
    stopped = False
    for epoch in range(state["epoch"], config.epochs):
        train_loader.set_epoch(epoch)
        batches = train_loader
        if state["batches_done"]:
            batches = accelerator.skip_first_batches(train_loader, state["batches_done"])
        for batch in batches:
            with accelerator.accumulate(model):
                loss = model(**batch).loss
                accelerator.backward(loss)
                if accelerator.sync_gradients:
                    accelerator.clip_grad_norm_(trainable, MAX_GRAD_NORM)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad()
            state["batches_done"] += 1
            state["losses"].append(accelerator.gather(loss.detach()).mean().item())
            if accelerator.sync_gradients:
                state["step"] += 1
                accelerator.log({"train/loss": state["losses"][-1], "train/learning_rate": scheduler.get_last_lr()[0]},
                                step=state["step"])
                bar.update(1)
                if state["step"] % config.checkpoint_every == 0 or state["step"] == stop_after_steps:
                    state["seconds"] = time.perf_counter() - start
                    _save_checkpoint(accelerator, output_dir, state, config.keep_checkpoints)
                if state["step"] == stop_after_steps:
                    stopped = True
                    break
        if stopped:
            break
        state["epoch"], state["batches_done"] = epoch + 1, 0
    bar.close()
    if stopped:
        accelerator.end_training()
        return {"stopped_at_step": state["step"], "checkpoint": str(latest_checkpoint(output_dir)),
                "main_process": accelerator.is_main_process}

    record = {"recipe": dataclasses.asdict(config), "base_model": config.model, "labels": summary["labels"],
              "data": summary,
              "processes": accelerator.num_processes,
              "precision": {"name": precision.name, "reason": precision.reason},
              "main_process": accelerator.is_main_process,
              "steps": state["step"], "seconds": round(time.perf_counter() - start, 1),
              "train_losses": [round(x, 6) for x in state["losses"]],
              "train_loss_last_epoch": float(sum(state["losses"][-batches_per_epoch:]) /
                                             max(1, len(state["losses"][-batches_per_epoch:]))),
              "validation": _evaluate(accelerator, model, validation_loader),
              "test": _evaluate(accelerator, model, test_loader),
              "log_dir": str(output_dir / LOGS / state["log_run"]) if "log_run" in state else None}
    accelerator.log({f"{split}/{name}": value for split in ("eval", "test")
                     for name, value in record["validation" if split == "eval" else "test"].items()},
                    step=state["step"])
    if accelerator.is_main_process:
        final = accelerator.unwrap_model(model)
        if config.method == "lora":
            final = final.merge_and_unload()
        save_atomically(final, tokenizer, output_dir / "model",
                        extra_files={RUN_INFO: json.dumps(record, indent=1)})
        write_text_atomically(output_dir / "metrics.json", json.dumps(record, indent=1))
    accelerator.wait_for_everyone()
    accelerator.end_training()  # closes the trackers' files (and ends the process group: nothing collective after it)
    return record
