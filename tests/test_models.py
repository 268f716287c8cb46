"""ftlab.models: zero-shot probabilities and a classifier's probabilities for raw texts."""

import numpy as np
import pytest
import torch

from ftlab import models

TEXTS = ["The crew were wonderful, thank you!", "Two hours late and no word from anyone.",
         "Flight 22 boards at gate 5.", "ok"]


@pytest.fixture(scope="module")
def encoder():
    return models.load_encoder("minilm", device="cpu"), models.load_tokenizer("minilm")


def test_zero_shot_proba_keeps_the_zero_shot_labels_and_sharpens_as_the_temperature_falls(encoder):
    model, tokenizer = encoder
    predicted = models.zero_shot_predict(TEXTS, model, tokenizer, progress=False)
    warm = models.zero_shot_proba(TEXTS, model, tokenizer, temperature=1.0)
    cold = models.zero_shot_proba(TEXTS, model, tokenizer, temperature=0.02)
    for probs in (warm, cold):
        assert probs.shape == (len(TEXTS), 3) and np.allclose(probs.sum(axis=1), 1)
        assert (probs.argmax(axis=1) == predicted).all()
    assert (cold.max(axis=1) > warm.max(axis=1)).all()
    assert warm.max() < 0.5  # cosines differ by far less than 1: at T = 1 every label stays near 1/3
    with pytest.raises(ValueError, match="temperature must be > 0"):
        models.zero_shot_proba(TEXTS, model, tokenizer, temperature=0)


def test_zero_shot_works_for_any_labels_in_the_data_order(encoder):
    model, tokenizer = encoder
    prompts = {"praise": ["Thank you, that was wonderful."], "complaint": ["This was late and nobody told me."]}
    predicted = models.zero_shot_predict(TEXTS[:2], model, tokenizer, prompts, progress=False)
    assert list(predicted) == [0, 1]
    swapped = models.zero_shot_predict(TEXTS[:2], model, tokenizer, prompts, progress=False,
                                       labels=["praise", "complaint"])
    assert list(swapped) == [0, 1]
    with pytest.raises(ValueError, match=r"in this order: \['complaint', 'praise'\]"):
        models.zero_shot_predict(TEXTS, model, tokenizer, prompts, labels=["complaint", "praise"])
    with pytest.raises(ValueError, match="a list of one or more sentences"):
        models.zero_shot_predict(TEXTS, model, tokenizer, {"a": "one sentence", "b": ["another"]})
    with pytest.raises(ValueError, match="in this order"):
        models.zero_shot_predict(TEXTS, model, tokenizer, {"positive": ["x"], "negative": ["y"], "neutral": ["z"]})


def test_classify_proba_is_the_softmax_of_the_logits_whatever_the_batch_size():
    torch.manual_seed(0)
    classifier = models.load_classifier("minilm", device="cpu")
    tokenizer = models.load_tokenizer("minilm")
    probs = models.classify_proba(TEXTS, classifier, tokenizer, batch_size=3)
    one_by_one = models.classify_proba(TEXTS, classifier, tokenizer, batch_size=1)
    with torch.inference_mode():
        enc = tokenizer(TEXTS, padding=True, truncation=True, max_length=64, return_tensors="pt")
        expected = torch.softmax(classifier(**enc).logits, dim=-1).numpy()
    assert probs.shape == (len(TEXTS), 3)
    assert np.allclose(probs, expected, atol=1e-5) and np.allclose(one_by_one, expected, atol=1e-5)
    with pytest.raises(TypeError, match="wrap it"):
        models.classify_proba("one text", classifier, tokenizer)


def test_load_classifier_keeps_the_missing_head_report_out_and_restores_the_log_level(capfd):
    from transformers.utils import logging as hf_logging

    before = hf_logging.get_verbosity()
    models.load_classifier("minilm", device="cpu")
    assert "MISSING" not in capfd.readouterr().err
    assert hf_logging.get_verbosity() == before


def test_predict_logits_gives_the_same_rows_for_texts_and_for_their_tokenized_dataset():
    from datasets import Dataset

    torch.manual_seed(0)
    classifier = models.load_classifier("minilm", device="cpu")
    tokenizer = models.load_tokenizer("minilm")
    texts = TEXTS * 3  # batches of 5 hold texts of different lengths, sorted and put back in order
    from_texts = models.predict_logits(classifier, texts, tokenizer, batch_size=5, progress=False)
    encoded = Dataset.from_dict({"text": texts}).map(lambda b: tokenizer(b["text"], truncation=True, max_length=64),
                                                      batched=True)
    from_dataset = models.predict_logits(classifier, encoded, tokenizer, batch_size=5, progress=False)
    with torch.inference_mode():
        one_by_one = np.concatenate([classifier(**tokenizer([t], return_tensors="pt")).logits.numpy() for t in texts])
    assert from_texts.shape == (len(texts), 3)
    assert np.allclose(from_texts, one_by_one, atol=1e-4) and np.allclose(from_dataset, one_by_one, atol=1e-4)
    assert models.predict_logits(classifier, [], tokenizer, progress=False).shape == (0, 3)


def test_embed_is_unit_length_and_order_preserving(encoder):
    model, tokenizer = encoder
    vectors = models.embed(TEXTS, model, tokenizer, batch_size=2, progress=False)
    single = np.concatenate([models.embed([t], model, tokenizer, progress=False) for t in TEXTS])
    assert vectors.shape == (len(TEXTS), model.config.hidden_size)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5) and np.allclose(vectors, single, atol=1e-5)


def test_cpu_threads_are_one_per_core_unless_omp_num_threads_says_otherwise(monkeypatch):
    import os

    cores = len(os.sched_getaffinity(0))
    before = torch.get_num_threads()
    try:
        monkeypatch.setenv("OMP_NUM_THREADS", "1")
        assert models.set_cpu_threads() == 1
        for unusable in ("0", "two", "-3", ""):
            monkeypatch.setenv("OMP_NUM_THREADS", unusable)
            assert models.set_cpu_threads() == cores, f"OMP_NUM_THREADS={unusable!r} should leave one per core"
        monkeypatch.delenv("OMP_NUM_THREADS")
        assert models.set_cpu_threads() == cores
        assert models.set_cpu_threads(1) == 1, "an explicit count wins over everything"
    finally:
        torch.set_num_threads(before)


@pytest.fixture
def own_accelerate_state():
    """accelerate keeps one process-wide state, and a Trainer in bfloat16 sets it to mixed precision: start and leave
    it unset, so the tests that run after this one in the same process (`ftlab train` in float32) can set their own."""
    from accelerate.state import AcceleratorState

    AcceleratorState._reset_state(reset_partial_state=True)
    yield
    AcceleratorState._reset_state(reset_partial_state=True)


def test_a_model_the_trainer_trained_in_bfloat16_predicts_like_a_copy_loaded_from_its_weights(tmp_path,
                                                                                             own_accelerate_state):
    """On a machine where the course trains in bfloat16, the Trainer (through accelerate) leaves autocast wrapped
    around the trained model's forward; predictions take it off, so the model in memory and its saved copy agree."""
    from datasets import Dataset
    from transformers import (AutoModelForSequenceClassification, BertConfig, BertForSequenceClassification, Trainer,
                              TrainingArguments)

    tokenizer = models.load_tokenizer("minilm")
    torch.manual_seed(0)
    model = BertForSequenceClassification(BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32,
                                                     num_hidden_layers=1, num_attention_heads=2,
                                                     intermediate_size=64, num_labels=3))
    train = Dataset.from_dict({"text": TEXTS * 4, "label": [0, 1, 2, 0] * 4}).map(
        lambda b: tokenizer(b["text"]), batched=True, remove_columns=["text"])
    args = TrainingArguments(tmp_path / "out", bf16=True, use_cpu=True, max_steps=2, per_device_train_batch_size=8,
                             learning_rate=1e-3, report_to=[], save_strategy="no", logging_strategy="no")
    trainer = Trainer(model=model, args=args, train_dataset=train, processing_class=tokenizer)
    trainer.train()
    assert "_original_forward" in vars(trainer.model), "the Trainer no longer wraps the forward: this test is moot"
    trained = models.predict_logits(trainer.model, TEXTS, tokenizer, progress=False)
    assert "_original_forward" not in vars(trainer.model)
    trainer.model.save_pretrained(tmp_path / "saved")
    reloaded = AutoModelForSequenceClassification.from_pretrained(tmp_path / "saved")
    assert np.allclose(trained, models.predict_logits(reloaded, TEXTS, tokenizer, progress=False), atol=1e-6)
