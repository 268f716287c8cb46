"""ftlab.training.loop (the plain training loop, the optimizer, early stopping) and ftlab.labs.pitfalls (label noise, the Lab), with a tiny model."""

import numpy as np
import pytest
import torch
from datasets import ClassLabel, Dataset
from transformers import BatchEncoding, BertConfig, BertForSequenceClassification

from ftlab import training
from ftlab.labs import pitfalls
from ftlab.config import LABELS


class TinyTokenizer:
    """Just enough of a tokenizer for the collator: pads input_ids with 0."""

    pad_token_id = 0
    padding_side = "right"
    model_input_names = ["input_ids", "attention_mask"]

    def pad(self, features, **kwargs):
        width = max(len(f["input_ids"]) for f in features)
        out = {"input_ids": [], "attention_mask": []}
        for f in features:
            gap = width - len(f["input_ids"])
            out["input_ids"].append(list(f["input_ids"]) + [0] * gap)
            out["attention_mask"].append(list(f["attention_mask"]) + [0] * gap)
        if "label" in features[0]:
            out["labels"] = [f["label"] for f in features]
        return BatchEncoding({k: torch.tensor(v) for k, v in out.items()})


def tiny_model(seed=0):
    torch.manual_seed(seed)
    config = BertConfig(vocab_size=40, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, num_labels=len(LABELS))
    return BertForSequenceClassification(config)


def tiny_dataset(n=48, seed=0):
    """Texts whose first token gives the label away: a model can learn them, then memorise noise."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n)
    ids = [[1 + 10 * int(y)] + rng.integers(1, 40, rng.integers(2, 8)).tolist() for y in labels]
    data = Dataset.from_dict({"input_ids": ids, "attention_mask": [[1] * len(x) for x in ids],
                              "label": labels.tolist()})
    return data.cast_column("label", ClassLabel(names=list(LABELS)))


def test_training_learns_a_learnable_task():
    train, test = tiny_dataset(96, seed=0), tiny_dataset(60, seed=1)
    run = training.train_classifier(train, TinyTokenizer(), model=tiny_model(), validation=test, epochs=8,
                                       batch_size=8, learning_rate=3e-3, progress=False)
    assert list(run.history["epoch"]) == list(range(1, 9))
    assert run.history["train_loss"].iloc[-1] < run.history["train_loss"].iloc[0]
    assert run.history["eval_macro_f1"].iloc[-1] > 0.8
    assert len(run.step_losses) == 8 * 12 and run.examples_seen == 8 * 96
    assert run.best_epoch is None and run.stopped_epoch == 8


def test_same_seed_same_run():
    train = tiny_dataset(48)
    runs = [training.train_classifier(train, TinyTokenizer(), model=tiny_model(), epochs=2, batch_size=8,
                                         learning_rate=1e-3, seed=5, progress=False) for _ in range(2)]
    assert runs[0].step_losses == runs[1].step_losses


def test_early_stopping_stops_and_restores_the_best_epoch():
    train = tiny_dataset(48, seed=0)
    # Validation labels that contradict the training pattern: validation loss rises once the model learns it.
    validation = pitfalls.with_labels(tiny_dataset(30, seed=2),
                                         (np.array(tiny_dataset(30, seed=2)["label"]) + 1) % 3)
    model = tiny_model()
    run = training.train_classifier(train, TinyTokenizer(), model=model, validation=validation, epochs=20,
                                       batch_size=8, learning_rate=3e-3, patience=2, monitor="loss", progress=False)
    losses = run.history["eval_loss"].tolist()
    assert run.stopped_epoch < 20
    assert (run.best_epoch, run.stopped_epoch) == training.early_stopping_epochs(losses, 2, higher_is_better=False)
    restored = training.evaluate_classifier(run.model, validation, TinyTokenizer())
    assert restored["loss"] == pytest.approx(min(losses), abs=1e-5)
    assert run.final["eval_loss"] == pytest.approx(min(losses))


def test_weight_decay_is_applied():
    train = tiny_dataset(48)
    norms = {}
    for decay in (0.0, 5.0):
        run = training.train_classifier(train, TinyTokenizer(), model=tiny_model(), epochs=3, batch_size=8,
                                           learning_rate=1e-2, weight_decay=decay, progress=False)
        norms[decay] = run.model.bert.encoder.layer[0].attention.self.query.weight.norm().item()
    assert norms[5.0] < 0.9 * norms[0.0]


def test_the_optimizer_decays_matrices_only_the_same_split_as_the_bert_names_give():
    model = tiny_model()
    optimizer = training.make_optimizer(model, 1e-3, weight_decay=0.1)
    decayed = {id(p) for g in optimizer.param_groups if g["weight_decay"] > 0 for p in g["params"]}
    by_name = {id(p) for name, p in model.named_parameters() if not (name.endswith("bias") or "LayerNorm" in name)}
    assert decayed == by_name and len(decayed) > 0
    assert sum(len(g["params"]) for g in optimizer.param_groups) == len(list(model.parameters()))


@pytest.mark.parametrize("values, patience, higher, expected", [
    ([0.5, 0.6, 0.55, 0.58, 0.7], 2, True, (2, 4)),  # two epochs without beating 0.6: stop at 4, best 2
    ([0.5, 0.6, 0.55, 0.7, 0.65], 2, True, (4, 5)),  # never two in a row: runs to the end, best 4
    ([1.0, 0.8, 0.9, 0.95], 1, False, (2, 3)),  # a loss: lower is better
    ([0.3], 3, True, (1, 1)),
])
def test_early_stopping_tracker(values, patience, higher, expected):
    stopper = training.EarlyStopping(patience, higher_is_better=higher)
    best_flags = []
    for value in values:
        best_flags.append(stopper.update(value))
        if stopper.should_stop:
            break
    assert (stopper.best_epoch, stopper.epochs_seen) == expected
    assert best_flags[expected[0] - 1] and sum(best_flags[expected[0]:]) == 0
    assert training.early_stopping_epochs(values, patience, higher) == expected


def test_frozen_parameters_stay_frozen():
    model = tiny_model()
    for name, parameter in model.named_parameters():
        parameter.requires_grad = name.startswith("classifier")
    before = model.bert.encoder.layer[0].output.dense.weight.detach().clone()
    head = model.classifier.weight.detach().clone()
    training.train_classifier(tiny_dataset(32), TinyTokenizer(), model=model, epochs=1, batch_size=8,
                                 learning_rate=1e-2, progress=False)
    assert torch.equal(model.bert.encoder.layer[0].output.dense.weight, before)
    assert not torch.equal(model.classifier.weight, head)


@pytest.mark.parametrize("kwargs, message", [
    (dict(epochs=0), "at least 1"),
    (dict(monitor="accuracy"), "monitor must be"),
    (dict(patience=2), "needs a validation set"),
])
def test_bad_settings_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        training.train_classifier(tiny_dataset(8), TinyTokenizer(), model=tiny_model(), progress=False, **kwargs)


def test_empty_training_set_and_fully_frozen_model_are_refused():
    with pytest.raises(ValueError, match="empty"):
        training.train_classifier(tiny_dataset(8).select([]), TinyTokenizer(), model=tiny_model(), progress=False)
    model = tiny_model()
    for parameter in model.parameters():
        parameter.requires_grad = False
    with pytest.raises(ValueError, match="no trainable parameters"):
        training.train_classifier(tiny_dataset(8), TinyTokenizer(), model=model, progress=False)


def test_lab_scores_every_run_on_the_same_test_set_and_frees_models():
    test = tiny_dataset(30, seed=3)
    lab = pitfalls.Lab(TinyTokenizer(), test, recipe=dict(learning_rate=3e-3, batch_size=8, epochs=2),
                          min_examples=64)
    assert lab.epochs_for(8) == 8 and lab.epochs_for(200) == 2
    run = lab.fit("small", tiny_dataset(16), model=tiny_model())
    assert run.model is None and run.stopped_epoch == 4 and len(run.test_pred) == 30
    assert set(run.test_scores) == {"accuracy", "macro_f1"}
    kept = lab.fit("kept", tiny_dataset(16), model=tiny_model(1), keep_model=True)
    assert kept.model is not None
    table = lab.table()
    assert list(table.index) == ["small", "kept"] and table.loc["small", "epochs"] == 4
    with pytest.raises(ValueError, match="non-empty tokenized dataset"):
        pitfalls.Lab(TinyTokenizer(), test.select([]), recipe={})


def test_with_labels_replaces_the_labels_and_keeps_the_class_names():
    data = tiny_dataset(10)
    new = pitfalls.with_labels(data, [0] * 10)
    assert new["label"] == [0] * 10 and new.features["label"].names == list(LABELS)
    with pytest.raises(ValueError, match="got 3 labels"):
        pitfalls.with_labels(data, [0, 1, 2])
