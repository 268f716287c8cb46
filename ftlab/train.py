"""Fine-tuning helpers: fast CPU batching, the Trainer set-up, a live training plot, atomic saving."""

from __future__ import annotations

import inspect
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ftlab.config import RUNS_ENV, SEED, WARMUP, WEIGHT_DECAY, Profile, get_profile

LIVE_PLOT_ENV = "FTLAB_LIVE_PLOT"
MODEL_COLUMNS = ("input_ids", "attention_mask", "token_type_ids", "label")


def make_collator(tokenizer):
    """Pad each batch only to its own longest example (dynamic padding)."""
    from transformers import DataCollatorWithPadding

    return DataCollatorWithPadding(tokenizer)


def training_arguments(output_dir: str | Path, *, learning_rate: float, epochs: float,
                       batch_size: int, seed: int = SEED, group_by_length: bool = True, **overrides: Any):
    """TrainingArguments for a small classification run, with today's argument names.

    Evaluates and logs once per epoch plus a few times within it, saves nothing unless asked
    (`save_strategy`), uses the GPU when there is one, and groups examples of similar length into a
    batch, which cuts the padding a CPU would otherwise compute.
    """
    import torch
    from transformers import TrainingArguments

    params = inspect.signature(TrainingArguments.__init__).parameters
    kwargs: dict[str, Any] = dict(
        output_dir=str(output_dir),
        learning_rate=learning_rate,
        num_train_epochs=epochs,
        per_device_train_batch_size=batch_size,
        per_device_eval_batch_size=max(64, batch_size),
        weight_decay=WEIGHT_DECAY,
        warmup_steps=WARMUP,  # a float below 1 is a share of the training steps in transformers 5
        eval_strategy="epoch",
        logging_strategy="steps",
        logging_steps=10,
        save_strategy="no",
        report_to="none",
        seed=seed,
        data_seed=seed,
        use_cpu=not torch.cuda.is_available(),
        dataloader_num_workers=0,
    )
    if group_by_length:
        # transformers >= 5.x names it train_sampling_strategy; earlier releases had group_by_length.
        if "train_sampling_strategy" in params:
            kwargs["train_sampling_strategy"] = "group_by_length"
        else:
            kwargs["group_by_length"] = True
    kwargs.update(overrides)
    unknown = [k for k in kwargs if k not in params]
    if unknown:
        raise TypeError(f"TrainingArguments has no argument(s) {unknown} in this transformers version")
    return TrainingArguments(**kwargs)


# ---------------------------------------------------------------------------------------------------
# Live training plot


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython

        shell = get_ipython()
    except ImportError:
        return False
    return shell is not None and shell.__class__.__name__ in {"ZMQInteractiveShell", "Shell"}


def live_plot_enabled() -> bool:
    """Draw a live plot only in a notebook and unless FTLAB_LIVE_PLOT=0 (tests set it to print text)."""
    setting = os.environ.get(LIVE_PLOT_ENV, "").strip().lower()
    if setting in {"0", "false", "no", "off"}:
        return False
    return _in_notebook()


class TrainingHistory:
    """Records training and validation metrics and shows them live: a plot in a notebook, text elsewhere.

    Use it as a Trainer callback (`callbacks=[history.callback()]`) or call `log(...)` from your own loop.
    """

    def __init__(self, metric: str = "macro_f1", live: bool | None = None, min_interval_s: float = 5.0):
        self.metric = metric
        self.rows: list[dict[str, float]] = []
        self.live = live_plot_enabled() if live is None else live
        self.min_interval_s = min_interval_s
        self._handle = None
        self._last_draw = 0.0

    def log(self, step: int, epoch: float, **values: float) -> None:
        """Record values (e.g. train_loss=…, eval_loss=…, eval_macro_f1=…) at a training step."""
        row = {"step": int(step), "epoch": float(epoch)}
        row.update({k: float(v) for k, v in values.items() if v is not None})
        self.rows.append(row)
        is_eval = any(k.startswith("eval_") for k in values)
        if self.live:
            if is_eval or time.monotonic() - self._last_draw >= self.min_interval_s:
                self._draw()
        elif is_eval:
            text = ", ".join(f"{k} {v:.4f}" for k, v in row.items() if k not in {"step", "epoch"})
            print(f"epoch {row['epoch']:.2f} (step {row['step']}): {text}", flush=True)

    def frame(self) -> pd.DataFrame:
        """The history as a table, one row per logged step."""
        return pd.DataFrame(self.rows)

    def _draw(self) -> None:
        import matplotlib.pyplot as plt
        from IPython.display import display

        ax_pair = plot_history(self.frame(), metric=self.metric)
        fig = ax_pair[0].figure
        if self._handle is None:
            self._handle = display(fig, display_id=True)
        else:
            self._handle.update(fig)
        plt.close(fig)
        self._last_draw = time.monotonic()

    def callback(self):
        """A transformers TrainerCallback that feeds the Trainer's logs into this history."""
        from transformers import TrainerCallback

        history = self

        class _HistoryCallback(TrainerCallback):
            def on_log(self, args, state, control, logs=None, **kwargs):
                logs = dict(logs or {})
                values = {}
                if "loss" in logs:
                    values["train_loss"] = logs["loss"]
                values.update({k: v for k, v in logs.items() if k.startswith("eval_")
                               and not k.endswith(("runtime", "per_second"))})
                if values:
                    history.log(state.global_step, state.epoch or 0.0, **values)

        return _HistoryCallback()


def plot_history(frame: pd.DataFrame, metric: str = "macro_f1"):
    """Two panels: train and validation loss against epoch, and the validation metric."""
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.2))
    if "train_loss" in frame:
        part = frame.dropna(subset=["train_loss"])
        left.plot(part["epoch"], part["train_loss"], label="train loss", alpha=0.8)
    if "eval_loss" in frame:
        part = frame.dropna(subset=["eval_loss"])
        left.plot(part["epoch"], part["eval_loss"], "o-", label="validation loss")
    left.set(xlabel="epoch", ylabel="cross-entropy loss", title="Loss")
    left.legend()
    column = f"eval_{metric}"
    if column in frame:
        part = frame.dropna(subset=[column])
        right.plot(part["epoch"], part[column], "o-", color="tab:green")
    right.set(xlabel="epoch", ylabel=metric.replace("_", "-"), title=f"Validation {metric.replace('_', '-')}")
    fig.tight_layout()
    return left, right


# ---------------------------------------------------------------------------------------------------
# Predictions


def predict_logits(model, dataset, tokenizer, batch_size: int = 64, progress: bool = True) -> np.ndarray:
    """Logits of `model` for a tokenized dataset (columns input_ids, attention_mask), in dataset order."""
    import torch
    from tqdm.auto import tqdm

    collate = make_collator(tokenizer)
    device = next(model.parameters()).device
    keep = [c for c in ("input_ids", "attention_mask", "token_type_ids") if c in dataset.column_names]
    lengths = np.array([len(ids) for ids in dataset["input_ids"]])
    order = np.argsort(lengths, kind="stable")  # similar lengths together: less padding
    out = np.zeros((len(dataset), model.config.num_labels), dtype=np.float32)
    model.eval()
    with torch.inference_mode():
        for start in tqdm(range(0, len(order), batch_size), desc="predicting", disable=not progress):
            idx = order[start:start + batch_size]
            batch = collate([{k: dataset[int(i)][k] for k in keep} for i in idx])
            logits = model(**{k: v.to(device) for k, v in batch.items()}).logits
            out[idx] = logits.float().cpu().numpy()
    return out


# ---------------------------------------------------------------------------------------------------
# What fine-tuning changed


def weight_change(before: dict[str, Any], model) -> pd.DataFrame:
    """Relative change ‖W_after − W_before‖ / ‖W_before‖ of every weight matrix, grouped by block.

    `before` is a copy of the state dict taken before training: {k: v.clone() for k, v in model.state_dict().items()}.
    """
    rows = []
    for name, after in model.state_dict().items():
        if name not in before or after.ndim < 2 or not after.is_floating_point():
            continue
        start = before[name].float()
        change = (after.float().cpu() - start.cpu()).norm() / start.norm().clamp(min=1e-12)
        rows.append({"parameter": name, "block": _block_of(name), "relative_change": float(change)})
    return pd.DataFrame(rows)


def _block_of(name: str) -> str:
    parts = name.split(".")
    if "layer" in parts:
        return f"layer {parts[parts.index('layer') + 1]}"
    for key in ("embeddings", "pooler", "classifier"):
        if key in parts:
            return key
    return parts[0]


# ---------------------------------------------------------------------------------------------------
# Saving without ever leaving a half-written model behind


def save_atomically(model, tokenizer, path: str | Path, extra_files: dict[str, str] | None = None) -> Path:
    """Save model and tokenizer (safetensors) into `path` so that `path` is always either the old or the new model.

    Everything is written into a temporary folder next to `path` first; only a complete folder is renamed
    into place. If anything fails on the way, the previous folder at `path` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.saving-", dir=path.parent))
    try:
        model.save_pretrained(staging, safe_serialization=True) if _accepts(model.save_pretrained, "safe_serialization") \
            else model.save_pretrained(staging)
        if tokenizer is not None:
            tokenizer.save_pretrained(staging)
        for filename, text in (extra_files or {}).items():
            (staging / filename).write_text(text, encoding="utf-8")
        if not any(staging.glob("*.safetensors")):
            raise RuntimeError(f"saving produced no .safetensors file in {staging}")
        old = None
        if path.exists():
            old = path.parent / f".{path.name}.old-{os.getpid()}"
            os.replace(path, old)
        try:
            os.replace(staging, path)
        except BaseException:
            if old is not None:  # put the previous model back where it was
                os.replace(old, path)
            raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return path


def _accepts(function, argument: str) -> bool:
    try:
        return argument in inspect.signature(function).parameters
    except (TypeError, ValueError):
        return False


# ---------------------------------------------------------------------------------------------------
# Batching for speed


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


# ---------------------------------------------------------------------------------------------------
# The lesson-03 recipe as one call, for the lessons after it


def fine_tune(encoded, tokenizer, model_name: str = "minilm", *, epochs: float, batch_size: int,
              learning_rate: float, seed: int = SEED, from_scratch: bool = False,
              history: TrainingHistory | None = None, output_dir: str | Path | None = None, **overrides: Any):
    """Fine-tune `model_name` on encoded["train"], evaluating on encoded["validation"] each epoch.

    `encoded` is a tokenized DatasetDict (see `ftlab.data.tokenize`). With `from_scratch=True` the same
    network starts from random weights instead of the pretrained ones. Returns the transformers Trainer
    (its `.model` is the fine-tuned model, `.state.log_history` the logs).
    """
    from transformers import AutoModelForSequenceClassification, Trainer, set_seed

    from ftlab.evaluate import trainer_metrics
    from ftlab.models import load_classifier

    set_seed(seed)
    model = load_classifier(model_name)
    if from_scratch:
        set_seed(seed)
        model = AutoModelForSequenceClassification.from_config(model.config).to(model.device)
    out = Path(output_dir) if output_dir else Path(tempfile.mkdtemp(prefix="ftlab-trainer-"))
    has_validation = "validation" in encoded
    overrides.setdefault("eval_strategy", "epoch" if has_validation else "no")
    args = training_arguments(out, learning_rate=learning_rate, epochs=epochs, batch_size=batch_size, seed=seed,
                              **overrides)
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=model_inputs(encoded["train"]),
        eval_dataset=sort_by_length(model_inputs(encoded["validation"])) if has_validation else None,
        data_collator=make_collator(tokenizer),
        processing_class=tokenizer,
        compute_metrics=trainer_metrics,
        callbacks=[history.callback()] if history is not None else None,
    )
    trainer.train()
    return trainer


def runs_dir(profile: Profile | str | None = None) -> Path:
    """The folder where lessons keep trained models for this profile ($FTLAB_RUNS_DIR or ~/.cache/ftlab/runs)."""
    profile = profile if isinstance(profile, Profile) else get_profile(profile)
    default = Path.home() / ".cache" / "ftlab" / "runs"
    return Path(os.environ.get(RUNS_ENV, default)).expanduser() / profile.name


FINETUNED = "03_finetuned"
RUN_INFO = "ftlab_run.json"


def finetuned_model(profile: Profile | str | None = None, retrain: bool = False):
    """The model lesson 03 fine-tunes for this profile: loaded from the runs folder, or trained and saved there.

    Returns (model, tokenizer, info) where info records the recipe and the validation scores. A saved model
    whose recipe differs from the current one (another profile size, learning rate, …) is trained again.
    """
    import json

    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from ftlab import data
    from ftlab.models import load_tokenizer, pick_device

    profile = profile if isinstance(profile, Profile) else get_profile(profile)
    folder = runs_dir(profile) / FINETUNED
    info_file = folder / RUN_INFO
    if not retrain and info_file.is_file():
        info = json.loads(info_file.read_text(encoding="utf-8"))
        if info.get("recipe") == _recipe(profile):
            model = AutoModelForSequenceClassification.from_pretrained(folder).to(pick_device())
            return model, AutoTokenizer.from_pretrained(folder), info
    tokenizer = load_tokenizer(profile.model)
    encoded = data.tokenize(data.load_tweets(profile), tokenizer, profile.max_length)
    trainer = fine_tune(encoded, tokenizer, profile.model, epochs=profile.epochs, batch_size=profile.batch_size,
                        learning_rate=profile.learning_rate, output_dir=runs_dir(profile) / "trainer-output")
    path = save_finetuned(trainer.model, tokenizer, profile, trainer.evaluate())
    return trainer.model, tokenizer, json.loads((path / RUN_INFO).read_text(encoding="utf-8"))


def _recipe(profile: Profile) -> dict:
    return {"profile": profile.as_dict(), "weight_decay": WEIGHT_DECAY, "warmup": WARMUP, "seed": SEED}


def save_finetuned(model, tokenizer, profile: Profile, validation_scores: dict[str, float]) -> Path:
    """Save a model trained with the lesson-03 recipe where `finetuned_model` finds it, with its recipe and scores."""
    import json

    info = {"recipe": _recipe(profile), "base_model": profile.model,
            "validation": {k: float(v) for k, v in validation_scores.items() if k.startswith("eval_")}}
    return save_atomically(model, tokenizer, runs_dir(profile) / FINETUNED,
                           extra_files={RUN_INFO: json.dumps(info, indent=1)})
