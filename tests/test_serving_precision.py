"""The service's precision on PyTorch: the machine's measured choice by default, float32 or bfloat16 autocast when
asked, the same answers within bfloat16's rounding, and one clear error for a combination that cannot work."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient

from ftlab import cli, serving, training
from ftlab.models import load_tokenizer
from ftlab.training import precision
from test_serving import TEXTS, small_classifier


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    import torch

    model = small_classifier(3)
    with torch.no_grad():
        model.classifier.weight.mul_(200)  # a random head gives every label about 1/3: spread the answers apart
    folder = tmp_path_factory.mktemp("precision") / "model"
    training.save_atomically(model, load_tokenizer("minilm"), folder)
    return folder


def test_auto_follows_the_machines_choice(model_dir, monkeypatch):
    monkeypatch.setenv(precision.PRECISION_ENV, "fp32")
    assert serving.Classifier(model_dir).precision == "float32"
    monkeypatch.setenv(precision.PRECISION_ENV, "bf16")
    chosen = serving.Classifier(model_dir)
    assert chosen.autocast == "bf16" and chosen.describe()["precision"] == "bfloat16 autocast"
    assert serving.Classifier(model_dir, precision="fp32").precision == "float32", "an explicit precision wins"


def test_bfloat16_gives_float32s_answers_within_its_rounding(model_dir):
    full = serving.Classifier(model_dir, precision="fp32")
    half = serving.Classifier(model_dir, precision="bf16")
    expected, got = full.predict_proba(TEXTS), half.predict_proba(TEXTS)
    assert got.dtype == np.float32 and np.allclose(got.sum(1), 1, atol=1e-5)
    assert np.abs(got - expected).max() < 0.05
    assert np.abs(got - expected).max() > 0, "bfloat16 autocast should round something: was it on?"
    margin = np.sort(expected, axis=1)[:, -1] - np.sort(expected, axis=1)[:, -2]
    clear = margin > 0.1
    assert clear.sum() >= 2, f"too few texts with a clear answer to compare labels: margins {margin.round(3)}"
    assert (got.argmax(1)[clear] == expected.argmax(1)[clear]).all()


def test_the_service_reports_its_precision(model_dir):
    with TestClient(serving.create_app(model_dir, precision="bf16")) as client:
        assert client.get("/model").json()["precision"] == "bfloat16 autocast"
        assert client.post("/predict", json={"text": TEXTS[0]}).status_code == 200
    with TestClient(serving.create_app(model_dir, int8=True)) as client:
        assert client.get("/model").json()["precision"] == "int8 weights"


def test_impossible_combinations_are_refused(model_dir, capsys):
    with pytest.raises(ValueError, match="precision must be one of"):
        serving.Classifier(model_dir, precision="fp16")
    with pytest.raises(ValueError, match="PyTorch's"):
        serving.Classifier(model_dir, runtime="onnx", precision="bf16")
    with pytest.raises(SystemExit) as stopped:
        cli.main(["serve", str(model_dir), "--int8", "--precision", "bf16"])
    err = capsys.readouterr().err
    assert stopped.value.code == 2 and "bfloat16 autocast" in err and "Traceback" not in err
