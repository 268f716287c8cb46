"""The plain PyTorch training loop of lesson 03 as one call, and what every training run shares.

`train_classifier` is lesson 03's loop (length-grouped batches, fused AdamW, linear warm-up and decay, gradient
clipping) with what comparing runs needs: one row of history per epoch, early stopping that restores the best
epoch, a model from scratch, any model you built yourself (frozen layers, LoRA), gradient accumulation and
autocast. Each run is written to TensorBoard's files as it trains (`ftlab.training.tracking`). `make_optimizer`,
`EarlyStopping` and `check_autocast` are the recipe's parts that `ftlab train` (`ftlab.training.job`) and lesson 08's
measurements use too.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ftlab.config import MAX_GRAD_NORM, SEED, WARMUP, WEIGHT_DECAY
from ftlab.evaluate import scores_from_logits
from ftlab.models import from_scratch as scratch_copy, load_classifier, predict_logits
from ftlab.training.batching import length_grouped_batches, make_collator, model_inputs
from ftlab.training.tracking import LoopLogger

AUTOCAST = ("bf16", "fp16")


@dataclass
class Run:
    """One finished training run: the model, one history row per epoch, and what it cost."""

    model: Any
    history: pd.DataFrame
    seconds: float
    examples_seen: int
    best_epoch: int | None = None  # the epoch whose weights the model holds when early stopping was on
    stopped_epoch: int | None = None  # the last epoch trained (earlier than planned if early stopping fired)
    settings: dict = field(default_factory=dict)
    step_losses: list[float] = field(default_factory=list)  # the training loss of every optimizer step
    name: str = ""
    test_scores: dict = field(default_factory=dict)  # filled by Lab.fit: accuracy, macro-F1 on the test tweets
    test_pred: np.ndarray | None = None  # predicted label of every test tweet (Lab.fit)
    similarity: float | None = None  # the encoder's similarity skill after training (Lab.fit(similarity=True))
    log_dir: Any = None  # the folder of its TensorBoard files (None when tracking is off)

    @property
    def final(self) -> pd.Series:
        """The history row of the weights the model ended with (the best epoch when early stopping restored it)."""
        if self.best_epoch is not None:
            return self.history.set_index("epoch").loc[self.best_epoch]
        return self.history.iloc[-1]


def evaluate_classifier(model, dataset, tokenizer, batch_size: int = 32) -> dict[str, float]:
    """Cross-entropy loss, accuracy and macro-F1 of `model` on a tokenized dataset with a `label` column."""
    logits = predict_logits(model, dataset, tokenizer, batch_size=batch_size, progress=False)
    return scores_from_logits(logits, dataset["label"])


def make_optimizer(model, learning_rate: float, weight_decay: float = WEIGHT_DECAY):
    """AdamW over the trainable weights; vectors (biases, normalisation scales) get no weight decay.

    Only weight matrices (and embedding tables) are decayed: shrinking a bias or a LayerNorm scale towards zero
    is not a useful prior. Telling them apart by shape rather than by name works for any architecture.
    """
    import torch

    decay, no_decay = [], []
    for parameter in model.parameters():
        if parameter.requires_grad:
            (no_decay if parameter.ndim < 2 else decay).append(parameter)
    if not decay and not no_decay:
        raise ValueError("the model has no trainable parameters: unfreeze at least its classification head")
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    fused = next(model.parameters()).device.type in {"cpu", "cuda"}
    return torch.optim.AdamW([g for g in groups if g["params"]], lr=learning_rate, fused=fused)


def train_classifier(train, tokenizer, *, validation=None, model=None, model_name: str = "minilm",
                     from_scratch: bool = False, epochs: int = 2, batch_size: int = 16,
                     learning_rate: float = 1e-4, weight_decay: float = WEIGHT_DECAY, warmup: float = WARMUP,
                     seed: int = SEED, patience: int | None = None, monitor: str = "macro_f1",
                     gradient_accumulation: int = 1, autocast: str | None = None,
                     progress: bool = True, desc: str = "training", run_name: str | None = None) -> Run:
    """Fine-tune a classifier on the tokenized dataset `train` and score it on `validation` after every epoch.

    model: a classifier you prepared (frozen layers, LoRA, other dropout); by default the pretrained
        `model_name` with a new head, or the same network with random weights if `from_scratch`.
    patience: stop when the validation `monitor` ("macro_f1", higher is better, or "loss", lower is better)
        has not improved for this many epochs, and give the model back the weights of its best epoch.
    gradient_accumulation: split every batch of `batch_size` into this many smaller pieces, run them one after
        the other and add up their gradients before the optimizer step: the same batches and the same updates
        (up to rounding and dropout), with the activation memory of the smaller pieces.
    autocast: "bf16" or "fp16" to run the forward pass in that precision (torch.autocast; float16 on a CUDA GPU
        with loss scaling); None for float32. Measure before you use it: on a CPU without bfloat16 instructions
        it is much slower (lesson 08).
    run_name: the name its TensorBoard files are written under (`ftlab.training.tracking`); by default `desc`.
    """
    import torch
    from tqdm.auto import tqdm
    from transformers import get_linear_schedule_with_warmup, set_seed

    if len(train) == 0:
        raise ValueError("train is empty: pass a tokenized dataset with at least one row (e.g. encoded['train'])")
    if epochs < 1 or batch_size < 1:
        raise ValueError(f"epochs and batch_size must be at least 1, got {epochs} and {batch_size}")
    if gradient_accumulation < 1 or gradient_accumulation > batch_size:
        raise ValueError(f"gradient_accumulation must be between 1 and batch_size ({batch_size}), "
                         f"got {gradient_accumulation}")
    precision = check_autocast(autocast)
    if monitor not in {"macro_f1", "loss"}:
        raise ValueError(f"monitor must be 'macro_f1' or 'loss', got {monitor!r}")
    if patience is not None and validation is None:
        raise ValueError("early stopping (patience=...) needs a validation set to watch: pass validation=...")
    set_seed(seed)
    if model is None:
        model = load_classifier(model_name)
        if from_scratch:
            model = scratch_copy(model, seed)
    device = next(model.parameters()).device
    inputs = model_inputs(train)
    lengths = [len(ids) for ids in inputs["input_ids"]]
    collate = make_collator(tokenizer)
    optimizer = make_optimizer(model, learning_rate, weight_decay)
    steps_per_epoch = math.ceil(len(inputs) / batch_size)
    total = steps_per_epoch * epochs
    scheduler = get_linear_schedule_with_warmup(optimizer, math.ceil(warmup * total), total)
    trainable = [p for p in model.parameters() if p.requires_grad]
    # float16's small range lets small gradients underflow to zero: scale the loss up, and the gradients back down.
    scaler = torch.amp.GradScaler(device.type) if autocast == "fp16" and device.type == "cuda" else None

    def forward(batch):
        if precision is None:
            return model(**batch).loss
        with torch.autocast(device.type, dtype=precision):
            return model(**batch).loss

    rows: list[dict[str, float]] = []
    step_losses: list[float] = []
    stopper = EarlyStopping(patience, higher_is_better=monitor == "macro_f1") if patience is not None else None
    best_state = None
    start = time.perf_counter()
    bar = tqdm(total=total, desc=desc, disable=not progress, leave=False)
    logger = LoopLogger(run_name or desc)
    epoch = 0
    for epoch in range(1, epochs + 1):
        model.train()
        losses = []
        for indices in length_grouped_batches(lengths, batch_size, seed=seed + epoch):
            loss = 0.0
            for piece in np.array_split(np.asarray(indices), gradient_accumulation):
                if len(piece) == 0:
                    continue
                batch = collate([inputs[int(i)] for i in piece]).to(device)
                piece_loss = forward(batch) * (len(piece) / len(indices))
                (piece_loss if scaler is None else scaler.scale(piece_loss)).backward()
                loss += piece_loss.detach()
            if scaler is not None:
                scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(trainable, max_norm=MAX_GRAD_NORM)
            if scaler is None:
                optimizer.step()
            else:
                scaler.step(optimizer)
                scaler.update()
            scheduler.step()
            optimizer.zero_grad()
            losses.append(loss.item())
            step_losses.append(losses[-1])
            logger.log(len(step_losses), {"train/loss": losses[-1], "train/learning_rate": scheduler.get_last_lr()[0]})
            bar.update(1)
        row = {"epoch": epoch, "train_loss": float(np.mean(losses))}
        if validation is not None:
            row.update({f"eval_{k}": v for k, v in evaluate_classifier(model, validation, tokenizer).items()})
        rows.append(row)
        logger.log(len(step_losses), {f"eval/{k[5:]}": v for k, v in row.items() if k.startswith("eval_")})
        bar.set_postfix({k.replace("eval_", "val "): round(v, 3) for k, v in row.items() if k != "epoch"})
        if stopper is not None:
            if stopper.update(row[f"eval_{monitor}"]):
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            if stopper.should_stop:
                break
    bar.close()
    logger.close()
    seconds = time.perf_counter() - start
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    settings = dict(epochs=epochs, batch_size=batch_size, learning_rate=learning_rate, weight_decay=weight_decay,
                    warmup=warmup, seed=seed, from_scratch=from_scratch, patience=patience, monitor=monitor,
                    gradient_accumulation=gradient_accumulation, autocast=autocast, n_train=len(train))
    return Run(model=model, history=pd.DataFrame(rows), seconds=seconds, examples_seen=epoch * len(inputs),
               best_epoch=None if stopper is None else stopper.best_epoch, stopped_epoch=epoch, settings=settings,
               step_losses=step_losses, log_dir=logger.folder)


class EarlyStopping:
    """Watches one validation value per epoch: which epoch was best, and whether to stop now.

    `update(value)` returns True when the epoch just seen is the best so far (keep its weights); `should_stop`
    turns True once `patience` epochs in a row have not beaten the best.
    """

    def __init__(self, patience: int, higher_is_better: bool = True):
        if patience < 1:
            raise ValueError(f"patience must be at least 1, got {patience}")
        self.patience = patience
        self.sign = 1 if higher_is_better else -1
        self.best_value: float | None = None
        self.best_epoch: int | None = None
        self.epochs_seen = 0
        self.waited = 0

    def update(self, value: float) -> bool:
        """Record the next epoch's value; True if it is the best so far."""
        self.epochs_seen += 1
        if self.best_value is None or self.sign * value > self.sign * self.best_value:
            self.best_value, self.best_epoch, self.waited = value, self.epochs_seen, 0
            return True
        self.waited += 1
        return False

    @property
    def should_stop(self) -> bool:
        return self.waited >= self.patience


def early_stopping_epochs(values: Sequence[float], patience: int, higher_is_better: bool = True) -> tuple[int, int]:
    """For per-epoch validation values (epoch 1 first): (the best epoch, the epoch at which training would stop)."""
    values = list(values)
    if not values:
        raise ValueError("values is empty: give one validation value per epoch")
    stopper = EarlyStopping(patience, higher_is_better)
    for value in values:
        stopper.update(value)
        if stopper.should_stop:
            break
    return stopper.best_epoch, stopper.epochs_seen


def check_autocast(autocast: str | None):
    """The torch dtype for an `autocast` setting ("bf16", "fp16" or None for float32); a clear error otherwise."""
    import torch

    if autocast is not None and autocast not in AUTOCAST:
        raise ValueError(f"autocast must be None (float32), 'bf16' or 'fp16', got {autocast!r}")
    return {None: None, "bf16": torch.bfloat16, "fp16": torch.float16}[autocast]
