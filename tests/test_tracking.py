"""Runs you can look back at: the plain loop, the Trainer and `ftlab train` write TensorBoard files with the expected
scalars, a resumed `ftlab train` run goes on in its own folder, and FTLAB_TRACKER=none writes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ftlab import training
from ftlab.training import job, tracking
from test_job import settings, tiny_model  # noqa: F401  (a fixture)
from test_training_loop import TinyTokenizer, tiny_dataset
from test_training_loop import tiny_model as tiny_bert


@pytest.fixture(autouse=True)
def own_runs_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("FTLAB_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.delenv(tracking.TRACKER_ENV, raising=False)


def test_the_plain_loop_writes_every_step_and_every_epoch():
    run = training.train_classifier(tiny_dataset(48), TinyTokenizer(), model=tiny_bert(),
                                    validation=tiny_dataset(24, 1), epochs=3, batch_size=8, learning_rate=3e-3,
                                    progress=False, run_name="loop test")
    assert run.log_dir is not None and run.log_dir.parent == tracking.logs_dir() / "loop_test"
    losses = tracking.scalar(run.log_dir, "train/loss")
    assert list(losses.index) == list(range(1, 3 * 6 + 1))
    assert np.allclose(losses.to_numpy(), run.step_losses, atol=1e-6)
    f1 = tracking.scalar(run.log_dir, "eval/macro_f1")
    assert list(f1.index) == [6, 12, 18] and np.allclose(f1.to_numpy(), run.history["eval_macro_f1"], atol=1e-6)
    assert set(tracking.read_scalars(run.log_dir)["tag"]) >= {"train/learning_rate", "eval/loss", "eval/accuracy"}


def test_two_runs_of_one_name_are_kept_apart_and_found():
    first = tracking.new_run_dir("same name")
    first.mkdir(parents=True)
    second = tracking.new_run_dir("same name")
    assert first != second and first.parent == second.parent
    for index in range(2):
        training.train_classifier(tiny_dataset(16), TinyTokenizer(), model=tiny_bert(index), epochs=1, batch_size=8,
                                  progress=False, run_name="again")
    runs = tracking.find_runs()
    assert (runs["name"] == "again").sum() == 2
    assert tracking.latest_run("again") == runs[runs["name"] == "again"]["folder"].iloc[-1]


def test_the_trainer_writes_through_transformers_own_callback():
    from datasets import DatasetDict

    from ftlab.models import load_tokenizer

    tokenizer = load_tokenizer("minilm")
    texts = ["great flight", "awful delay", "the plane is blue", "thanks so much", "lost my bag", "boarding now"] * 4
    labels = [2, 0, 1, 2, 0, 1] * 4
    encoded = DatasetDict({name: _encode(tokenizer, texts, labels) for name in ("train", "validation")})
    trainer = training.fine_tune(encoded, tokenizer, "minilm", epochs=2, batch_size=8, learning_rate=1e-4,
                                 run_name="trainer test", logging_steps=1)
    folder = tracking.latest_run("trainer test")
    losses = tracking.scalar(folder, "train/loss")
    assert list(losses.index) == list(range(1, trainer.state.global_step + 1))
    logged = [log["eval_macro_f1"] for log in trainer.state.log_history if "eval_macro_f1" in log]
    assert np.allclose(tracking.scalar(folder, "eval/macro_f1").to_numpy(), logged, atol=1e-6)
    assert not Path(trainer.args.output_dir).exists(), "the empty temporary folder the Trainer was given is removed"


def _encode(tokenizer, texts, labels):
    from datasets import ClassLabel, Dataset

    from ftlab.config import LABELS

    rows = tokenizer(texts, truncation=True, max_length=16)
    data = Dataset.from_dict({"input_ids": rows["input_ids"], "attention_mask": rows["attention_mask"],
                              "label": labels})
    return data.cast_column("label", ClassLabel(names=list(LABELS)))


def test_ftlab_train_writes_its_run_and_a_resumed_run_goes_on_in_it(tiny_model, tmp_path):  # noqa: F811
    config = job.load_config(None, settings(tiny_model, tmp_path / "out", checkpoint_every=3))
    stopped = job.run(config, stop_after_steps=6, progress=False)
    assert stopped["stopped_at_step"] == 6
    record = job.run(config, progress=False)
    logs = tmp_path / "out" / tracking.LOGS
    runs = tracking.find_runs(logs)
    assert len(runs) == 1, f"the resumed run should write into the run it resumes: {list(runs['run'])}"
    assert record["log_dir"] == str(runs["folder"].iloc[0])
    losses = tracking.scalar(record["log_dir"], "train/loss")
    assert list(losses.index) == list(range(1, record["steps"] + 1))
    assert np.allclose(losses.to_numpy(), record["train_losses"], atol=1e-5)
    for split, key in (("eval", "validation"), ("test", "test")):
        assert tracking.scalar(record["log_dir"], f"{split}/macro_f1").iloc[-1] == pytest.approx(
            record[key]["macro_f1"], abs=1e-6)
    assert json.loads((tmp_path / "out" / "metrics.json").read_text())["log_dir"] == record["log_dir"]


def test_tracker_none_writes_nothing(tiny_model, tmp_path, monkeypatch):  # noqa: F811
    record = job.run(job.load_config(None, settings(tiny_model, tmp_path / "quiet", tracker="none", epochs=1)),
                     progress=False)
    assert record["log_dir"] is None and not (tmp_path / "quiet" / tracking.LOGS).exists()
    monkeypatch.setenv(tracking.TRACKER_ENV, "none")
    run = training.train_classifier(tiny_dataset(16), TinyTokenizer(), model=tiny_bert(), epochs=1, batch_size=8,
                                    progress=False)
    assert run.log_dir is None and tracking.find_runs().empty


def test_bad_settings_and_missing_runs_get_clear_errors(tmp_path, monkeypatch):
    monkeypatch.setenv(tracking.TRACKER_ENV, "wandb")
    with pytest.raises(ValueError, match="use tensorboard"):
        tracking.enabled()
    monkeypatch.delenv(tracking.TRACKER_ENV)
    with pytest.raises(ValueError, match="tracker must be one of"):
        job.load_config(None, ["tracker=mlflow"])
    with pytest.raises(FileNotFoundError, match="no TensorBoard event files"):
        tracking.read_scalars(tmp_path)
    with pytest.raises(FileNotFoundError, match="no run called"):
        tracking.latest_run("never trained")
    assert tracking.slug("03 · Trainer / lr 1e-4") == "03_Trainer_lr_1e-4"
