"""Self-checks for lesson 03's exercises (fine-tuning): each says what is wrong and how to look for it."""

from __future__ import annotations

from typing import Callable

from ftlab.course.checks.core import ExerciseCheckError, call_safely, passed, require, tiny_classifier


def _tiny_batch(seed: int = 0) -> dict:
    import torch

    generator = torch.Generator().manual_seed(seed)
    return {"input_ids": torch.randint(1, 60, (8, 6), generator=generator),
            "attention_mask": torch.ones(8, 6, dtype=torch.long),
            "labels": torch.randint(0, 3, (8,), generator=generator)}


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


def check_freeze_body(freeze_body: Callable) -> None:
    """Check `freeze_body(model) -> int`: only the classification head stays trainable; return that count."""
    model = tiny_classifier()
    count = call_safely(freeze_body, model, what="freeze_body(model)")
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    head = {name for name, _ in model.named_parameters() if name.startswith("classifier.")}
    require(trainable, "nothing is trainable any more: keep requires_grad=True on the classifier's parameters")
    require(trainable <= head, f"these body parameters are still trainable: {sorted(trainable - head)[:3]} …: set "
                               f"requires_grad=False on every parameter outside the classifier")
    require(trainable == head, f"the head must stay trainable, but {sorted(head - trainable)} is frozen")
    expected = sum(p.numel() for p in model.parameters() if p.requires_grad)
    require(count == expected, f"freeze_body should return the number of trainable parameters ({expected}), "
                               f"got {count!r}")
    passed(f"only the head is trainable: {expected} parameters of this small model")
