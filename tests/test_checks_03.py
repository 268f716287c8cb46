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


def test_first_loss_prediction():
    checks.check_first_loss(1.1, good_step)
    with pytest.raises(ExerciseCheckError, match="you predicted a first loss of 0.000"):
        checks.check_first_loss(0.0, good_step)
    with pytest.raises(ExerciseCheckError, match="you predicted a first loss of 2.303"):
        checks.check_first_loss(2.303, good_step)  # ln 10: as if there were ten labels
    with pytest.raises(ExerciseCheckError, match="should be a number"):
        checks.check_first_loss("1.1", good_step)


def test_the_schedule_peaks_where_the_warm_up_ends():
    rates = checks.schedule_rates(50)
    assert rates[0] == 0.0 and rates[5] == pytest.approx(1.0) and rates[50] == pytest.approx(0.0)
    assert int(np.argmax(rates)) == 5


def test_peak_step_prediction():
    checks.check_peak_step(5, 50)
    checks.check_peak_step(6, 51)  # the warm-up share is rounded up to a whole step
    with pytest.raises(ExerciseCheckError, match="predicted the peak at step 0"):
        checks.check_peak_step(0, 50)
    with pytest.raises(ExerciseCheckError, match="predicted the peak at step 25"):
        checks.check_peak_step(25, 50)
    with pytest.raises(ExerciseCheckError, match="whole step number"):
        checks.check_peak_step(5.0, 50)


def test_padding_prediction():
    lengths = [1, 9, 1, 9, 1, 9, 1, 9]
    random_batches = [[0, 1], [2, 3], [4, 5], [6, 7]]  # every batch holds a short and a long text
    grouped_batches = [[1, 3], [5, 7], [0, 2], [4, 6]]  # no padding at all
    checks.check_padding_prediction("grouped", 1.0, lengths, random_batches, grouped_batches)
    checks.check_padding_prediction("grouped", 0.85, lengths, random_batches, grouped_batches)
    with pytest.raises(ExerciseCheckError, match="random batches pad less, but grouped"):
        checks.check_padding_prediction("random", 1.0, lengths, random_batches, grouped_batches)
    with pytest.raises(ExerciseCheckError, match="removes 30% of the padding, it removes 100%"):
        checks.check_padding_prediction("grouped", 0.3, lengths, random_batches, grouped_batches)
    with pytest.raises(ExerciseCheckError, match="'random' or 'grouped'"):
        checks.check_padding_prediction("sorted", 1.0, lengths, random_batches, grouped_batches)
    with pytest.raises(ExerciseCheckError, match="from 0 to 1"):
        checks.check_padding_prediction("grouped", 90, lengths, random_batches, grouped_batches)


def freeze_head(model):
    for name, p in model.named_parameters():
        p.requires_grad = name.startswith("classifier.") or ".pooler." in name
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def test_freeze_body_keeps_the_pooler_and_the_classifier():
    checks.check_freeze_body(freeze_head)

    def classifier_only(model):
        for name, p in model.named_parameters():
            p.requires_grad = name.startswith("classifier.")
        return sum(p.numel() for p in model.parameters() if p.requires_grad)

    with pytest.raises(ExerciseCheckError, match="the pooler must train too"):
        checks.check_freeze_body(classifier_only)

    def freeze_everything(model):
        for p in model.parameters():
            p.requires_grad = False
        return 0

    with pytest.raises(ExerciseCheckError, match="nothing is trainable"):
        checks.check_freeze_body(freeze_everything)
    with pytest.raises(ExerciseCheckError, match="still trainable"):
        checks.check_freeze_body(lambda model: 0)
    with pytest.raises(ExerciseCheckError, match="should return the number"):
        checks.check_freeze_body(lambda model: freeze_head(model) + 1)


def test_head_count_prediction():
    from ftlab.course.checks.core import tiny_classifier

    model = tiny_classifier()
    hidden, labels = model.config.hidden_size, model.config.num_labels
    right = hidden * hidden + hidden + labels * hidden + labels
    checks.check_head_count(right, model)
    with pytest.raises(ExerciseCheckError, match="the head has"):
        checks.check_head_count(labels * hidden + labels, model)  # the classifier alone
    assert all(p.requires_grad for p in model.parameters()), "the check must not freeze the learner's model"
