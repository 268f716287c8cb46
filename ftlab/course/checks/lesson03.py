"""Self-checks for lesson 03's exercises (fine-tuning): each says what is wrong and how to look for it.

Each exercise has a piece of the training loop to write and a prediction to make before running it; the
prediction checks judge the learner's stated number or choice against what the run computes.
"""

from __future__ import annotations

import copy
import math
from typing import Callable, Sequence

import numpy as np

from ftlab.config import WARMUP
from ftlab.course.checks.core import ExerciseCheckError, call_safely, passed, require, tiny_classifier
from ftlab.training import efficient

# How far a predicted loss may be from the measured one, and a predicted share from the computed one.
LOSS_TOLERANCE = 0.1
SHARE_TOLERANCE = 0.2


def _tiny_batch(seed: int = 0) -> dict:
    import torch

    generator = torch.Generator().manual_seed(seed)
    return {"input_ids": torch.randint(1, 60, (8, 6), generator=generator),
            "attention_mask": torch.ones(8, 6, dtype=torch.long),
            "labels": torch.randint(0, 3, (8,), generator=generator)}


def _number(value, what: str) -> float:
    require(isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool),
            f"{what} should be a number, got {type(value).__name__}")
    return float(value)


def check_training_step(training_step: Callable) -> None:
    """Check `training_step(model, batch, optimizer) -> float`: forward, backward, step, zero the gradients."""
    import torch

    model = tiny_classifier()
    batch = _tiny_batch()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    before = model.classifier.weight.detach().clone()
    loss = call_safely(training_step, model, batch, optimizer, what="training_step(model, batch, optimizer)")
    require(isinstance(loss, float), f"training_step should return the loss as a Python float (use loss.item()), "
                                     f"got {type(loss).__name__}")
    twin = tiny_classifier()  # same seed: the weights the learner's model had before the step
    with torch.no_grad():
        first_loss = twin(**batch).loss.item()
    require(abs(loss - first_loss) < 1e-4, f"the returned loss {loss:.4f} is not the loss of the batch before the "
                                          f"update ({first_loss:.4f}): return the loss of the forward pass")
    require(not torch.equal(before, model.classifier.weight), "the weights did not change: call optimizer.step() "
                                                              "after loss.backward()")
    grads = [p.grad for p in model.parameters() if p.grad is not None and p.grad.abs().sum() > 0]
    require(not grads, "the gradients are still there after the step: call optimizer.zero_grad(), or the next "
                       "step adds its gradients to these")
    losses = [call_safely(training_step, model, batch, optimizer, what="training_step") for _ in range(20)]
    require(losses[-1] < first_loss, f"20 more steps on the same batch should lower the loss, but it went from "
                                     f"{first_loss:.3f} to {losses[-1]:.3f}")
    passed(f"your training step works: the loss on one batch fell from {first_loss:.3f} to {losses[-1]:.3f}")


def check_first_loss(predicted_first_loss, training_step: Callable, n_models: int = 5) -> None:
    """Judge the predicted loss of a new 3-label classifier's first step against `training_step` on fresh models."""
    import torch

    predicted = _number(predicted_first_loss, "predicted_first_loss")
    measured = []
    for seed in range(n_models):
        model = tiny_classifier(seed)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
        measured.append(call_safely(training_step, model, _tiny_batch(seed), optimizer, what="training_step"))
    mean = float(np.mean(measured))
    require(abs(predicted - mean) <= LOSS_TOLERANCE,
            f"you predicted a first loss of {predicted:.3f}; {n_models} fresh models gave {mean:.3f} on average. "
            f"Think of the probabilities a head with small random weights gives each of the 3 labels, and the "
            f"cross-entropy (−log of the true label's probability) that follows")
    passed(f"right: a new head gives each label about a third, so the first loss is about −ln(1/3) = "
           f"{math.log(3):.3f}; {n_models} fresh models gave {mean:.3f} on average (you said {predicted:.3f})")


def check_linear_warmup(lr_at: Callable) -> None:
    """Check `lr_at(step, total_steps, warmup_steps, peak_lr)` against transformers' linear schedule."""
    import torch
    from transformers import get_linear_schedule_with_warmup

    total, warmup, peak = 50, 5, 1e-3
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=peak)
    schedule = get_linear_schedule_with_warmup(optimizer, warmup, total)
    for step in range(total + 1):
        expected = optimizer.param_groups[0]["lr"]
        got = call_safely(lr_at, step, total, warmup, peak, what=f"lr_at({step}, {total}, {warmup}, {peak})")
        require(isinstance(got, (int, float)), f"lr_at should return a number, got {type(got).__name__}")
        if abs(got - expected) > 1e-9:
            phase = "warm-up (it should grow linearly from 0)" if step < warmup else \
                "decay (it should fall linearly to 0 at the last step)"
            raise ExerciseCheckError(f"lr_at({step}, total_steps={total}, warmup_steps={warmup}, peak_lr={peak}) "
                                     f"should be {expected:.6g}, got {got:.6g}: look at the {phase}")
        optimizer.step()
        schedule.step()
    passed("your schedule matches transformers' get_linear_schedule_with_warmup at every step")


def schedule_rates(total_steps: int, warmup_share: float = WARMUP) -> list[float]:
    """The learning rate (as a share of the peak) at steps 0 … total_steps of lesson 03's schedule, from transformers."""
    import torch
    from transformers import get_linear_schedule_with_warmup

    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    schedule = get_linear_schedule_with_warmup(optimizer, math.ceil(warmup_share * total_steps), total_steps)
    rates = []
    for _ in range(total_steps + 1):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    return rates


def check_peak_step(predicted_peak_step, total_steps: int) -> None:
    """Judge the predicted step at which lesson 03's schedule peaks, for a run of `total_steps` optimizer steps."""
    require(isinstance(predicted_peak_step, (int, np.integer)) and not isinstance(predicted_peak_step, bool),
            f"predicted_peak_step should be a whole step number, got {predicted_peak_step!r}")
    rates = schedule_rates(total_steps)
    peak = int(np.argmax(rates))
    require(int(predicted_peak_step) == peak,
            f"you predicted the peak at step {predicted_peak_step}, but the rate there is "
            f"{rates[min(max(int(predicted_peak_step), 0), total_steps)]:.2f} of the peak: the warm-up takes "
            f"config.WARMUP ({WARMUP}) of the {total_steps} steps, rounded up to a whole step, and the rate peaks "
            f"where the warm-up ends")
    passed(f"right: of {total_steps} steps, the rate rises for {peak} and peaks at step {peak}; half-way through "
           f"training (step {total_steps // 2}) it is {rates[total_steps // 2]:.0%} of the peak")


def check_padding_share(padding_share: Callable) -> None:
    """Check `padding_share(lengths, batches)`: the share of computed tokens that are padding."""
    cases = [
        ([3, 3, 3, 3], [[0, 1], [2, 3]], 0.0),
        ([1, 3], [[0, 1]], 2 / 6),
        ([1, 3, 2, 2], [[0, 1], [2, 3]], 2 / 10),
        ([5], [[0]], 0.0),
    ]
    for lengths, batches, expected in cases:
        got = call_safely(padding_share, lengths, batches, what=f"padding_share({lengths}, {batches})")
        require(isinstance(got, (int, float)), f"padding_share should return a number, got {type(got).__name__}")
        if abs(got - expected) > 1e-9:
            hint = ("each batch is padded to its *own* longest example, not to the longest overall"
                    if lengths == [1, 3, 2, 2] else "padding = computed tokens − real tokens; computed tokens of a "
                    "batch = its size × its longest length")
            raise ExerciseCheckError(f"padding_share({lengths}, {batches}) should be {expected:.3f}, got {got:.3f}: "
                                     f"{hint}")
    passed("your padding share is right on every case")


def _share(lengths: np.ndarray, batches: Sequence[Sequence[int]]) -> float:
    computed = sum(len(batch) * lengths[list(batch)].max() for batch in batches)
    return float(1 - lengths.sum() / computed)


def check_padding_prediction(lower: str, removed, lengths, random_batches, grouped_batches) -> None:
    """Judge the prediction of which batching pads less (`lower`) and what share of the padding grouping removes."""
    lengths = np.asarray(lengths)
    shares = {"random": _share(lengths, random_batches), "grouped": _share(lengths, grouped_batches)}
    require(lower in shares, f"lower_padding should be 'random' or 'grouped', got {lower!r}")
    predicted = _number(removed, "padding_removed")
    require(0 <= predicted <= 1, f"padding_removed is a share of the random order's padding, from 0 to 1; got "
                                 f"{predicted}")
    truth = min(shares, key=shares.get)
    require(lower == truth, f"you predicted that {lower} batches pad less, but {truth} batches do: "
                            f"{shares['random']:.1%} padding for random batches, {shares['grouped']:.1%} for grouped. "
                            f"Think of how long the longest tweet of a batch is when its tweets are alike in length")
    actual = 1 - shares["grouped"] / shares["random"]
    require(abs(predicted - actual) <= SHARE_TOLERANCE,
            f"you predicted that grouping removes {predicted:.0%} of the padding, it removes {actual:.0%} "
            f"({shares['random']:.1%} → {shares['grouped']:.1%}): "
            + ("a random batch almost always holds one long tweet, so most of its rows are padded a lot"
               if predicted < actual else "grouped batches still differ a little in length"))
    passed(f"right: grouped batches pad less, removing {actual:.0%} of the padding of random batches "
           f"({shares['random']:.1%} → {shares['grouped']:.1%}; you said {predicted:.0%})")


def _head_only_names(model) -> set[str]:
    """The names of the parameters that train under the course's "head only" (`efficient.prepare(..., "head")`)."""
    fresh = copy.deepcopy(model)
    for parameter in fresh.parameters():
        parameter.requires_grad_(True)
    efficient.prepare(fresh, "head")
    return {name for name, p in fresh.named_parameters() if p.requires_grad}


def check_freeze_body(freeze_body: Callable) -> None:
    """Check `freeze_body(model) -> int`: only the head (pooler and classifier) stays trainable; return that count."""
    model = tiny_classifier()
    head = _head_only_names(model)
    count = call_safely(freeze_body, model, what="freeze_body(model)")
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    require(trainable, "nothing is trainable any more: keep requires_grad=True on the pooler's and the "
                       "classifier's parameters")
    require(trainable <= head, f"these body parameters are still trainable: {sorted(trainable - head)[:3]} …: set "
                               f"requires_grad=False on the embeddings and every encoder layer")
    missing = sorted(head - trainable)
    require(not any(".pooler." in name or name.startswith("pooler.") for name in missing),
            f"the pooler must train too — the course's head is the pooler and the classifier (as "
            f"efficient.prepare(model, 'head') sets it up) — but {[n for n in missing if 'pooler' in n]} is frozen")
    require(not missing, f"the head must stay trainable, but {missing} is frozen")
    expected = sum(p.numel() for p in model.parameters() if p.requires_grad)
    require(count == expected, f"freeze_body should return the number of trainable parameters ({expected}), "
                               f"got {count!r}")
    passed(f"only the head (pooler and classifier) is trainable: {expected} parameters of this small model")


def check_head_count(predicted_trainable, model) -> None:
    """Judge the predicted number of weights that train in `model` under "head only", against the model itself."""
    predicted = _number(predicted_trainable, "predicted_trainable")
    head = _head_only_names(model)
    truth = sum(p.numel() for name, p in model.named_parameters() if name in head)
    total = sum(p.numel() for p in model.parameters())
    hidden, labels = model.config.hidden_size, model.config.num_labels
    require(predicted == truth,
            f"you predicted {predicted:,.0f} trainable weights, the head has {truth:,}: the pooler is a "
            f"{hidden} × {hidden} matrix with {hidden} biases, the classifier a {labels} × {hidden} matrix with "
            f"{labels} biases")
    passed(f"right: {truth:,} of {total:,} weights train ({truth / total:.2%}), the pooler's and the classifier's")
