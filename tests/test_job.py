"""`ftlab train`: configs, checkpoints, resuming after a kill, and 2 processes against 1."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ftlab.training import job

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """A 2-layer BERT with random weights and no dropout, saved with the course tokenizer: fast and deterministic."""
    from transformers import BertConfig, BertForSequenceClassification

    from ftlab.models import load_tokenizer

    folder = tmp_path_factory.mktemp("tiny-bert")
    tokenizer = load_tokenizer("minilm")
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                        num_labels=3)
    BertForSequenceClassification(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def settings(model, out, **extra):
    base = dict(model=str(model), n_train=96, n_eval=48, max_length=32, epochs=2, batch_size=8,
                learning_rate=1e-3, checkpoint_every=4, output_dir=str(out))
    base.update(extra)
    return [f"{k}={v}" for k, v in base.items()]


def flags(settings_list):
    return [part for item in settings_list for part in ("--set", item)]


def cli(args, **kwargs):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    return subprocess.run([sys.executable, "-m", "ftlab.cli", "train", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, **kwargs)


def test_the_shipped_config_loads_and_overrides_apply():
    config = job.load_config(ROOT / "configs" / "sentiment-quick.yaml", ["epochs=3", "method=lora"])
    assert config.epochs == 3 and config.method == "lora" and config.learning_rate == pytest.approx(2e-4)


def test_the_lora_config_holds_lesson_08s_recipe():
    config = job.load_config(ROOT / "configs" / "sentiment-lora.yaml")
    assert (config.method, config.lora_r, config.lora_alpha, config.epochs) == ("lora", 16, 32, 4)
    assert config.learning_rate == pytest.approx(40 * 1e-4), "LoRA's factor × the standard profile's rate"
    assert sorted(config.lora_targets) == ["query", "value"]


def test_bad_configs_are_refused_with_the_reason(tmp_path):
    with pytest.raises(ValueError, match=r"unknown setting\(s\) \['epoch'\]"):
        job.load_config(None, ["epoch=3"])
    with pytest.raises(ValueError, match="(?s)epochs must be a whole number.*method must be one of"):
        job.load_config(None, ["epochs=0", "method=magic"])
    with pytest.raises(ValueError, match="name=value"):
        job.load_config(None, ["epochs"])
    with pytest.raises(FileNotFoundError, match="configs/"):
        job.load_config(tmp_path / "missing.yaml")
    listed = tmp_path / "list.yaml"
    listed.write_text("- epochs: 2\n")
    with pytest.raises(ValueError, match="name: value"):
        job.load_config(listed)


def test_run_trains_saves_and_checkpoints(tiny_model, tmp_path):
    record = job.run(job.load_config(None, settings(tiny_model, tmp_path)), progress=False)
    assert record["steps"] == 2 * 96 // 8
    assert record["train_losses"][-1] < record["train_losses"][0]
    assert (tmp_path / "model" / "model.safetensors").is_file()
    assert json.loads((tmp_path / "metrics.json").read_text())["test"] == record["test"]
    kept = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert kept == ["step-0000020", "step-0000024"], "the last two checkpoints are kept"
    assert not list((tmp_path / "checkpoints").glob(".incomplete-*"))


@pytest.mark.slow
def test_a_killed_run_resumes_to_the_same_result(tiny_model, tmp_path):
    whole, interrupted = tmp_path / "whole", tmp_path / "interrupted"
    args = settings(tiny_model, whole, epochs=6, checkpoint_every=2)
    done = cli(flags(args))
    assert done.returncode == 0, done.stderr[-2000:]
    reference = json.loads((whole / "metrics.json").read_text())

    args = settings(tiny_model, interrupted, epochs=6, checkpoint_every=2)
    command = [sys.executable, "-m", "ftlab.cli", "train"] + flags(args)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while job.latest_checkpoint(interrupted) is None and time.time() < deadline and process.poll() is None:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    first = job.latest_checkpoint(interrupted)
    assert first is not None, "the run should have written a checkpoint before it was killed"
    assert not (interrupted / "metrics.json").exists(), "the run was killed before it finished"
    killed_at = json.loads((first / "progress.json").read_text())["step"]
    assert killed_at < reference["steps"]

    resumed = cli(flags(args))
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"resuming from {first}" in resumed.stdout + resumed.stderr
    result = json.loads((interrupted / "metrics.json").read_text())
    assert result["steps"] == reference["steps"]
    assert result["train_losses"] == pytest.approx(reference["train_losses"], abs=1e-5)
    for split in ("validation", "test"):
        assert result[split]["loss"] == pytest.approx(reference[split]["loss"], abs=1e-5)
        assert result[split]["macro_f1"] == pytest.approx(reference[split]["macro_f1"])


@pytest.mark.slow
def test_two_processes_match_one(tiny_model, tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    single = cli(flags(settings(tiny_model, one)))
    assert single.returncode == 0, single.stderr[-2000:]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29533",
                "-m", "ftlab.cli", "train"] + flags(settings(tiny_model, two))
    double = subprocess.run(torchrun, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert double.returncode == 0, double.stderr[-3000:]
    a = json.loads((one / "metrics.json").read_text())
    b = json.loads((two / "metrics.json").read_text())
    assert (a["processes"], b["processes"]) == (1, 2)
    assert b["steps"] == a["steps"]
    # The same global batches, split in two: only the order of floating-point sums differs.
    assert b["train_losses"] == pytest.approx(a["train_losses"], abs=1e-4)
    for split in ("validation", "test"):
        assert b[split]["loss"] == pytest.approx(a[split]["loss"], abs=1e-4)
        assert b[split]["accuracy"] == pytest.approx(a[split]["accuracy"])


@pytest.mark.parametrize("method", ["head", "lora"])
def test_methods_train_what_they_say(tiny_model, tmp_path, method):
    from safetensors.torch import load_file

    record = job.run(job.load_config(None, settings(tiny_model, tmp_path, epochs=1, method=method)), progress=False)
    assert record["recipe"]["method"] == method
    before = load_file(tiny_model / "model.safetensors")
    after = load_file(tmp_path / "model" / "model.safetensors")
    assert set(after) == set(before), "a LoRA adapter is merged back: the saved model has the original weights' names"
    changed = {name for name in before if not (before[name] == after[name]).all()}
    in_head = {name for name in changed if name.startswith(("classifier", "bert.pooler"))}
    assert changed and (in_head == changed) == (method == "head"), "head-only training changes the head and nothing else"
    if method == "lora":
        assert any("attention.self.query" in name for name in changed), "the merged adapter changed the queries"
        assert not any("attention.self.key" in name for name in changed), "keys carry no adapter"
