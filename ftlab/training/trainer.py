"""Fine-tuning with the transformers `Trainer`: its arguments for a small run, the live training plot, one call.

`fine_tune` is lesson 03's Trainer recipe as one call for the lessons after it; `TrainingHistory` records what
the Trainer (or your own loop) logs and draws it live in a notebook, or prints it elsewhere.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

from ftlab.config import LIVE_PLOT_ENV, MAX_GRAD_NORM, SEED, WARMUP, WEIGHT_DECAY, env_flag, in_notebook
from ftlab.evaluate import trainer_metrics
from ftlab.models import from_scratch as scratch_copy, load_classifier, pick_device
from ftlab.training.batching import make_collator, model_inputs, sort_by_length
from ftlab.training.precision import choose_precision
from ftlab.training.tracking import writer as tracking_writer


def training_arguments(output_dir: str | Path, *, learning_rate: float, epochs: float,
                       batch_size: int, seed: int = SEED, group_by_length: bool = True, **overrides: Any):
    """TrainingArguments for a small classification run, with today's argument names.

    Evaluates and logs once per epoch plus a few times within it, saves nothing unless asked
    (`save_strategy`), uses the GPU when there is one, and groups examples of similar length into a
    batch, which cuts the padding a CPU would otherwise compute. It trains in bfloat16 autocast where
    `ftlab.training.precision` measured that faster and close enough on this machine (`bf16=` overrides it).
    """
    from transformers import TrainingArguments

    kwargs: dict[str, Any] = dict(
        output_dir=str(output_dir),
        learning_rate=learning_rate,
        num_train_epochs=epochs,
        per_device_train_batch_size=batch_size,
        per_device_eval_batch_size=max(64, batch_size),
        weight_decay=WEIGHT_DECAY,
        warmup_steps=WARMUP,  # a float below 1 is a share of the training steps
        max_grad_norm=MAX_GRAD_NORM,
        eval_strategy="epoch",
        logging_strategy="steps",
        logging_steps=10,
        save_strategy="no",
        report_to="none",
        seed=seed,
        data_seed=seed,
        use_cpu=pick_device() == "cpu",  # the same device as the plain loop (CUDA, then Apple's MPS)
        dataloader_num_workers=0,
    )
    if group_by_length:
        kwargs["train_sampling_strategy"] = "group_by_length"
    if "bf16" not in overrides and "fp16" not in overrides:
        kwargs["bf16"] = choose_precision(device=pick_device()).autocast == "bf16"
    kwargs.update(overrides)
    return TrainingArguments(**kwargs)


def live_plot_enabled() -> bool:
    """Draw a live plot only in a notebook and unless FTLAB_LIVE_PLOT=0 (tests set it to print text)."""
    return env_flag(LIVE_PLOT_ENV, True) and in_notebook()


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


def fine_tune(encoded, tokenizer, model_name: str = "minilm", *, epochs: float, batch_size: int,
              learning_rate: float, seed: int = SEED, from_scratch: bool = False,
              history: TrainingHistory | None = None, output_dir: str | Path | None = None,
              run_name: str | None = None, **overrides: Any):
    """Fine-tune `model_name` on encoded["train"], evaluating on encoded["validation"] each epoch.

    `encoded` is a tokenized DatasetDict (see `ftlab.data.tokenize`). With `from_scratch=True` the same
    network starts from random weights instead of the pretrained ones. The run's logs are written to TensorBoard's
    files under `run_name` (by default what was trained and its learning rate; `ftlab.training.tracking`, through
    transformers' own `TensorBoardCallback`). Returns the transformers Trainer (its `.model` is the fine-tuned
    model, `.state.log_history` the logs).
    """
    from transformers import Trainer, set_seed
    from transformers.integrations import TensorBoardCallback

    set_seed(seed)
    model = load_classifier(model_name)
    if from_scratch:
        model = scratch_copy(model, seed)
    out = Path(output_dir) if output_dir else Path(tempfile.mkdtemp(prefix="ftlab-trainer-"))
    has_validation = "validation" in encoded
    overrides.setdefault("eval_strategy", "epoch" if has_validation else "no")
    args = training_arguments(out, learning_rate=learning_rate, epochs=epochs, batch_size=batch_size, seed=seed,
                              **overrides)
    callbacks = [history.callback()] if history is not None else []
    board = tracking_writer(run_name or f"{'from scratch' if from_scratch else 'fine-tune'} lr {learning_rate:.0e}")
    if board is not None:
        callbacks.append(TensorBoardCallback(tb_writer=board))
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=model_inputs(encoded["train"]),
        eval_dataset=sort_by_length(model_inputs(encoded["validation"])) if has_validation else None,
        data_collator=make_collator(tokenizer),
        processing_class=tokenizer,
        compute_metrics=trainer_metrics,
        callbacks=callbacks or None,
    )
    try:
        trainer.train()
    finally:
        if not output_dir:
            _remove_if_empty(out)
    return trainer


def _remove_if_empty(folder: Path) -> None:
    """Remove the temporary folder a Trainer was given when it saved nothing there (the course's default)."""
    try:
        folder.rmdir()
    except OSError:
        pass  # something was saved there (a save_strategy the caller asked for): keep it
