import numpy as np
import pytest

from ftlab.course.checks import lesson03 as checks
from ftlab.course.checks.core import ExerciseCheckError


def good_step(model, batch, optimizer):
    loss = model(**batch).loss
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()
    return loss.item()


def test_training_step_accepts_a_right_answer(capsys):
    checks.check_training_step(good_step)
    assert "loss on one batch fell" in capsys.readouterr().out


@pytest.mark.parametrize("bad, message", [
    (lambda m, b, o: m(**b).loss, "Python float"),
    (lambda m, b, o: (m(**b).loss.backward(), o.zero_grad(), 0.0)[2], "returned loss"),
])
def test_training_step_rejects_wrong_answers(bad, message):
    with pytest.raises(ExerciseCheckError, match=message):
        checks.check_training_step(bad)


def test_training_step_needs_the_step_and_the_zeroing():
    def no_step(model, batch, optimizer):
        loss = model(**batch).loss
        loss.backward()
        optimizer.zero_grad()
        return loss.item()

    def no_zero(model, batch, optimizer):
        loss = model(**batch).loss
        loss.backward()
        optimizer.step()
        return loss.item()

    with pytest.raises(ExerciseCheckError, match="optimizer.step"):
        checks.check_training_step(no_step)
    with pytest.raises(ExerciseCheckError, match="zero_grad"):
        checks.check_training_step(no_zero)


def test_unfinished_exercise_says_so():
    def stub(*args):
        raise NotImplementedError("Exercise 1")

    with pytest.raises(ExerciseCheckError, match="not written yet"):
        checks.check_training_step(stub)


def lr_at(step, total, warmup, peak):
    if step < warmup:
        return peak * step / warmup
    return peak * max(0.0, (total - step) / (total - warmup))


def test_linear_warmup():
    checks.check_linear_warmup(lr_at)
    with pytest.raises(ExerciseCheckError, match="warm-up"):
        checks.check_linear_warmup(lambda s, t, w, p: p * max(0.0, (t - s) / (t - w)))
    with pytest.raises(ExerciseCheckError, match="decay"):
        checks.check_linear_warmup(lambda s, t, w, p: p * s / w if s < w else p)


def share(lengths, batches):
    lengths = np.asarray(lengths)
    computed = sum(len(b) * lengths[b].max() for b in batches)
    return 1 - sum(lengths[b].sum() for b in batches) / computed


def test_padding_share():
    checks.check_padding_share(share)
    with pytest.raises(ExerciseCheckError, match="own\\* longest"):
        checks.check_padding_share(lambda lengths, batches: 1 - sum(lengths) / (len(lengths) * max(lengths)))


def test_freeze_body():
    def freeze(model):
        for name, p in model.named_parameters():
            p.requires_grad = name.startswith("classifier.")
        return sum(p.numel() for p in model.parameters() if p.requires_grad)

    checks.check_freeze_body(freeze)

    def freeze_everything(model):
        for p in model.parameters():
            p.requires_grad = False
        return 0

    with pytest.raises(ExerciseCheckError, match="nothing is trainable"):
        checks.check_freeze_body(freeze_everything)
    with pytest.raises(ExerciseCheckError, match="still trainable"):
        checks.check_freeze_body(lambda model: 0)
