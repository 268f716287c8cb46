"""The service on ONNX Runtime: the export is checked against PyTorch, written atomically, reused while the weights
stay the same, and served with the same answers; int8 weights run there only."""

from __future__ import annotations

import json
import os
from collections import Counter

import numpy as np
import onnx
import pytest
from fastapi.testclient import TestClient

from ftlab import cli, serving, training
from ftlab.evaluate import softmax
from ftlab.models import load_tokenizer
from ftlab.serving import onnx_runtime
from test_serving import TEXTS, small_classifier


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer("minilm")


@pytest.fixture()
def model_dir(tmp_path, tokenizer):
    folder = tmp_path / "model"
    training.save_atomically(small_classifier(1), tokenizer, folder)
    return folder


def test_onnx_runtime_gives_pytorchs_probabilities_one_by_one_and_in_batches(model_dir):
    torch_runtime, onnx = serving.Classifier(model_dir), serving.Classifier(model_dir, runtime="onnx")
    texts = TEXTS + ["a much longer text " * 30]  # longer than max_length: both truncate it the same way
    expected = torch_runtime.predict_proba(texts)
    assert np.abs(onnx.predict_proba(texts) - expected).max() < 1e-5
    singles = np.concatenate([onnx.predict_proba([text]) for text in texts])
    assert np.abs(singles - expected).max() < 1e-5
    assert onnx.describe()["runtime"] == "onnx" and torch_runtime.describe()["runtime"] == "torch"


def test_chunks_run_side_by_side_give_the_same_logits_in_the_same_order(model_dir):
    torch_runtime, exported = serving.Classifier(model_dir), serving.Classifier(model_dir, runtime="onnx").onnx
    runner = serving.OnnxLogits(exported.path, torch_runtime.tokenizer, max_length=torch_runtime.max_length, threads=2)
    texts = [f"{text} {'again ' * k}" for k, text in enumerate(TEXTS * 4)]  # 20 texts of many lengths
    whole = runner.logits(texts, batch_size=len(texts))
    assert runner._workers is None, "a single chunk runs in the 2-thread session"
    split = runner.logits(texts, batch_size=3)
    assert runner._workers is not None and runner._workers.qsize() == 2, "7 chunks ran on two 1-thread sessions"
    assert np.abs(split - whole).max() < 1e-5
    assert np.abs(softmax(split) - torch_runtime.predict_proba(texts)).max() < 1e-5


def test_warm_up_makes_the_per_core_sessions_before_the_first_request(model_dir, monkeypatch):
    classifier = serving.Classifier(model_dir, runtime="onnx")
    classifier.onnx.threads = 2  # as on a 2-core machine, whatever this one has
    assert classifier.onnx._workers is None
    classifier.warm_up()
    assert classifier.onnx._workers is not None and classifier.onnx._workers.qsize() == 2
    made = []
    monkeypatch.setattr(classifier.onnx, "_session", lambda threads: made.append(threads))
    probabilities = classifier.predict_proba(TEXTS * 4)
    assert made == [], "the first batch after the warm-up made no session"
    assert np.abs(probabilities[:len(TEXTS)] - classifier.predict_proba(TEXTS)).max() < 1e-5


def test_the_export_is_recorded_next_to_the_weights_and_reused(model_dir):
    serving.Classifier(model_dir, runtime="onnx")
    exported = model_dir / onnx_runtime.ONNX_DIR / "model.onnx"
    record = json.loads((model_dir / onnx_runtime.ONNX_DIR / onnx_runtime.RECORD).read_text())
    assert record["weights"] == onnx_runtime.fingerprint(model_dir)
    check = record["files"]["model.onnx"]
    assert check["largest_logit_difference"] <= onnx_runtime.FLOAT_TOLERANCE and check["same_label"] == 1.0
    before = exported.stat().st_mtime_ns
    serving.Classifier(model_dir, runtime="onnx")
    assert exported.stat().st_mtime_ns == before, "an export made from the same weights is reused"
    assert not [p for p in exported.parent.iterdir() if p.name.endswith(".tmp")]


def test_new_weights_in_the_folder_make_a_new_export(model_dir, tokenizer):
    first = serving.Classifier(model_dir, runtime="onnx").predict_proba(TEXTS)
    training.save_atomically(small_classifier(2), tokenizer, model_dir)
    second = serving.Classifier(model_dir, runtime="onnx").predict_proba(TEXTS)
    assert np.abs(second - serving.Classifier(model_dir).predict_proba(TEXTS)).max() < 1e-5
    assert np.abs(second - first).max() > 1e-3, "the stale export of the first weights must not be served"


def test_an_export_that_does_not_match_is_refused_and_the_good_one_kept(model_dir, monkeypatch):
    serving.Classifier(model_dir, runtime="onnx")
    good = (model_dir / "onnx" / "model.onnx").read_bytes()
    record = model_dir / "onnx" / onnx_runtime.RECORD
    record.write_text(json.dumps({**json.loads(record.read_text()), "weights": "other"}))  # as if re-trained
    monkeypatch.setattr(onnx_runtime, "FLOAT_TOLERANCE", -1.0)  # no export can pass: as if it computed otherwise
    with pytest.raises(serving.ModelFolderError, match=r"differ from PyTorch's .* \(--runtime torch\)"):
        serving.Classifier(model_dir, runtime="onnx")
    assert (model_dir / "onnx" / "model.onnx").read_bytes() == good
    assert not [p for p in (model_dir / "onnx").iterdir() if p.name.endswith(".tmp")]


def test_int8_quantizes_every_matrix_product_and_runs_on_onnx_runtime_only(model_dir):
    full, small = serving.Classifier(model_dir, runtime="onnx"), serving.Classifier(model_dir, int8=True)
    assert small.runtime == "onnx" and small.describe()["int8"]
    assert small.onnx.path.name == "model.int8.onnx"
    float_ops = Counter(node.op_type for node in onnx.load(full.onnx.path).graph.node)
    int8_ops = Counter(node.op_type for node in onnx.load(small.onnx.path).graph.node)
    # Every matrix product of the encoder runs on 8-bit integers (the pooler and the head, Gemm, stay float32).
    assert int8_ops["MatMulInteger"] == float_ops["MatMul"] > 0
    p_full, p_small = full.predict_proba(TEXTS), small.predict_proba(TEXTS)
    assert np.allclose(p_small.sum(1), 1, atol=1e-5) and np.abs(p_full - p_small).max() < 0.05
    with pytest.raises(ValueError, match="int8 weights run on ONNX Runtime"):
        serving.Classifier(model_dir, runtime="torch", int8=True)
    with pytest.raises(ValueError, match="runtime must be one of"):
        serving.Classifier(model_dir, runtime="tensorrt")


def test_a_folder_that_cannot_be_written_gets_its_export_in_the_cache(model_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(onnx_runtime, "cache_dir", lambda: tmp_path / "cache")
    real_access = os.access
    monkeypatch.setattr(onnx_runtime.os, "access", lambda path, mode: False if path == model_dir else
                        real_access(path, mode))
    classifier = serving.Classifier(model_dir, runtime="onnx")
    assert not (model_dir / "onnx").exists()
    assert classifier.onnx.path.is_relative_to(tmp_path / "cache")


def test_the_service_on_onnx_runtime_answers_like_pytorch(model_dir):
    with TestClient(serving.create_app(model_dir, runtime="onnx")) as client:
        answer = client.post("/predict", json={"texts": TEXTS}).json()["predictions"]
        described = client.get("/model").json()
    expected = serving.Classifier(model_dir).predict(TEXTS)
    assert [a["label"] for a in answer] == [e["label"] for e in expected]
    assert described["runtime"] == "onnx" and described["int8"] is False


def test_cli_refuses_int8_on_the_torch_runtime(model_dir, capsys):
    with pytest.raises(SystemExit) as stopped:
        cli.main(["serve", str(model_dir), "--runtime", "torch", "--int8"])
    assert stopped.value.code == 2 and "--runtime onnx" in capsys.readouterr().err
