"""ftlab.training: batching, the Trainer set-up, the live history, atomic saving, the lesson-03 model cache."""

import numpy as np
import pytest
import torch

from ftlab import evaluate, models, training


def test_scores_macro_f1_weighs_classes_equally():
    y_true = [0] * 8 + [1, 2]
    always_zero = [0] * 10
    s = evaluate.scores(y_true, always_zero)
    assert s["accuracy"] == pytest.approx(0.8)
    assert s["macro_f1"] == pytest.approx((2 * 0.8 / 1.8) / 3)


def test_scores_rejects_bad_shapes():
    with pytest.raises(ValueError, match="same length"):
        evaluate.scores([0, 1], [0])
    with pytest.raises(ValueError, match="empty"):
        evaluate.scores([], [])


def test_trainer_metrics_and_softmax():
    logits = np.array([[2.0, 0.0, 0.0], [0.0, 0.0, 3.0]])
    assert evaluate.trainer_metrics((logits, np.array([0, 2])))["accuracy"] == 1.0
    probs = evaluate.softmax(np.array([[1000.0, 1000.0, 1000.0]]))
    assert np.allclose(probs, 1 / 3)


def test_training_arguments_use_todays_names(tmp_path):
    args = training.training_arguments(tmp_path, learning_rate=1e-4, epochs=2, batch_size=16)
    assert args.eval_strategy == "epoch" and args.report_to in ("none", [], ["none"])
    assert args.learning_rate == 1e-4 and args.per_device_train_batch_size == 16
    with pytest.raises(TypeError, match="evaluation_strategy"):
        training.training_arguments(tmp_path, learning_rate=1e-4, epochs=1, batch_size=8, evaluation_strategy="epoch")


def test_history_prints_text_when_not_live(capsys):
    history = training.TrainingHistory(live=False)
    history.log(10, 0.5, train_loss=1.0)
    history.log(20, 1.0, eval_loss=0.9, eval_macro_f1=0.6)
    out = capsys.readouterr().out
    assert "eval_macro_f1 0.6000" in out and "train_loss" not in out
    frame = history.frame()
    assert list(frame["step"]) == [10, 20]
    left, right = training.plot_history(frame)
    assert left.get_lines() and right.get_lines()


class Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.layer = torch.nn.Linear(4, 4)


def test_weight_change_is_relative_norm():
    model = Tiny()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        model.layer.weight.mul_(1.5)
    table = models.weight_change(before, model)
    assert list(table["parameter"]) == ["layer.weight"]
    assert table["relative_change"].iloc[0] == pytest.approx(0.5, rel=1e-5)


def _tiny_classifier(seed: int):
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(seed)
    config = BertConfig(vocab_size=50, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=16, num_labels=3)
    return BertForSequenceClassification(config)


class BrokenTokenizer:
    def save_pretrained(self, folder):
        raise OSError("disk full")


def test_save_atomically_replaces_a_model_only_when_complete(tmp_path):
    from transformers import AutoModelForSequenceClassification

    target = tmp_path / "model"
    first = _tiny_classifier(0)
    training.save_atomically(first, None, target)
    assert (target / "model.safetensors").is_file() and not list(target.glob("*.bin"))

    with pytest.raises(OSError, match="disk full"):
        training.save_atomically(_tiny_classifier(1), BrokenTokenizer(), target)
    reloaded = AutoModelForSequenceClassification.from_pretrained(target)
    assert torch.equal(reloaded.classifier.weight, first.classifier.weight)
    assert [p.name for p in tmp_path.iterdir()] == ["model"], "a staging folder was left behind"

    second = _tiny_classifier(2)
    training.save_atomically(second, None, target)
    reloaded = AutoModelForSequenceClassification.from_pretrained(target)
    assert torch.equal(reloaded.classifier.weight, second.classifier.weight)
    assert [p.name for p in tmp_path.iterdir()] == ["model"]


def test_length_grouped_batches_cover_everything_once_with_less_padding():
    rng = np.random.default_rng(0)
    lengths = rng.integers(5, 64, size=1000)
    batches = training.length_grouped_batches(lengths, 32, seed=1)
    flat = sorted(i for b in batches for i in b)
    assert flat == list(range(1000))
    assert all(len(b) <= 32 for b in batches)
    random_batches = np.array_split(rng.permutation(1000), len(batches))

    def computed(bs):
        return sum(len(b) * lengths[b].max() for b in bs)

    assert computed(batches) < 0.8 * computed(random_batches)
    assert batches == training.length_grouped_batches(lengths, 32, seed=1)
    assert batches != training.length_grouped_batches(lengths, 32, seed=2)
    with pytest.raises(ValueError, match="batch_size"):
        training.length_grouped_batches(lengths, 0)


def test_sort_by_length_and_model_inputs():
    from datasets import Dataset

    ds = Dataset.from_dict({"input_ids": [[1, 2, 3], [1], [1, 2]], "attention_mask": [[1, 1, 1], [1], [1, 1]],
                            "label": [0, 1, 2], "text": ["a", "b", "c"]})
    assert training.sort_by_length(ds)["label"] == [1, 2, 0]
    assert training.model_inputs(ds).column_names == ["input_ids", "attention_mask", "label"]


def test_runs_dir_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("FTLAB_RUNS_DIR", str(tmp_path))
    assert training.runs_dir("quick") == tmp_path / "quick"


def test_live_history_redraws_one_display(monkeypatch):
    shown = []

    class Handle:
        def update(self, fig):
            shown.append("update")

    def fake_display(fig, display_id=False):
        shown.append("display")
        return Handle()

    import IPython.display

    monkeypatch.setattr(IPython.display, "display", fake_display)
    history = training.TrainingHistory(live=True, min_interval_s=0.0)
    history.log(1, 0.1, train_loss=1.1)
    history.log(2, 0.2, train_loss=1.0)
    history.log(3, 1.0, eval_loss=0.9, eval_macro_f1=0.5)
    assert shown == ["display", "update", "update"]
