"""ftlab.training.efficient: the four ways of fine-tuning, LoRA merging, memory measurement; accumulation and autocast."""

import time

import numpy as np
import pytest
import torch
from transformers import BertConfig, BertForSequenceClassification

from ftlab import models, training
from ftlab.training import efficient
from test_training_loop import TinyTokenizer, tiny_dataset, tiny_model


def bert(layers=4, dropout=0.1, seed=0):
    torch.manual_seed(seed)
    config = BertConfig(vocab_size=40, hidden_size=16, num_hidden_layers=layers, num_attention_heads=2,
                        intermediate_size=32, num_labels=3, hidden_dropout_prob=dropout,
                        attention_probs_dropout_prob=dropout)
    return BertForSequenceClassification(config)


def trainable_names(model):
    return {name for name, p in model.named_parameters() if p.requires_grad}


def test_full_trains_everything_and_head_only_the_head():
    assert trainable_names(efficient.prepare(bert(), "full")) == {n for n, _ in bert().named_parameters()}
    head = trainable_names(efficient.prepare(bert(), "head"))
    assert head and all(n.startswith(("bert.pooler", "classifier")) for n in head)
    assert {"classifier.weight", "bert.pooler.dense.weight"} <= head


def test_lower_frozen_freezes_the_embeddings_and_the_lower_half():
    names = trainable_names(efficient.prepare(bert(layers=4), "lower_frozen"))
    assert not any("embeddings" in n or ".layer.0." in n or ".layer.1." in n for n in names)
    assert any(".layer.2." in n for n in names) and any(".layer.3." in n for n in names)
    assert "classifier.weight" in names


@pytest.mark.parametrize("rank, targets", [(2, ("query", "value")), (8, ("query", "key", "value"))])
def test_lora_trains_adapters_and_the_head_only(rank, targets):
    model = efficient.prepare(bert(layers=3), "lora", lora_r=rank, lora_targets=targets)
    names = trainable_names(model)
    assert all("lora_" in n or "classifier" in n or "pooler" in n for n in names)
    expected = 3 * len(targets) * 2 * rank * 16 + (16 * 16 + 16) + 16 * 3 + 3
    assert models.count_parameters(model)["trainable"] == expected
    assert list(efficient.trained_parts(model)) == ["LoRA adapters", "pooler", "classifier"]


@pytest.mark.parametrize("method, parts", [
    ("full", ["embeddings", "layer 0", "layer 1", "layer 2", "layer 3", "pooler", "classifier"]),
    ("head", ["pooler", "classifier"]),
    ("lower_frozen", ["layer 2", "layer 3", "pooler", "classifier"]),
])
def test_each_method_trains_the_parts_it_names(method, parts):
    model = efficient.prepare(bert(layers=4), method)
    trained = efficient.trained_parts(model)
    assert list(trained) == parts
    assert sum(trained.values()) == models.count_parameters(model)["trainable"]


def test_bad_methods_and_models_are_refused_with_the_reason():
    with pytest.raises(ValueError, match="method must be one of"):
        efficient.prepare(bert(), "adapters")
    with pytest.raises(ValueError, match="lora_r"):
        efficient.prepare(bert(), "lora", lora_r=0)
    with pytest.raises(TypeError, match="BERT-style"):
        efficient.prepare(torch.nn.Linear(3, 3), "head")
    with pytest.raises(TypeError, match="no LoRA adapters"):
        efficient.merge_lora(bert())


def test_merged_lora_predicts_what_the_adapted_model_predicts():
    model = efficient.prepare(bert(dropout=0.0), "lora", lora_r=4)
    with torch.no_grad():  # move the adapters away from B = 0, as training would
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.5)
    ids = torch.randint(1, 40, (5, 7), generator=torch.Generator().manual_seed(0))
    model.eval()
    merged = efficient.merge_lora(model).eval()
    assert not any("lora" in n for n, _ in merged.named_parameters())
    with torch.no_grad():
        adapted, plain = model(input_ids=ids).logits, merged(input_ids=ids).logits
    assert torch.allclose(adapted, plain, atol=1e-5)
    assert hasattr(model, "peft_config"), "merging works on a copy; the adapted model keeps its adapters"


def test_memory_estimate_counts_16_bytes_per_trainable_weight_and_4_per_frozen_one():
    model = efficient.prepare(bert(), "head")
    n = sum(p.numel() for p in model.parameters())
    t = sum(p.numel() for p in model.parameters() if p.requires_grad)
    estimate = efficient.memory_estimate(model)
    assert estimate["weights"] == pytest.approx(4 * n / 2 ** 20)
    assert estimate["gradients"] == pytest.approx(4 * t / 2 ** 20)
    assert estimate["optimizer state"] == pytest.approx(8 * t / 2 ** 20)
    assert estimate["total"] == pytest.approx((4 * n + 12 * t) / 2 ** 20)


def test_peak_memory_sees_a_short_lived_allocation():
    with efficient.peak_memory("cpu") as memory:
        block = torch.ones(50_000_000)  # 200 MB, freed before the block ends
        time.sleep(0.05)
        del block
    assert memory.rise_mb > 150, memory
    assert memory.peak_mb >= memory.start_mb > 0
    with efficient.peak_memory("cpu") as idle:
        time.sleep(0.02)
    assert idle.rise_mb < memory.rise_mb - 100


def test_step_cost_grows_with_batch_size_and_refuses_bad_shapes():
    model = models.load_classifier("minilm", device="cpu")
    small = efficient.step_cost(model, batch_size=2, length=64, repeats=1)
    large = efficient.step_cost(model, batch_size=48, length=64, repeats=1)
    assert large["memory_mb"] > small["memory_mb"] + 50
    assert large["seconds"] > small["seconds"] > 0
    with pytest.raises(ValueError, match="autocast"):
        efficient.step_cost(model, batch_size=2, length=8, autocast="int4")
    with pytest.raises(ValueError, match="batch_size"):
        efficient.step_cost(model, batch_size=0, length=8)


def test_gradient_accumulation_takes_the_same_steps():
    train = tiny_dataset(48)
    runs = [training.train_classifier(train, TinyTokenizer(), model=bert(layers=1, dropout=0.0), epochs=2,
                                         batch_size=8, learning_rate=3e-3, gradient_accumulation=pieces,
                                         progress=False) for pieces in (1, 4)]
    assert len(runs[0].step_losses) == len(runs[1].step_losses) == 12
    np.testing.assert_allclose(runs[0].step_losses, runs[1].step_losses, atol=1e-5)
    for (name, a), (_, b) in zip(runs[0].model.named_parameters(), runs[1].model.named_parameters()):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4, msg=name)


def test_autocast_trains_and_bad_settings_are_refused():
    run = training.train_classifier(tiny_dataset(32), TinyTokenizer(), model=tiny_model(), epochs=1,
                                       batch_size=8, autocast="bf16", progress=False)
    assert len(run.step_losses) == 4 and np.isfinite(run.step_losses).all()
    with pytest.raises(ValueError, match="autocast"):
        training.train_classifier(tiny_dataset(8), TinyTokenizer(), model=tiny_model(), autocast="fp8")
    with pytest.raises(ValueError, match="gradient_accumulation"):
        training.train_classifier(tiny_dataset(8), TinyTokenizer(), model=tiny_model(), batch_size=4,
                                     gradient_accumulation=5)


def test_lora_shows_no_warning_about_transformers_deprecated_alias():
    """peft reads `is_gradient_checkpointing`, which transformers 5 deprecates; ftlab hides that one FutureWarning.

    Run in a fresh interpreter, as in a lesson's kernel: pytest restores the warning filters after collecting, so a
    filter set when ftlab is imported here would be gone."""
    import subprocess
    import sys

    code = ("from transformers import BertConfig, BertForSequenceClassification\n"
            "from ftlab.training import efficient\n"
            "config = BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,"
            " intermediate_size=32, num_labels=3)\n"
            "efficient.prepare(BertForSequenceClassification(config), 'lora', lora_r=4)\n"
            "import warnings\nwarnings.warn('a FutureWarning still shows', FutureWarning)\n")
    done = subprocess.run([sys.executable, "-W", "default", "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "is_gradient_checkpointing" not in done.stderr
    assert "a FutureWarning still shows" in done.stderr
