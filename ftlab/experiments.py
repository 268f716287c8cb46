"""Many small fine-tuning runs, compared: the training loop of lesson 03 as one call, and what lesson 06 measures.

`train_classifier` is lesson 03's plain PyTorch loop (length-grouped batches, fused AdamW, linear warm-up and
decay, gradient clipping) with what comparing runs needs: one row of history per epoch, optional early stopping
that restores the best epoch, a model from scratch, any model you built yourself (frozen layers, LoRA).
The helpers after it make the data for an experiment (label noise, a topic) and measure a model (task scores,
the encoder's sentence-similarity skill).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ftlab.config import LABELS, SEED, WARMUP, WEIGHT_DECAY


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

    @property
    def final(self) -> pd.Series:
        """The history row of the weights the model ended with (the best epoch when early stopping restored it)."""
        if self.best_epoch is not None:
            return self.history.set_index("epoch").loc[self.best_epoch]
        return self.history.iloc[-1]


def evaluate_classifier(model, dataset, tokenizer, batch_size: int = 32) -> dict[str, float]:
    """Cross-entropy loss, accuracy and macro-F1 of `model` on a tokenized dataset with a `label` column."""
    from ftlab.evaluate import scores
    from ftlab.train import predict_logits

    logits = predict_logits(model, dataset, tokenizer, batch_size=batch_size, progress=False)
    labels = np.asarray(dataset["label"])
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = float(-log_probs[np.arange(len(labels)), labels].mean())
    return {"loss": loss, **scores(labels, logits.argmax(axis=1))}


def make_optimizer(model, learning_rate: float, weight_decay: float = WEIGHT_DECAY):
    """AdamW over the trainable weights; biases and LayerNorm weights get no weight decay."""
    import torch

    decay, no_decay = [], []
    for name, parameter in model.named_parameters():
        if parameter.requires_grad:
            (no_decay if name.endswith("bias") or "LayerNorm" in name else decay).append(parameter)
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
                     progress: bool = True, desc: str = "training") -> Run:
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
    """
    import torch
    from tqdm.auto import tqdm
    from transformers import AutoModelForSequenceClassification, get_linear_schedule_with_warmup, set_seed

    from ftlab.models import load_classifier
    from ftlab.train import length_grouped_batches, make_collator, model_inputs

    if len(train) == 0:
        raise ValueError("the training set is empty")
    if epochs < 1 or batch_size < 1:
        raise ValueError(f"epochs and batch_size must be at least 1, got {epochs} and {batch_size}")
    if gradient_accumulation < 1 or gradient_accumulation > batch_size:
        raise ValueError(f"gradient_accumulation must be between 1 and batch_size ({batch_size}), "
                         f"got {gradient_accumulation}")
    if autocast not in {None, "bf16", "fp16"}:
        raise ValueError(f"autocast must be None, 'bf16' or 'fp16', got {autocast!r}")
    if monitor not in {"macro_f1", "loss"}:
        raise ValueError(f"monitor must be 'macro_f1' or 'loss', got {monitor!r}")
    if patience is not None and validation is None:
        raise ValueError("early stopping (patience=...) needs a validation set to watch")
    set_seed(seed)
    if model is None:
        model = load_classifier(model_name)
        if from_scratch:
            set_seed(seed)
            model = AutoModelForSequenceClassification.from_config(model.config).to(model.device)
    device = next(model.parameters()).device
    inputs = model_inputs(train)
    lengths = [len(ids) for ids in inputs["input_ids"]]
    collate = make_collator(tokenizer)
    optimizer = make_optimizer(model, learning_rate, weight_decay)
    steps_per_epoch = math.ceil(len(inputs) / batch_size)
    total = steps_per_epoch * epochs
    scheduler = get_linear_schedule_with_warmup(optimizer, math.ceil(warmup * total), total)
    trainable = [p for p in model.parameters() if p.requires_grad]
    precision = {None: None, "bf16": torch.bfloat16, "fp16": torch.float16}[autocast]
    # float16's small range lets small gradients underflow to zero: scale the loss up, and the gradients back down.
    scaler = torch.amp.GradScaler(device.type) if autocast == "fp16" and device.type == "cuda" else None

    def forward(batch):
        if precision is None:
            return model(**batch).loss
        with torch.autocast(device.type, dtype=precision):
            return model(**batch).loss

    rows: list[dict[str, float]] = []
    step_losses: list[float] = []
    best_value, best_epoch, best_state, waited = None, None, None, 0
    start = time.perf_counter()
    bar = tqdm(total=total, desc=desc, disable=not progress, leave=False)
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
            torch.nn.utils.clip_grad_norm_(trainable, max_norm=1.0)
            if scaler is None:
                optimizer.step()
            else:
                scaler.step(optimizer)
                scaler.update()
            scheduler.step()
            optimizer.zero_grad()
            losses.append(loss.item())
            step_losses.append(losses[-1])
            bar.update(1)
        row = {"epoch": epoch, "train_loss": float(np.mean(losses))}
        if validation is not None:
            row.update({f"eval_{k}": v for k, v in evaluate_classifier(model, validation, tokenizer).items()})
        rows.append(row)
        bar.set_postfix({k.replace("eval_", "val "): round(v, 3) for k, v in row.items() if k != "epoch"})
        if patience is not None:
            value = row[f"eval_{monitor}"] * (1 if monitor == "macro_f1" else -1)
            if best_value is None or value > best_value:
                best_value, best_epoch, waited = value, epoch, 0
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            else:
                waited += 1
                if waited >= patience:
                    break
    bar.close()
    seconds = time.perf_counter() - start
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    settings = dict(epochs=epochs, batch_size=batch_size, learning_rate=learning_rate, weight_decay=weight_decay,
                    warmup=warmup, seed=seed, from_scratch=from_scratch, patience=patience, monitor=monitor,
                    gradient_accumulation=gradient_accumulation, autocast=autocast, n_train=len(train))
    return Run(model=model, history=pd.DataFrame(rows), seconds=seconds, examples_seen=epoch * len(inputs),
               best_epoch=best_epoch, stopped_epoch=epoch, settings=settings, step_losses=step_losses)


def early_stopping_epochs(values: Sequence[float], patience: int, higher_is_better: bool = True) -> tuple[int, int]:
    """For per-epoch validation values (epoch 1 first): (the best epoch, the epoch at which training would stop)."""
    values = list(values)
    if not values:
        raise ValueError("values is empty: give one validation value per epoch")
    if patience < 1:
        raise ValueError(f"patience must be at least 1, got {patience}")
    sign = 1 if higher_is_better else -1
    best, waited = 0, 0
    for i in range(1, len(values)):
        if sign * values[i] > sign * values[best]:
            best, waited = i, 0
        else:
            waited += 1
            if waited >= patience:
                return best + 1, i + 1
    return best + 1, len(values)


# ---------------------------------------------------------------------------------------------------
# Making the data for an experiment


def flip_labels(labels: Sequence[int], share: float, seed: int = SEED, n_classes: int = len(LABELS),
                weights: Sequence[float] | None = None) -> np.ndarray:
    """Give `share` of the labels a different, randomly chosen class (label noise), reproducibly.

    `weights` (one per example, non-negative) makes an example's chance of being picked proportional to its
    weight, e.g. 1 - annotator agreement: errors then fall where people also disagreed. Without it every
    example is equally likely to be flipped.
    """
    labels = np.asarray(labels, dtype=int)
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"share must be between 0 and 1, got {share}")
    rng = np.random.default_rng(seed)
    n_flip = int(round(share * len(labels)))
    if weights is None:
        chosen = rng.choice(len(labels), size=n_flip, replace=False)
    else:
        weights = np.asarray(weights, dtype=float)
        if weights.shape != labels.shape or (weights < 0).any() or not np.isfinite(weights).all():
            raise ValueError("weights must be one finite, non-negative number per label")
        if np.count_nonzero(weights) < n_flip:
            raise ValueError(f"only {np.count_nonzero(weights)} examples have a weight above 0, "
                             f"fewer than the {n_flip} to flip")
        chosen = rng.choice(len(labels), size=n_flip, replace=False, p=weights / weights.sum())
    noisy = labels.copy()
    shift = rng.integers(1, n_classes, size=n_flip)  # never the same class again
    noisy[chosen] = (labels[chosen] + shift) % n_classes
    return noisy


def with_labels(dataset, labels: Sequence[int]):
    """The dataset with its `label` column replaced (same length, same class names)."""
    labels = [int(x) for x in labels]
    if len(labels) != len(dataset):
        raise ValueError(f"got {len(labels)} labels for a dataset of {len(dataset)} rows")
    features = dataset.features.copy()
    return dataset.remove_columns("label").add_column("label", labels).cast(features)


# ---------------------------------------------------------------------------------------------------
# The encoder's general skill: sentence similarity judged by people


def lee_corpus() -> tuple[list[str], np.ndarray]:
    """The Lee corpus: 50 short news documents and a 50×50 matrix of mean human similarity ratings (0 to 1).

    It ships with gensim's test data (`pip install gensim`); the files are read, gensim is never imported.
    Only the upper triangle of the matrix is filled: use :func:`lee_pairs`.
    """
    from ftlab.assets import resolve_data

    folder = resolve_data("lee")
    docs = [line.strip() for line in (folder / "lee.cor").read_text(encoding="latin-1").splitlines() if line.strip()]
    ratings = np.loadtxt(folder / "similarities0-1.txt")
    if len(docs) != 50 or ratings.shape != (50, 50):
        raise ValueError(f"{folder}: expected 50 documents and a 50×50 matrix, found {len(docs)} and {ratings.shape}")
    return docs, ratings


def lee_pairs(ratings: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The 1,225 document pairs (i < j) and their human ratings: (i, j, rating)."""
    i, j = np.triu_indices(len(ratings), k=1)
    return i, j, ratings[i, j]


def similarity_skill(encoder, tokenizer, docs: Sequence[str] | None = None, ratings: np.ndarray | None = None,
                     max_length: int = 256) -> float:
    """Pearson correlation between the encoder's cosine similarities and people's ratings on the Lee pairs.

    `encoder` is a bare encoder or a classifier (its encoder body is used); vectors are mean-pooled, the way
    all-MiniLM-L6-v2 was pretrained to compare sentences.
    """
    from ftlab.models import embed

    if docs is None or ratings is None:
        docs, ratings = lee_corpus()
    body = getattr(encoder, "base_model", encoder)
    vectors = embed(list(docs), body, tokenizer, max_length=max_length, progress=False)
    i, j, human = lee_pairs(ratings)
    cosine = np.sum(vectors[i] * vectors[j], axis=1)
    return float(np.corrcoef(cosine, human)[0, 1])


# ---------------------------------------------------------------------------------------------------
# Many runs with one recipe


class Lab:
    """Trains many variants with one recipe, scores each on the same test tweets and keeps the results.

    recipe: the settings of `train_classifier` every run starts from (learning_rate, batch_size, ...).
    min_examples: small training sets get more epochs, so that every run takes at least this many training
        steps' worth of examples (and at least `recipe["epochs"]` epochs): a run on 50 tweets still learns.
    """

    def __init__(self, tokenizer, test, *, recipe: dict, min_examples: int = 0):
        if "label" not in test.column_names or len(test) == 0:
            raise ValueError("test must be a non-empty tokenized dataset with a 'label' column")
        self.tokenizer = tokenizer
        self.test = test
        self.y_test = np.asarray(test["label"])
        self.recipe = dict(recipe)
        self.min_examples = min_examples
        self.runs: dict[str, Run] = {}

    def epochs_for(self, n: int) -> int:
        """Epochs for a training set of `n` examples: the recipe's, or more for a small set."""
        base = int(self.recipe.get("epochs", 2))
        return max(base, math.ceil(self.min_examples / max(n, 1)))

    def fit(self, name: str, train, *, similarity: bool = False, keep_model: bool = False, **changes) -> Run:
        """Train `name` on `train` with the recipe plus `changes`, score it on the test tweets, remember it.

        similarity: also measure the encoder's sentence-similarity skill (`similarity_skill`) afterwards.
        keep_model: keep the trained model in `run.model` (otherwise it is dropped to free memory).
        """
        from ftlab.evaluate import scores
        from ftlab.train import predict_logits

        settings = {**self.recipe, "epochs": self.epochs_for(len(train)), **changes}
        run = train_classifier(train, self.tokenizer, desc=name, **settings)
        run.name = name
        logits = predict_logits(run.model, self.test, self.tokenizer, batch_size=32, progress=False)
        run.test_pred = logits.argmax(axis=1)
        run.test_scores = scores(self.y_test, run.test_pred)
        if similarity:
            run.similarity = similarity_skill(_plain_model(run.model), self.tokenizer)
        if not keep_model:
            run.model = None
        self.runs[name] = run
        extra = "" if run.similarity is None else f", similarity skill {run.similarity:.3f}"
        print(f"{name}: {len(train):,} examples × {run.stopped_epoch} epochs in {run.seconds:.0f} s → "
              f"test macro-F1 {run.test_scores['macro_f1']:.3f}{extra}", flush=True)
        return run

    def table(self) -> pd.DataFrame:
        """One row per run: training size, epochs, seconds, test accuracy and macro-F1, similarity skill."""
        rows = [{"run": r.name, "examples": r.settings["n_train"], "epochs": r.stopped_epoch,
                 "seconds": round(r.seconds, 1), **{k: round(v, 3) for k, v in r.test_scores.items()},
                 "similarity": None if r.similarity is None else round(r.similarity, 3)}
                for r in self.runs.values()]
        return pd.DataFrame(rows).set_index("run")


def _plain_model(model):
    """A LoRA (peft) model with its adapters merged into the weights; any other model unchanged."""
    from ftlab.efficient import merge_lora

    return merge_lora(model) if hasattr(model, "merge_and_unload") else model
